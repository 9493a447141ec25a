// Who is calling a jit API: the contract between what authenticates a request (@jit/identity)
// and what decides what the caller may see (the read API, the catalog). Nothing here holds or
// derives from the token itself: a Caller is safe to log, to put in an event and to cache.
import type {} from 'fastify';

/** How the caller proved who they are. */
export type CallerTokenKind = 'gitlab-token' | 'ci-id-token';

/** Where a GitLab CI ID token came from (its claims), kept for the audit record. */
export interface CiJobClaims {
  /** `project_path`, e.g. `group/app`. */
  projectPath: string;
  projectId?: string;
  /** `ref` and `ref_type` (branch or tag) the pipeline ran for. */
  ref?: string;
  refType?: string;
  /** `ref_protected`: the branch or tag is protected in GitLab (only maintainers may push it). */
  refProtected?: boolean;
  pipelineId?: string;
  jobId?: string;
  namespacePath?: string;
}

export interface Caller {
  /** GitLab username: `GET /user`'s `username`, or the ID token's `user_login`. */
  username: string;
  /** GitLab user id, when known (`GET /user`'s `id`, the ID token's `user_id`). */
  userId?: number;
  /** A GitLab bot user (project/group access token, service account); never an approver. */
  bot: boolean;
  via: CallerTokenKind;
  /** For a CI ID token: the job that holds it. */
  ci?: CiJobClaims;
}

/**
 * Turns an `Authorization` header value into a Caller, or throws one of this lib's errors:
 * 401 (missing, malformed, refused, invalid token), 431 (header too large), 503 (GitLab or its
 * keys unreachable: never answered as anonymous nor as authorised).
 */
export interface CallerResolver {
  resolve(authorization: string | undefined): Promise<Caller>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin on every authenticated route; undefined on the webhook route. */
    caller?: Caller;
  }
}

/** The caller a route behind the auth plugin was given; a route outside it must not call this. */
export function callerOf(request: { caller?: Caller }): Caller {
  if (!request.caller) throw new Error('no caller on this request: the route is not behind the auth plugin');
  return request.caller;
}

/** Usernames compare case-insensitively on GitLab. */
export function sameUser(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}
