// The sandbox state file's format (version 1): the strict schema of every record, and the
// cross-references a schema cannot see (ids unique, counters above every id, references that
// resolve). persist.ts writes and reads the file; a file that fails here is never half-loaded.
import { z } from 'zod';
import type { CiSigning } from './ci-id-token';
import type { Commit } from './git';
import type { Approval, ApprovalRule, ApprovalSettings, CommitStatus, PushEvent, Group, Hook, Issue, Label, MergeRequest, MrVersion, Note, Project, ProtectedBranch, User } from './model';
import type { SandboxState } from './state';

export const STATE_FORMAT = 'jit-gitlab-sandbox-state';
export const STATE_FORMAT_VERSION = 1;

// ------------------------------------------------------------------ the file format (version 1)

const id = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1);
const level = z.number().int().min(0).max(100);
const sha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex-digit sha');
const text = z.string().max(16 * 1024 * 1024);
const name = z.string().max(1024);
const date = z.iso.datetime().transform((s) => new Date(s));
const pairs = <K extends z.ZodType, V extends z.ZodType>(k: K, v: V) => z.array(z.tuple([k, v])).transform((entries) => new Map(entries as Array<[z.output<K>, z.output<V>]>));

const userSchema = z.strictObject({
  id,
  username: z.string().min(1).max(255),
  name,
  email: name,
  bot: z.boolean(),
  admin: z.boolean(),
  state: z.enum(['active', 'blocked', 'deactivated']),
  tokens: z.array(z.string().min(1).max(1024)).transform((t) => new Set(t)),
  createdAt: date,
}) satisfies z.ZodType<User, any>;

const groupSchema = z.strictObject({
  id,
  path: name,
  fullPath: name,
  name,
  parentId: id.nullable(),
  members: pairs(id, level),
  createdAt: date,
}) satisfies z.ZodType<Group, any>;

const protectedBranchSchema = z.strictObject({ id, name, pushAccessLevel: level, mergeAccessLevel: level }) satisfies z.ZodType<ProtectedBranch, any>;

const approvalSettingsSchema = z.strictObject({
  approvals_before_merge: z.number().int().min(0).max(100),
  reset_approvals_on_push: z.boolean(),
  disable_overriding_approvers_per_merge_request: z.boolean(),
  merge_requests_author_approval: z.boolean(),
  merge_requests_disable_committers_approval: z.boolean(),
  require_password_to_approve: z.boolean(),
}) satisfies z.ZodType<ApprovalSettings, any>;

const ruleSchema = z.strictObject({
  id,
  name,
  ruleType: z.enum(['regular', 'any_approver', 'code_owner']),
  approvalsRequired: z.number().int().min(0).max(100),
  userIds: z.array(id),
  groupIds: z.array(id),
  sourceRuleId: id.nullable(),
}) satisfies z.ZodType<ApprovalRule, any>;

const labelSchema = z.strictObject({ id, name, color: name, description: text.nullable(), createdAt: date }) satisfies z.ZodType<Label, any>;

const noteSchema = z.strictObject({
  id,
  body: text,
  authorId: id,
  system: z.boolean(),
  noteableType: z.enum(['MergeRequest', 'Issue']),
  noteableId: id,
  noteableIid: id,
  createdAt: date,
  updatedAt: date,
  // absent from state files written before it was kept: never edited as far as anyone knows
  updatedById: id.nullable().default(null),
}) satisfies z.ZodType<Note, any>;

const approvalSchema = z.strictObject({ userId: id, createdAt: date }) satisfies z.ZodType<Approval, any>;

const versionSchema = z.strictObject({ id, headSha: sha, createdAt: date }) satisfies z.ZodType<MrVersion, any>;

const mrSchema = z.strictObject({
  id,
  iid: id,
  projectId: id,
  title: name,
  description: text,
  sourceBranch: name,
  targetBranch: name,
  authorId: id,
  assigneeIds: z.array(id),
  reviewerIds: z.array(id),
  labels: z.array(name),
  state: z.enum(['opened', 'closed', 'merged']),
  headSha: sha,
  mergedTargetSha: sha.nullable(),
  mergeCommitSha: sha.nullable(),
  mergeUserId: id.nullable(),
  mergedAt: date.nullable(),
  closedById: id.nullable(),
  closedAt: date.nullable(),
  approvals: z.array(approvalSchema),
  // absent from state files written before it was kept: the versions route then reports the head as of the MR's creation
  versions: z.array(versionSchema).default([]),
  rules: z.array(ruleSchema),
  rulesOverwritten: z.boolean(),
  notes: z.array(noteSchema),
  createdAt: date,
  updatedAt: date,
  updatedById: id.nullable(),
  lastEditedAt: date.nullable(),
  lastEditedById: id.nullable(),
  removeSourceBranch: z.boolean(),
}) satisfies z.ZodType<MergeRequest, any>;

const issueSchema = z.strictObject({
  id,
  iid: id,
  projectId: id,
  title: name,
  description: text,
  authorId: id,
  assigneeIds: z.array(id),
  labels: z.array(name),
  state: z.enum(['opened', 'closed']),
  confidential: z.boolean(),
  dueDate: name.nullable(),
  notes: z.array(noteSchema),
  createdAt: date,
  updatedAt: date,
  updatedById: id.nullable(),
  closedAt: date.nullable(),
}) satisfies z.ZodType<Issue, any>;

