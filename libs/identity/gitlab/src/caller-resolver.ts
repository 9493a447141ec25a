// The CallerResolver every API process uses: Bearer header → GitLab token (GET /user, cached) or
// CI ID token (JWT verified against GitLab's published keys), told apart by shape.
import { createCallerLookup, type FetchFn } from '@jit/gitlab';
import { AuthIdTokensDisabled, type CallerResolver } from '@jit/identity-contract';
import type { Logger } from '@jit/observability';
import { MAX_AUTHORIZATION_BYTES, bearerToken, isJwtShaped } from './bearer';
import { createCiIdTokenVerifier } from './ci-id-token-verifier';
import { createCiJobCheck, type GitlabUserStatus } from './ci-job-checks';
import type { CiProjectRule } from '@jit/service';
import { createGitlabTokenResolver, type GitlabTokenResolver } from './gitlab-token-resolver';

export interface CallerResolverOptions {
  gitlabUrl: string;
  /** `aud` of the CI ID tokens accepted; undefined = CI ID tokens are refused. */
  audience?: string;
  /** Whose CI ID tokens are accepted (JIT_OIDC_ALLOWED_PROJECTS, or allowedCiProjects' default); empty = none. */
  allowedProjects?: readonly CiProjectRule[];
  /**
   * GET /users/:id with jit's own GitLab token (the GitLab client's `users.show`): a CI ID token's
   * user must still be active. Without it, CI ID tokens are refused.
   */
  userById?: (id: number) => Promise<GitlabUserStatus>;
  /** JIT_AUTH_CACHE_TTL_MS: how long GitLab's answer about a token is reused. */
  cacheTtlMs: number;
  cacheMax?: number;
  maxHeaderBytes?: number;
  /** Transport for GitLab calls (tests); default global fetch. */
  fetch?: FetchFn;
  logger?: Logger;
}

export interface GitlabCallerResolver extends CallerResolver {
  /** GitLab-token cache hits and misses so far. */
  stats(): { hits: number; misses: number };
}

export function createCallerResolver(options: CallerResolverOptions): GitlabCallerResolver {
  const lookup = createCallerLookup({ url: options.gitlabUrl, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.logger ? { logger: options.logger } : {}) });
  const gitlabToken: GitlabTokenResolver = createGitlabTokenResolver({
    tokenOwner: (token) => lookup.tokenOwner(token),
    cacheTtlMs: options.cacheTtlMs,
    ...(options.cacheMax ? { cacheMax: options.cacheMax } : {}),
  });
  const fetchFn = options.fetch;
  const idToken = options.audience
    ? createCiIdTokenVerifier({
        gitlabUrl: options.gitlabUrl,
        audience: options.audience,
        oidcDiscovery: () => lookup.oidcDiscovery(),
        ...(fetchFn ? { fetch: (url: string, init: RequestInit) => fetchFn(new Request(url, init)) } : {}),
      })
    : undefined;
  const userById = options.userById;
  const jobCheck = userById
    ? createCiJobCheck({ allowedProjects: options.allowedProjects ?? [], userById, cacheTtlMs: options.cacheTtlMs, ...(options.cacheMax ? { cacheMax: options.cacheMax } : {}) })
    : undefined;
  return {
    async resolve(header) {
      const token = bearerToken(header, options.maxHeaderBytes ?? MAX_AUTHORIZATION_BYTES);
      if (isJwtShaped(token)) {
        if (!idToken || !jobCheck) throw AuthIdTokensDisabled();
        const caller = await idToken(token);
        await jobCheck(caller);
        return caller;
      }
      return gitlabToken(token);
    },
    stats: () => gitlabToken.stats(),
  };
}
