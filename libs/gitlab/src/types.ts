// The GitLab shapes jit works with: a small, camelCase subset of GitLab REST v4, plus the
// facade interface that both the real client and the test double implement.

export interface GitlabUser {
  id: number;
  username: string;
  name?: string;
  /** GitLab marks bot users (project/group access tokens, service accounts) with `bot: true`. */
  bot: boolean;
  state?: string;
  /** Public or (admin token) primary e-mail; used to recognise committers. */
  email?: string;
}

export interface Project {
  id: number;
  defaultBranch: string;
  pathWithNamespace: string;
  webUrl?: string;
}

export type MergeRequestState = 'opened' | 'closed' | 'merged' | 'locked';

export interface MergeRequest {
  id: number;
  iid: number;
  projectId: number;
  title: string;
  description: string;
  state: MergeRequestState;
  sourceBranch: string;
  targetBranch: string;
  /** Head commit of the source branch. */
  sha: string;
  mergeCommitSha: string | null;
  squashCommitSha: string | null;
  author: { id: number; username: string };
  webUrl?: string;
  createdAt?: string;
  updatedAt?: string;
  mergedAt?: string | null;
  /** Who closed it (closed MRs); GitLab says null otherwise. */
  closedBy?: { id: number; username: string } | null;
  /** Who merged it (GitLab's `merge_user`, else the deprecated `merged_by`); null until merged. */
  mergedBy?: { id: number; username: string } | null;
}

/** Filters of `GET /projects/:id/merge_requests` that jit uses (GitLab's names, camelCase). */
export interface MergeRequestListOptions {
  state?: 'opened' | 'closed' | 'merged' | 'locked';
  /** ISO 8601 time: only MRs updated at or after it. */
  updatedAfter?: string;
  orderBy?: 'created_at' | 'updated_at';
  sort?: 'asc' | 'desc';
  /** Page size (GitLab caps it at 100). Default 100. */
  perPage?: number;
  /** Pages followed at most (gitbeaker follows the `link` header). Default 20. */
  maxPages?: number;
}

export interface MergeRequestDiff {
  oldPath: string;
  newPath: string;
  newFile: boolean;
  renamedFile: boolean;
  deletedFile: boolean;
}

export interface MergeRequestCommit {
  id: string;
  authorName: string;
  authorEmail: string;
  committerName: string;
  committerEmail: string;
  createdAt?: string;
}

/**
 * A push as GitLab's project events API records it (`GET /projects/:id/events?action=pushed`,
 * `push_data`): who pushed (the authenticated user, not a commit's author line), to which ref, from
 * which commit to which. GitLab keeps it whether or not any webhook was delivered.
 */
export interface PushEvent {
  id: number;
  authorId: number;
  authorUsername: string;
  /** `pushed` (to an existing ref), `created` (a new ref) or `removed`. */
  action: string;
  /** `branch` or `tag`. */
  refType: string;
  /** The branch or tag name; null for a bulk push of many refs at once. */
  ref: string | null;
  /** null for a new ref (or a bulk push). */
  commitFrom: string | null;
  /** null for a removed ref (or a bulk push). */
  commitTo: string | null;
  commitCount: number;
  createdAt: string;
}

/**
 * One diff version of an MR: GitLab records one each time the source branch's head changes, dated
 * by GitLab's own clock (a commit's `createdAt` is whatever the pusher's git wrote).
 */
export interface MergeRequestVersion {
  id: number;
  headCommitSha: string;
  createdAt: string;
}

export interface RepositoryFile {
  path: string;
  ref: string;
  blobId: string;
  commitId: string;
  lastCommitId: string;
  size: number;
  /** Exact bytes of the file (decoded from GitLab's base64). */
  content: Uint8Array;
}

export interface Approval {
  userId: number;
  username: string;
  /** GitLab 17+ reports when each approval was given; older servers omit it. */
  approvedAt?: string;
}

export interface MergeRequestApprovals {
  approvalsRequired: number;
  approvalsLeft: number;
  approvedBy: Approval[];
}

export interface ApprovalRule {
  id: number;
  name: string;
  approvalsRequired: number;
  userIds: number[];
  usernames: string[];
}

export interface ApprovalRuleInput {
  name: string;
  approvalsRequired: number;
  userIds: number[];
}

export interface ApprovalSettings {
  resetApprovalsOnPush: boolean;
  /** true = authors may approve their own MR (we want false). */
  mergeRequestsAuthorApproval: boolean;
  /** true = committers may NOT approve (we want true). */
  mergeRequestsDisableCommittersApproval: boolean;
  disableOverridingApproversPerMergeRequest?: boolean;
}

export interface ApprovalState {
  rules: Array<{ id: number; name: string; approved: boolean; approvalsRequired: number; approvedBy: string[] }>;
}

export interface Note {
  id: number;
  body: string;
  authorUsername: string;
  system: boolean;
  createdAt?: string;
}

export type CommitStatusState = 'pending' | 'running' | 'success' | 'failed' | 'canceled';

