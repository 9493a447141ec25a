// Who a caller's GitLab token belongs to (GET /user with that token, never jit's own), and
// GitLab's OpenID Connect discovery document (where its CI ID token keys are published). Used to
// authenticate API callers: short timeouts and one retry, because a caller is waiting, and GitLab
// failures keep their catalogue codes (401/403 refused, 5xx/network unavailable) so the caller of
// this module can answer 401 or 503 — the token itself is in no error, log line or URL.
import { toUser } from './gitlab-mappers';
import { GitlabBadResponse } from './errors';
import { createRequestHandler, type FetchFn, type RetryOptions } from './requester';
import type { Logger } from '@jit/observability';
import type { GitlabUser } from './types';

export interface CallerLookupOptions {
  /** GitLab base URL (no /api/v4). */
  url: string;
  fetch?: FetchFn;
  /** Per-attempt timeout; default 5 s. */
  timeoutMs?: number;
  /** Default: 2 attempts, 100 ms base backoff, at most 1 s. */
  retry?: RetryOptions;
  logger?: Logger;
}

/** GitLab's published OIDC metadata (the fields jit uses). */
export interface OidcDiscovery {
  issuer: string;
  jwksUri: string;
  algorithms: string[];
}

export interface CallerLookup {
  /** The user a token (personal, project, group access token or OAuth token) belongs to. */
  tokenOwner(token: string): Promise<GitlabUser>;
  /** GET /.well-known/openid-configuration. */
  oidcDiscovery(): Promise<OidcDiscovery>;
}

export function createCallerLookup(options: CallerLookupOptions): CallerLookup {
  const base = options.url.replace(/\/+$/, '');
  const handler = createRequestHandler({
    fetch: options.fetch,
    timeoutMs: options.timeoutMs ?? 5000,
    retry: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 1000, ...options.retry },
    logger: options.logger,
  });
  return {
    async tokenOwner(token) {
      // Bearer works for every kind of GitLab token (PRIVATE-TOKEN does not take OAuth tokens)
      const res = await handler('user', { prefixUrl: `${base}/api/v4`, method: 'GET', headers: { authorization: `Bearer ${token}` } });
      return toUser(res.body as never);
    },
    async oidcDiscovery() {
      const res = await handler('.well-known/openid-configuration', { prefixUrl: base, method: 'GET', headers: { accept: 'application/json' } });
      const body = res.body as { issuer?: unknown; jwks_uri?: unknown; id_token_signing_alg_values_supported?: unknown };
      if (typeof body?.issuer !== 'string' || typeof body.jwks_uri !== 'string') throw GitlabBadResponse('GET /.well-known/openid-configuration', 'missing issuer/jwks_uri');
      const algs = Array.isArray(body.id_token_signing_alg_values_supported) ? body.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string') : [];
      return { issuer: body.issuer, jwksUri: body.jwks_uri, algorithms: algs };
    },
  };
}
