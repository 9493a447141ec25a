// A caller's GitLab token → who they are, by asking GitLab (GET /user with that token). Answers are
// cached by the SHA-256 of the token (lru-cache: bounded, with a TTL), so a token is never a key,
// a log field or a stored value; concurrent lookups of one token share one request. A refusal is
// not cached (the next call asks again); neither is a failure.
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { JitError } from '@jit/errors';
import { GitlabForbidden, type GitlabUser } from '@jit/gitlab';
import { AuthTokenRefused, AuthUnavailable, type Caller } from '@jit/identity-contract';

export interface GitlabTokenResolverOptions {
  tokenOwner: (token: string) => Promise<GitlabUser>;
  /** How long GitLab's answer is reused; 0 = ask GitLab on every call. A revoked token is refused at most this long after. */
  cacheTtlMs: number;
  /** Most tokens remembered at once. Default 10 000. */
  cacheMax?: number;
}

export interface GitlabTokenResolver {
  (token: string): Promise<Caller>;
  /** Cache hits and misses so far (bench, tests). */
  stats(): { hits: number; misses: number };
}

export function tokenDigest(token: string): string {
  // one-shot: every authenticated request hashes its token (a Hash object cost ~1 µs more)
  return hash('sha256', token, 'hex');
}

export function createGitlabTokenResolver(options: GitlabTokenResolverOptions): GitlabTokenResolver {
  let hits = 0;
  let misses = 0;
  const lookup = async (token: string): Promise<Caller> => {
    misses += 1;
    let user: GitlabUser;
    try {
      user = await options.tokenOwner(token);
    } catch (err) {
      throw fromGitlab(err);
    }
    if (user.state !== undefined && user.state !== 'active') throw AuthTokenRefused(`the user is ${user.state.slice(0, 32)}`);
    return { username: user.username, userId: user.id, bot: user.bot, via: 'gitlab-token' };
  };
  const cache =
    options.cacheTtlMs > 0
      ? new LRUCache<string, Caller, string>({
          max: options.cacheMax ?? 10_000,
          ttl: options.cacheTtlMs,
          // the token travels as the fetch context only; the key is its digest
          fetchMethod: (_digest, _stale, { context }) => lookup(context),
        })
      : undefined;
  const resolve = (async (token: string) => {
    if (!cache) return lookup(token);
    const digest = tokenDigest(token);
    if (cache.has(digest)) hits += 1;
    const caller = await cache.fetch(digest, { context: token });
    if (!caller) throw AuthUnavailable('GitLab gave no answer');
    return caller;
  }) as GitlabTokenResolver;
  resolve.stats = () => ({ hits, misses });
  return resolve;
}

/** GitLab's answer about a token as our catalogue: 401/403 refused, anything else unavailable (never anonymous). */
function fromGitlab(err: unknown): JitError {
  if (GitlabForbidden.is(err)) {
    const status = Number(err.details?.['status']);
    return AuthTokenRefused(status === 403 ? 'GitLab answered 403: the token lacks the read_user or api scope, or its user is blocked' : 'GitLab answered 401: unknown, expired or revoked token');
  }
  const why = err instanceof JitError ? `${err.code}${err.details?.['status'] ? ` (HTTP ${String(err.details['status'])})` : ''}` : 'no answer from GitLab';
  return AuthUnavailable(`GitLab could not say who this token belongs to: ${why}`, { cause: err });
}
