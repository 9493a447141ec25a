// The sandbox's in-memory records: users, groups, projects, merge requests and what hangs
// off them. Plain data; behaviour lives in state.ts.

export type Tier = 'free' | 'premium';
export type MrState = 'opened' | 'closed' | 'merged';

export interface User {
  id: number;
  username: string;
  name: string;
  email: string;
  bot: boolean;
  admin: boolean;
  /** GitLab's `state` of a user: `deactivated` (an admin's, or dormant) is refused like `blocked` everywhere. */
  state: 'active' | 'blocked' | 'deactivated';
  tokens: Set<string>;
  createdAt: Date;
}

export interface Group {
  id: number;
  path: string;
  fullPath: string;
  name: string;
  parentId: number | null;
  /** userId -> access level (direct membership only). */
  members: Map<number, number>;
  createdAt: Date;
}

export interface ProtectedBranch {
  id: number;
  name: string;
  pushAccessLevel: number;
  mergeAccessLevel: number;
}

export interface ApprovalSettings {
  approvals_before_merge: number;
  reset_approvals_on_push: boolean;
  disable_overriding_approvers_per_merge_request: boolean;
  merge_requests_author_approval: boolean;
  merge_requests_disable_committers_approval: boolean;
  require_password_to_approve: boolean;
}

export interface ApprovalRule {
  id: number;
  name: string;
  ruleType: 'regular' | 'any_approver' | 'code_owner';
  approvalsRequired: number;
  userIds: number[];
  groupIds: number[];
  /** For MR rules copied from a project rule. */
  sourceRuleId: number | null;
}

export interface Label {
  id: number;
  name: string;
  color: string;
  description: string | null;
  createdAt: Date;
}

export interface Note {
  id: number;
  body: string;
  authorId: number;
  system: boolean;
  noteableType: 'MergeRequest' | 'Issue';
  noteableId: number;
  noteableIid: number;
  createdAt: Date;
  updatedAt: Date;
  /** Who last edited the note (GitLab's notes.updated_by_id); null until edited. */
  updatedById: number | null;
}

export interface Approval {
  userId: number;
  createdAt: Date;
}

/**
 * One diff version of an MR (GitLab's merge_request_diffs): GitLab records one each time the
 * source branch's head changes, dated by GitLab's own clock when it saw the new head (unlike a
 * commit's dates, which whoever pushed wrote).
 */
export interface MrVersion {
  /** Unique within the MR (GitLab's ids are global; a client only compares them). */
  id: number;
  headSha: string;
  createdAt: Date;
}

export interface MergeRequest {
  id: number;
  iid: number;
  projectId: number;
  title: string;
  description: string;
  sourceBranch: string;
  targetBranch: string;
  authorId: number;
  assigneeIds: number[];
  reviewerIds: number[];
  labels: string[];
  state: MrState;
  /** Head of the source branch as the MR last saw it (frozen once merged/closed). */
  headSha: string;
  /** Target head when the MR was merged (for diff_refs of merged MRs). */
  mergedTargetSha: string | null;
  mergeCommitSha: string | null;
  mergeUserId: number | null;
  mergedAt: Date | null;
  closedById: number | null;
  closedAt: Date | null;
  approvals: Approval[];
  /** Diff versions, oldest first. */
  versions: MrVersion[];
  rules: ApprovalRule[];
  rulesOverwritten: boolean;
  notes: Note[];
  createdAt: Date;
  updatedAt: Date;
  updatedById: number | null;
  lastEditedAt: Date | null;
  lastEditedById: number | null;
  removeSourceBranch: boolean;
}

export interface Issue {
  id: number;
  iid: number;
  projectId: number;
  title: string;
  description: string;
  authorId: number;
  assigneeIds: number[];
  labels: string[];
  state: 'opened' | 'closed';
  confidential: boolean;
  dueDate: string | null;
  notes: Note[];
  createdAt: Date;
  updatedAt: Date;
  updatedById: number | null;
  closedAt: Date | null;
}

export interface CommitStatus {
  id: number;
  sha: string;
  ref: string | null;
  status: 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped';
  name: string;
  description: string | null;
  targetUrl: string | null;
  authorId: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  coverage: number | null;
}

/**
 * A push as GitLab records it in the project's events (`Event` with a `PushEventPayload`, shown by
 * `GET /projects/:id/events?action=pushed`): kept whether or not any webhook was delivered.
 */
export interface PushEvent {
  /** Unique within the project (GitLab's event ids are global; a client only compares them). */
  id: number;
  /** The authenticated user who pushed (never a commit's author line). */
  authorId: number;
  action: 'pushed' | 'created' | 'removed';
  ref: string;
  /** null for a new branch. */
  commitFrom: string | null;
  /** null for a removed branch. */
  commitTo: string | null;
  commitCount: number;
  commitTitle: string | null;
  createdAt: Date;
}

export interface Delivery {
  id: string;
  /** Numeric id of the log entry, as GitLab's webhook events API names it (`hook_event_id`). */
  logId: number;
  hookId: number;
  event: string;
  /** Stable across resends (Idempotency-Key and webhook-id). */
  idempotencyKey: string;
  eventUuid: string;
  body: string;
  requestHeaders: Record<string, string>;
  status: number | null;
  responseBody: string | null;
  responseHeaders: Record<string, string>;
  durationMs: number | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  resendOf: string | null;
}

export interface Hook {
  id: number;
  projectId: number;
  url: string;
  /** Secret: never logged, never returned by the API. */
  token: string | null;
  /** Secret: `whsec_<base64>`; never logged, never returned by the API. */
  signingToken: string | null;
  events: {
    merge_requests_events: boolean;
    note_events: boolean;
    issues_events: boolean;
    push_events: boolean;
  };
  enableSslVerification: boolean;
  createdAt: Date;
}

export interface Project {
  id: number;
  name: string;
  path: string;
  pathWithNamespace: string;
  namespaceId: number;
  description: string;
  defaultBranch: string;
  tier: Tier;
  visibility: 'private' | 'internal' | 'public';
  branches: Map<string, string>;
  protectedBranches: ProtectedBranch[];
  /** userId -> access level (direct project membership). */
  members: Map<number, number>;
  approvalSettings: ApprovalSettings;
  approvalRules: ApprovalRule[];
  labels: Label[];
  hooks: Hook[];
  mergeRequests: MergeRequest[];
  issues: Issue[];
  statuses: CommitStatus[];
  /** Every push to the project, oldest first (GitLab's push events). */
  pushEvents: PushEvent[];
  nextMrIid: number;
  nextIssueIid: number;
  createdAt: Date;
}

export interface FileAction {
  action: 'create' | 'update' | 'delete' | 'move' | 'chmod';
  file_path: string;
  previous_path?: string;
  content?: string;
  encoding?: 'text' | 'base64';
  last_commit_id?: string;
}