export interface CommitStatusInput {
  state: CommitStatusState;
  name: string;
  description?: string;
  targetUrl?: string;
}

export interface Issue {
  id: number;
  iid: number;
  /** Present on listed issues (and on the fake's created ones). */
  title?: string;
  /** Who opened it; present on listed issues. */
  authorUsername?: string;
  webUrl?: string;
}

export interface CommitAction {
  action: 'create' | 'update' | 'delete' | 'move';
  filePath: string;
  content?: string;
  previousPath?: string;
}

/**
 * Returned (not thrown) by approval-rule and approval-settings calls when the project's GitLab
 * tier has no approval rules (GitLab Free answers those endpoints 403/404). Callers must then
 * rely on the gate's own verification at merge.
 */
export class ApprovalRulesUnsupported {
  readonly supported = false as const;
  constructor(
    readonly status: number,
    readonly endpoint: string,
  ) {}
}

export function isApprovalRulesUnsupported(value: unknown): value is ApprovalRulesUnsupported {
  return value instanceof ApprovalRulesUnsupported;
}

export interface GitlabClient {
  projects: {
    show(projectId: number | string): Promise<Project>;
  };
  files: {
    show(projectId: number | string, path: string, ref: string): Promise<RepositoryFile>;
  };
  mergeRequests: {
    show(projectId: number | string, iid: number): Promise<MergeRequest>;
    /** Lists a project's MRs, following pages up to `maxPages` (a full last page may mean more exist). */
    all(projectId: number | string, options?: MergeRequestListOptions): Promise<MergeRequest[]>;
    diffs(projectId: number | string, iid: number): Promise<MergeRequestDiff[]>;
    commits(projectId: number | string, iid: number): Promise<MergeRequestCommit[]>;
    /** The MR's diff versions, newest first. */
    versions(projectId: number | string, iid: number): Promise<MergeRequestVersion[]>;
    create(projectId: number | string, input: { sourceBranch: string; targetBranch: string; title: string; description?: string }): Promise<MergeRequest>;
    merge(projectId: number | string, iid: number, options?: { sha?: string }): Promise<MergeRequest>;
    approvals(projectId: number | string, iid: number): Promise<MergeRequestApprovals>;
    approvalState(projectId: number | string, iid: number): Promise<ApprovalState | ApprovalRulesUnsupported>;
    approve(projectId: number | string, iid: number, options?: { sha?: string }): Promise<void>;
    unapprove(projectId: number | string, iid: number): Promise<void>;
  };
  approvalRules: {
    all(projectId: number | string, iid: number): Promise<ApprovalRule[] | ApprovalRulesUnsupported>;
    create(projectId: number | string, iid: number, input: ApprovalRuleInput): Promise<ApprovalRule | ApprovalRulesUnsupported>;
    edit(projectId: number | string, iid: number, ruleId: number, input: ApprovalRuleInput): Promise<ApprovalRule | ApprovalRulesUnsupported>;
  };
  approvalSettings: {
    show(projectId: number | string): Promise<ApprovalSettings | ApprovalRulesUnsupported>;
    edit(projectId: number | string, settings: Partial<ApprovalSettings>): Promise<ApprovalSettings | ApprovalRulesUnsupported>;
  };
  commitStatuses: {
    create(projectId: number | string, sha: string, input: CommitStatusInput): Promise<void>;
  };
  notes: {
    all(projectId: number | string, iid: number): Promise<Note[]>;
    create(projectId: number | string, iid: number, body: string): Promise<Note>;
    edit(projectId: number | string, iid: number, noteId: number, body: string): Promise<Note>;
  };
  users: {
    show(userId: number): Promise<GitlabUser>;
    /** undefined when no such user exists. */
    byUsername(username: string): Promise<GitlabUser | undefined>;
    current(): Promise<GitlabUser>;
  };
  groupMembers: {
    /** Members of a group, inherited memberships included (GitLab `/members/all`). */
    all(group: number | string): Promise<GitlabUser[]>;
  };
  issues: {
    create(projectId: number | string, input: { title: string; description?: string; assigneeIds?: number[]; labels?: string[] }): Promise<Issue>;
    /** A project's issues (open and closed) carrying every one of `labels`, newest first, up to `maxPages` pages of 100. */
    all(projectId: number | string, options: { labels: string[]; maxPages?: number }): Promise<Issue[]>;
  };
  branches: {
    create(projectId: number | string, name: string, ref: string): Promise<void>;
  };
  commits: {
    create(projectId: number | string, branch: string, message: string, actions: CommitAction[]): Promise<{ id: string }>;
  };
  events: {
    /**
     * A project's push events, newest first, created after `after` (a day, YYYY-MM-DD, exclusive as
     * GitLab's filter is), up to `maxPages` pages of 100 (a full last page may mean more exist).
     */
    pushes(projectId: number | string, options?: { after?: string; maxPages?: number }): Promise<PushEvent[]>;
  };
}