const statusSchema = z.strictObject({
  id,
  sha,
  ref: name.nullable(),
  status: z.enum(['pending', 'running', 'success', 'failed', 'canceled', 'skipped']),
  name,
  description: text.nullable(),
  targetUrl: text.nullable(),
  authorId: id,
  createdAt: date,
  startedAt: date.nullable(),
  finishedAt: date.nullable(),
  coverage: z.number().nullable(),
}) satisfies z.ZodType<CommitStatus, any>;

const pushEventSchema = z.strictObject({
  id,
  authorId: id,
  action: z.enum(['pushed', 'created', 'removed']),
  ref: name,
  commitFrom: sha.nullable(),
  commitTo: sha.nullable(),
  commitCount: z.number().int().min(0),
  commitTitle: text.nullable(),
  createdAt: date,
}) satisfies z.ZodType<PushEvent, any>;

const hookSchema = z.strictObject({
  id,
  projectId: id,
  url: text,
  token: text.nullable(),
  signingToken: text.nullable(),
  events: z.strictObject({ merge_requests_events: z.boolean(), note_events: z.boolean(), issues_events: z.boolean(), push_events: z.boolean() }),
  enableSslVerification: z.boolean(),
  createdAt: date,
}) satisfies z.ZodType<Hook, any>;

const projectSchema = z.strictObject({
  id,
  name,
  path: name,
  pathWithNamespace: name,
  namespaceId: id,
  description: text,
  defaultBranch: name,
  tier: z.enum(['free', 'premium']),
  visibility: z.enum(['private', 'internal', 'public']),
  branches: pairs(name, sha),
  protectedBranches: z.array(protectedBranchSchema),
  members: pairs(id, level),
  approvalSettings: approvalSettingsSchema,
  approvalRules: z.array(ruleSchema),
  labels: z.array(labelSchema),
  hooks: z.array(hookSchema),
  mergeRequests: z.array(mrSchema),
  issues: z.array(issueSchema),
  statuses: z.array(statusSchema),
  // absent from state files written before pushes were kept as events: none recorded
  pushEvents: z.array(pushEventSchema).default([]),
  nextMrIid: id,
  nextIssueIid: id,
  createdAt: date,
}) satisfies z.ZodType<Project, any>;

const signatureSchema = z.strictObject({ name, email: name, time: z.number().int().min(0) });
const commitSchema = z.strictObject({
  id: sha,
  tree: sha,
  parents: z.array(sha),
  author: signatureSchema,
  committer: signatureSchema,
  message: text,
  files: pairs(z.string().min(1).max(4096), sha),
}) satisfies z.ZodType<Commit, any>;

const b64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .max(2048);
// Absent from state files written before the sandbox issued CI ID tokens: startSandbox then creates a key.
const ciSchema = z.strictObject({
  key: z.strictObject({ kty: z.literal('RSA'), kid: b64url, n: b64url, e: b64url, d: b64url, p: b64url, q: b64url, dp: b64url, dq: b64url, qi: b64url }),
  nextPipelineId: id,
  nextJobId: id,
}) satisfies z.ZodType<CiSigning, any>;

export type Counters = Record<string, number>;

/** The id counters live in a private field of SandboxState; persistence is the one reader besides it. */
export function countersOf(state: SandboxState): Counters {
  return state['nextId'] as unknown as Counters;
}

export function fileSchema(counterKeys: string[]) {
  return z.strictObject({
    format: z.literal(STATE_FORMAT),
    version: z.literal(STATE_FORMAT_VERSION),
    savedAt: z.iso.datetime(),
    counters: z.strictObject(Object.fromEntries(counterKeys.map((k) => [k, id]))),
    objects: z.strictObject({ blobs: z.array(z.tuple([sha, z.base64()])), commits: z.array(commitSchema) }),
    users: z.array(userSchema),
    groups: z.array(groupSchema),
    projects: z.array(projectSchema),
    ci: ciSchema.optional(),
  });
}

