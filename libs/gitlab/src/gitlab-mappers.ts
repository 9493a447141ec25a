// GitLab REST answers (snake_case JSON) as the small camelCase shapes in ./types, checked where jit
// relies on a field; and Premium-only endpoints answering 403/404 on Free as a typed value.
import { JitError } from '@jit/errors';
import { GitlabBadResponse } from './errors';
import { ApprovalRulesUnsupported, type ApprovalRule, type ApprovalSettings, type GitlabUser, type MergeRequest, type Note, type PushEvent } from './types';

export type Json = Record<string, any>;

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A GitLab REST user object as our GitlabUser (also used by the token-owner lookup). */
export function toUser(u: Json): GitlabUser {
  if (!u || typeof u.id !== 'number' || typeof u.username !== 'string') {
    throw GitlabBadResponse('user lookup', 'missing id/username');
  }
  const email = str(u.public_email) || str(u.email) || undefined;
  return {
    id: u.id,
    username: u.username,
    name: typeof u.name === 'string' ? u.name : undefined,
    bot: u.bot === true,
    state: typeof u.state === 'string' ? u.state : undefined,
    ...(email ? { email } : {}),
  };
}

export function toMergeRequest(m: Json): MergeRequest {
  if (!m || typeof m.iid !== 'number') throw GitlabBadResponse('merge request', 'missing iid');
  return {
    id: m.id,
    iid: m.iid,
    projectId: m.project_id,
    title: str(m.title),
    description: str(m.description),
    state: m.state,
    sourceBranch: str(m.source_branch),
    targetBranch: str(m.target_branch),
    sha: str(m.sha),
    mergeCommitSha: typeof m.merge_commit_sha === 'string' ? m.merge_commit_sha : null,
    squashCommitSha: typeof m.squash_commit_sha === 'string' ? m.squash_commit_sha : null,
    author: { id: m.author?.id, username: str(m.author?.username) },
    webUrl: typeof m.web_url === 'string' ? m.web_url : undefined,
    createdAt: typeof m.created_at === 'string' ? m.created_at : undefined,
    updatedAt: typeof m.updated_at === 'string' ? m.updated_at : undefined,
    mergedAt: typeof m.merged_at === 'string' ? m.merged_at : null,
    closedBy: userRef(m.closed_by),
    mergedBy: userRef(m.merge_user) ?? userRef(m.merged_by),
  };
}

function userRef(u: Json | null | undefined): { id: number; username: string } | null {
  return u && typeof u.id === 'number' && typeof u.username === 'string' ? { id: u.id, username: u.username } : null;
}

export function toRule(r: Json): ApprovalRule {
  const users: Json[] = Array.isArray(r.users) ? r.users : Array.isArray(r.eligible_approvers) ? r.eligible_approvers : [];
  return {
    id: r.id,
    name: str(r.name),
    approvalsRequired: Number(r.approvals_required ?? 0),
    userIds: users.map((u) => u.id),
    usernames: users.map((u) => str(u.username)),
  };
}

export function toSettings(s: Json): ApprovalSettings {
  return {
    resetApprovalsOnPush: s.reset_approvals_on_push === true,
    mergeRequestsAuthorApproval: s.merge_requests_author_approval === true,
    mergeRequestsDisableCommittersApproval: s.merge_requests_disable_committers_approval === true,
    disableOverridingApproversPerMergeRequest: s.disable_overriding_approvers_per_merge_request === true,
  };
}

function shaOrNull(v: unknown): string | null {
  return typeof v === 'string' && /^[0-9a-f]{40,64}$/.test(v) ? v : null;
}

/** A project event with `push_data` as our PushEvent; undefined for any other event. */
export function toPushEvent(e: Json): PushEvent | undefined {
  const d: Json | undefined = e?.push_data;
  if (!d || typeof d !== 'object') return undefined;
  const authorId = typeof e.author_id === 'number' ? e.author_id : e.author?.id;
  const authorUsername = str(e.author_username) || str(e.author?.username);
  if (typeof e.id !== 'number' || typeof authorId !== 'number' || !authorUsername) throw GitlabBadResponse('project push events', 'an event without id or author');
  return {
    id: e.id,
    authorId,
    authorUsername,
    action: str(d.action),
    refType: str(d.ref_type),
    ref: typeof d.ref === 'string' && d.ref ? d.ref : null,
    commitFrom: shaOrNull(d.commit_from),
    commitTo: shaOrNull(d.commit_to),
    commitCount: typeof d.commit_count === 'number' ? d.commit_count : 0,
    createdAt: str(e.created_at),
  };
}

export function toNote(n: Json): Note {
  return {
    id: n.id,
    body: str(n.body),
    authorUsername: str(n.author?.username),
    system: n.system === true,
    createdAt: typeof n.created_at === 'string' ? n.created_at : undefined,
  };
}

/**
 * Approval rules and approval settings are GitLab Premium features; on Free the endpoints answer
 * 403 or 404. That is an expected outcome, not a failure: return it as a typed value.
 */
export async function premium<T>(endpoint: string, call: () => Promise<T>): Promise<T | ApprovalRulesUnsupported> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof JitError && !err.retriable) {
      const status = Number(err.details?.status);
      if (status === 403 || status === 404) return new ApprovalRulesUnsupported(status, endpoint);
    }
    throw err;
  }
}
