// What a verified CI ID token must also satisfy before its job is let in:
// - its project (and ref) is one JIT_OIDC_ALLOWED_PROJECTS names: GitLab issues an ID token for
//   jit's audience to any job of any project on the instance (a fork, a personal sandbox, an
//   unprotected branch), so the audience alone says nothing about whose code runs. A rule with a
//   ref glob also needs the ref protected (`ref_protected: "true"`), unless it says `:unprotected`:
//   whoever may push to the project can name a branch to match a glob, not protect it. A ref glob
//   names branches; `refs/tags/<glob>` (or `refs/heads/<glob>`) names tags by their full ref;
// - its user is still active in GitLab: an ID token stays valid until it expires (the job's
//   timeout, up to days), so a user blocked meanwhile would keep it. GitLab is asked for the
//   token's `user_id` (GET /users/:id, with jit's own token), the answer cached for
//   JIT_AUTH_CACHE_TTL_MS, so a blocked, banned or deactivated user is refused at most that long after.
import { LRUCache } from 'lru-cache';
import { minimatch, type MinimatchOptions } from 'minimatch';
import { GitlabNotFound } from '@jit/gitlab';
import { AuthIdTokenInvalid, AuthIdTokenProjectRefused, AuthUnavailable, sameUser, type Caller } from '@jit/identity-contract';
import type { CiProjectRule } from '@jit/service';

// project paths are case-insensitive on GitLab; globs mean only * ** ? (no braces, extglobs, negation)
const PROJECT_GLOB: MinimatchOptions = { nocase: true, nobrace: true, noext: true, nonegate: true, nocomment: true, dot: true };
const REF_GLOB: MinimatchOptions = { ...PROJECT_GLOB, nocase: false };

/**
 * The ref a rule's glob is matched against: a glob that starts with `refs/` is matched against the
 * full ref (`refs/heads/<branch>` or `refs/tags/<tag>`, GitLab's `ref_path`); any other glob names
 * branches only, so a tag named like a protected branch (a tag can point at any commit) does not pass
 * as that branch. A token that does not say which kind its ref is matches no ref glob.
 */
function refSubject(glob: string, ref: string, refType: string | undefined): string | undefined {
  if (glob.startsWith('refs/')) return refType === 'branch' ? `refs/heads/${ref}` : refType === 'tag' ? `refs/tags/${ref}` : undefined;
  return refType === 'branch' ? ref : undefined;
}

/** Whether a job of `projectPath` on `ref` (a branch or tag, protected or not) is one the rules allow. */
export function ciProjectAllowed(rules: readonly CiProjectRule[], projectPath: string, ref: string | undefined, refProtected?: boolean, refType?: string): boolean {
  return rules.some((r) => {
    if (!minimatch(projectPath, r.project, PROJECT_GLOB)) return false;
    if (r.ref === undefined) return true;
    const subject = ref === undefined ? undefined : refSubject(r.ref, ref, refType);
    return subject !== undefined && minimatch(subject, r.ref, REF_GLOB) && (refProtected === true || r.refUnprotected === true);
  });
}

/** A GitLab user as `GET /users/:id` describes them (the fields checked). */
export interface GitlabUserStatus {
  username: string;
  state?: string;
}

export interface CiJobCheckOptions {
  allowedProjects: readonly CiProjectRule[];
  /** GET /users/:id with jit's own token; a JitError with code JIT_ERR_GITLAB_NOT_FOUND when there is none. */
  userById: (id: number) => Promise<GitlabUserStatus>;
  cacheTtlMs: number;
  cacheMax?: number;
}

export type CiJobCheck = (caller: Caller) => Promise<void>;

export function createCiJobCheck(options: CiJobCheckOptions): CiJobCheck {
  const lookup = async (id: number): Promise<GitlabUserStatus | null> => {
    try {
      return await options.userById(id);
    } catch (err) {
      // a deleted user, or one GitLab hides from jit: no job of theirs is let in
      if (GitlabNotFound.is(err)) return null;
      throw AuthUnavailable("GitLab could not say whether the ID token's user is still active", { cause: err });
    }
  };
  const cache =
    options.cacheTtlMs > 0
      ? new LRUCache<number, GitlabUserStatus | { missing: true }>({ max: options.cacheMax ?? 10_000, ttl: options.cacheTtlMs, fetchMethod: async (id) => (await lookup(id)) ?? { missing: true } })
      : undefined;
  const userStatus = async (id: number): Promise<GitlabUserStatus | null> => {
    if (!cache) return lookup(id);
    const hit = await cache.fetch(id);
    return !hit || 'missing' in hit ? null : hit;
  };
  return async (caller) => {
    const ci = caller.ci;
    if (!ci || !ciProjectAllowed(options.allowedProjects, ci.projectPath, ci.ref, ci.refProtected, ci.refType)) throw AuthIdTokenProjectRefused(ci?.projectPath ?? '(none)');
    if (caller.userId === undefined) throw AuthIdTokenInvalid('it names no user_id');
    const user = await userStatus(caller.userId);
    if (!user) throw AuthIdTokenInvalid('its user no longer exists in GitLab');
    if (user.state !== undefined && user.state !== 'active') throw AuthIdTokenInvalid(`its user is ${user.state.slice(0, 32)} in GitLab`);
    // a renamed user's old token must not pass as whoever holds the name now
    if (!sameUser(user.username, caller.username)) throw AuthIdTokenInvalid('its user_login is no longer the name of its user_id');
  };
}