export function describeIssues(error: z.ZodError): string {
  // Paths and zod's own wording only: an issue never quotes the value (it may be a token).
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

type Parsed = z.output<ReturnType<typeof fileSchema>>;

/** Cross-references the schema cannot see; the first problem found, or undefined. */
export function integrityProblem(doc: Parsed, commitIds: Set<string>): string | undefined {
  const users = new Set<number>();
  const tokens = new Set<string>();
  const usernames = new Set<string>();
  for (const u of doc.users) {
    if (users.has(u.id)) return `user id ${u.id} appears twice`;
    users.add(u.id);
    if (usernames.has(u.username.toLowerCase())) return `username of user ${u.id} appears twice`;
    usernames.add(u.username.toLowerCase());
    for (const t of u.tokens) {
      if (tokens.has(t)) return `a token of user ${u.id} belongs to another user too`;
      tokens.add(t);
    }
  }
  const groups = new Set(doc.groups.map((g) => g.id));
  if (groups.size !== doc.groups.length) return 'a group id appears twice';
  const maxOf = (ids: number[]) => ids.reduce((a, b) => Math.max(a, b), 0);
  const c = doc.counters as Counters;
  const below = (key: string, ids: number[]) => (ids.length && maxOf(ids) >= (c[key] ?? 0) ? `counter ${key} is not above the highest ${key} id` : undefined);
  for (const g of doc.groups) {
    if (g.parentId !== null && !groups.has(g.parentId)) return `group ${g.id} has an unknown parent`;
    for (const uid of g.members.keys()) if (!users.has(uid)) return `group ${g.id} has an unknown member ${uid}`;
  }
  const projectIds = new Set<number>();
  // Commit-status ids come from the state's `status` counter (state.allocateStatusId), so they
  // continue after a restore.
  const all = { mr: [] as number[], issue: [] as number[], note: [] as number[], hook: [] as number[], rule: [] as number[], label: [] as number[], protected: [] as number[] };
  for (const p of doc.projects) {
    const where = `project ${p.id}`;
    if (projectIds.has(p.id)) return `${where} appears twice`;
    projectIds.add(p.id);
    if (!groups.has(p.namespaceId)) return `${where} has an unknown namespace`;
    for (const uid of p.members.keys()) if (!users.has(uid)) return `${where} has an unknown member ${uid}`;
    for (const [branch, head] of p.branches) if (!commitIds.has(head)) return `${where} branch ${JSON.stringify(branch)} points at a missing commit`;
    const userRef = (uid: number | null, what: string) => (uid !== null && !users.has(uid) ? `${where} ${what} names an unknown user ${uid}` : undefined);
    for (const r of p.approvalRules) {
      all.rule.push(r.id);
      for (const g of r.groupIds) if (!groups.has(g)) return `${where} rule ${r.id} names an unknown group`;
      for (const u of r.userIds) if (!users.has(u)) return `${where} rule ${r.id} names an unknown user`;
    }
    all.label.push(...p.labels.map((l) => l.id));
    all.protected.push(...p.protectedBranches.map((b) => b.id));
    for (const h of p.hooks) {
      all.hook.push(h.id);
      if (h.projectId !== p.id) return `${where} hook ${h.id} belongs to another project`;
    }
    for (const s of p.statuses) {
      const bad = userRef(s.authorId, `status ${s.id}`);
      if (bad) return bad;
    }
    for (const e of p.pushEvents) {
      const bad = userRef(e.authorId, `push event ${e.id}`);
      if (bad) return bad;
    }
    const iids = new Set<number>();
    for (const mr of p.mergeRequests) {
      const at = `merge request !${mr.iid}`;
      all.mr.push(mr.id);
      if (mr.projectId !== p.id) return `${where} ${at} belongs to another project`;
      if (iids.has(mr.iid)) return `${where} has two merge requests !${mr.iid}`;
      iids.add(mr.iid);
      if (mr.iid >= p.nextMrIid) return `${where} nextMrIid is not above !${mr.iid}`;
      for (const s of [mr.headSha, mr.mergedTargetSha, mr.mergeCommitSha]) if (s !== null && !commitIds.has(s)) return `${where} ${at} names a missing commit`;
      for (const u of [mr.authorId, mr.mergeUserId, mr.closedById, mr.updatedById, mr.lastEditedById, ...mr.assigneeIds, ...mr.reviewerIds, ...mr.approvals.map((a) => a.userId)]) {
        const bad = userRef(u, at);
        if (bad) return bad;
      }
      for (const r of mr.rules) {
        all.rule.push(r.id);
        for (const g of r.groupIds) if (!groups.has(g)) return `${where} ${at} rule ${r.id} names an unknown group`;
        for (const u of r.userIds) if (!users.has(u)) return `${where} ${at} rule ${r.id} names an unknown user`;
      }
      for (const n of mr.notes) {
        all.note.push(n.id);
        const bad = userRef(n.authorId, `${at} note ${n.id}`);
        if (bad) return bad;
      }
    }
    const issueIids = new Set<number>();
    for (const issue of p.issues) {
      const at = `issue #${issue.iid}`;
      all.issue.push(issue.id);
      if (issue.projectId !== p.id) return `${where} ${at} belongs to another project`;
      if (issueIids.has(issue.iid)) return `${where} has two issues #${issue.iid}`;
      issueIids.add(issue.iid);
      if (issue.iid >= p.nextIssueIid) return `${where} nextIssueIid is not above #${issue.iid}`;
      for (const u of [issue.authorId, issue.updatedById, ...issue.assigneeIds]) {
        const bad = userRef(u, at);
        if (bad) return bad;
      }
      for (const n of issue.notes) {
        all.note.push(n.id);
        const bad = userRef(n.authorId, `${at} note ${n.id}`);
        if (bad) return bad;
      }
    }
  }
  return (
    below('user', [...users]) ??
    below('group', [...groups]) ??
    below('project', [...projectIds]) ??
    Object.entries(all)
      .map(([k, ids]) => below(k, ids))
      .find((p) => p !== undefined)
  );
}
