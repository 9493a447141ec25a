// Sandbox persistence: the whole sandbox state (users and their tokens, groups, projects, the git
// object store and branches, merge requests with approvals, rules and notes, issues, statuses,
// labels, hooks and their secrets, id/iid counters) as one JSON file, written atomically and
// debounced, and read back strictly: a file this module cannot fully trust is an error naming
// the file, never a silent re-seed that would lose the state.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '@jit/observability';
import { SandboxStateCorrupt, SandboxStateTooLarge, SandboxStateUnwritable, SandboxStateVersion } from './errors';
import type { CiSigning } from './ci-id-token';
import type { Commit } from './git';
import type {
  Approval,
  ApprovalRule,
  ApprovalSettings,
  CommitStatus,
  PushEvent,
  Group,
  Hook,
  Issue,
  Label,
  MergeRequest,
  MrVersion,
  Note,
  Project,
  ProtectedBranch,
  User,
} from './model';
import { validateSeed } from './seed';
import { SandboxState, type StateOptions } from './state';

export const STATE_FORMAT = 'jit-gitlab-sandbox-state';
export const STATE_FORMAT_VERSION = 1;
/** A demo sandbox's state is kilobytes; anything near this is not a file the sandbox wrote. */
export const DEFAULT_STATE_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_DEBOUNCE_MS = 200;
export const DEFAULT_MAX_WAIT_MS = 1000;

// ------------------------------------------------------------------ the file format (version 1)

const id = z.number().int().min(1).max(2 ** 31 - 1);
const level = z.number().int().min(0).max(100);
const sha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex-digit sha');
const text = z.string().max(16 * 1024 * 1024);
const name = z.string().max(1024);
const date = z.iso.datetime().transform((s) => new Date(s));
const pairs = <K extends z.ZodType, V extends z.ZodType>(k: K, v: V) =>
  z.array(z.tuple([k, v])).transform((entries) => new Map(entries as Array<[z.output<K>, z.output<V>]>));

const userSchema = z.strictObject({
  id,
  username: z.string().min(1).max(255),
  name,
  email: name,
  bot: z.boolean(),
  admin: z.boolean(),
  state: z.enum(['active', 'blocked']),
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

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/).max(2048);
// Absent from state files written before the sandbox issued CI ID tokens: startSandbox then creates a key.
const ciSchema = z.strictObject({
  key: z.strictObject({ kty: z.literal('RSA'), kid: b64url, n: b64url, e: b64url, d: b64url, p: b64url, q: b64url, dp: b64url, dq: b64url, qi: b64url }),
  nextPipelineId: id,
  nextJobId: id,
}) satisfies z.ZodType<CiSigning, any>;

type Counters = Record<string, number>;

/** The id counters live in a private field of SandboxState; persistence is the one reader besides it. */
function countersOf(state: SandboxState): Counters {
  return state['nextId'] as unknown as Counters;
}

function fileSchema(counterKeys: string[]) {
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

/** Maps and Sets become arrays (Dates already serialise themselves as ISO strings). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()];
  if (value instanceof Set) return [...value];
  return value;
}

/** The whole sandbox state as the JSON text of a version-1 state file. */
export function snapshotState(state: SandboxState): string {
  const blobs = state.store['blobs'];
  const commits = state.store['commits'];
  return JSON.stringify(
    {
      format: STATE_FORMAT,
      version: STATE_FORMAT_VERSION,
      savedAt: state.now().toISOString(),
      counters: countersOf(state),
      objects: { blobs: [...blobs].map(([blobId, content]) => [blobId, content.toString('base64')]), commits: [...commits.values()] },
      users: state.users,
      groups: state.groups,
      projects: state.projects,
      ci: state.ci,
    },
    replacer,
  );
}

function describeIssues(error: z.ZodError): string {
  // Paths and zod's own wording only: an issue never quotes the value (it may be a token).
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

type Parsed = z.output<ReturnType<typeof fileSchema>>;

/** Cross-references the schema cannot see; the first problem found, or undefined. */
function integrityProblem(doc: Parsed, commitIds: Set<string>): string | undefined {
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

/**
 * Rebuild a SandboxState from a state file's text. Throws JIT_ERR_SANDBOX_STATE_CORRUPT or
 * JIT_ERR_SANDBOX_STATE_VERSION naming `file`; never returns a partial state.
 */
export function restoreState(textIn: string, opts: StateOptions, file = '(state)'): SandboxState {
  let raw: unknown;
  try {
    raw = JSON.parse(textIn);
  } catch {
    throw SandboxStateCorrupt(file, 'it is not valid JSON (truncated or edited?)');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || (raw as { format?: unknown }).format !== STATE_FORMAT)
    throw SandboxStateCorrupt(file, `it is not a sandbox state file (no "format": "${STATE_FORMAT}")`);
  const version = (raw as { version?: unknown }).version;
  if (version !== STATE_FORMAT_VERSION) {
    if (typeof version === 'number' && Number.isSafeInteger(version)) throw SandboxStateVersion(file, String(version));
    throw SandboxStateCorrupt(file, '"version" is missing or not an integer');
  }

  const state = new SandboxState(validateSeed({}), opts);
  const counters = countersOf(state);
  const parsed = fileSchema(Object.keys(counters)).safeParse(raw);
  if (!parsed.success) throw SandboxStateCorrupt(file, describeIssues(parsed.error));
  const doc = parsed.data;

  // The object store re-hashes everything it is given: a blob or commit whose id does not match
  // its content is corruption, caught here rather than as a wrong diff later.
  for (const [blobId, b64] of doc.objects.blobs)
    if (state.store.putBlob(Buffer.from(b64, 'base64')) !== blobId) throw SandboxStateCorrupt(file, `blob ${blobId} does not match its content`);
  const commitIds = new Set(doc.objects.commits.map((c) => c.id));
  for (const c of doc.objects.commits) {
    for (const blobId of c.files.values()) if (!state.store.blob(blobId)) throw SandboxStateCorrupt(file, `commit ${c.id} names a missing blob`);
    for (const p of c.parents) if (!commitIds.has(p)) throw SandboxStateCorrupt(file, `commit ${c.id} names a missing parent`);
    const rebuilt = state.store.writeCommit({ files: c.files, parents: c.parents, author: c.author, committer: c.committer, message: c.message });
    if (rebuilt.id !== c.id || rebuilt.tree !== c.tree) throw SandboxStateCorrupt(file, `commit ${c.id} does not match its content`);
  }
  const problem = integrityProblem(doc, commitIds);
  if (problem) throw SandboxStateCorrupt(file, problem);

  state.users.push(...doc.users);
  state.groups.push(...doc.groups);
  state.projects.push(...doc.projects);
  Object.assign(counters, doc.counters);
  state.ci = doc.ci;
  return state;
}

// ------------------------------------------------------------------ the file

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The state file's text, or undefined when there is none. Refuses oversized and non-UTF-8 files. */
export async function readStateFile(file: string, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw SandboxStateCorrupt(file, `it cannot be opened (${errCode(err)})`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw SandboxStateCorrupt(file, 'it is not a regular file');
    if (st.size > maxBytes) throw SandboxStateTooLarge(file, st.size, maxBytes);
    // Read at most one byte past the limit: a file that grew after stat() is refused too.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    if (length > maxBytes) throw SandboxStateTooLarge(file, length, maxBytes);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length));
    } catch {
      throw SandboxStateCorrupt(file, 'it is not UTF-8 text');
    }
  } finally {
    await fh.close();
  }
}

/** Write `content` to `file` atomically: temp file (mode 0600) + fsync + rename + directory fsync. */
export async function writeStateFile(file: string, content: string, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<void> {
  const bytes = Buffer.byteLength(content, 'utf8');
  // Never write what the next start would refuse to read.
  if (bytes > maxBytes) throw SandboxStateTooLarge(file, bytes, maxBytes);
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw SandboxStateUnwritable(file, errCode(err), { cause: err });
  }
  // The rename is durable only once the directory entry is: fsync the directory (best effort,
  // some filesystems refuse fsync on a directory).
  const d = await open(dir, 'r').catch(() => undefined);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}

/** Load the sandbox state from `file`, or undefined when the file does not exist. */
export async function loadStateFile(file: string, opts: StateOptions, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<SandboxState | undefined> {
  const content = await readStateFile(file, maxBytes);
  return content === undefined ? undefined : restoreState(content, opts, file);
}

// ------------------------------------------------------------------ debounced saving

export interface StateSaverOptions {
  file: string;
  /** The state to write, serialised when the write happens (so it is always the latest). */
  serialize: () => string;
  /** Write this long after the last change (default 200 ms)… */
  debounceMs?: number;
  /** …but never later than this after the first unsaved change, however busy (default 1 s). */
  maxWaitMs?: number;
  maxBytes?: number;
  logger?: Logger;
}

export interface StateSaver {
  readonly file: string;
  /** Completed writes so far. */
  readonly writes: number;
  /** Whether a change has not reached the file yet. */
  readonly dirty: boolean;
  /** Note a change; the file is written after the debounce. */
  changed(): void;
  /** Write now if anything changed (waits for a write in progress first). */
  flush(): Promise<void>;
  /** Final flush; later changes are ignored. */
  close(): Promise<void>;
}

export function createStateSaver(options: StateSaverOptions): StateSaver {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const maxWaitMs = Math.max(options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS, debounceMs);
  let dirty = false;
  let closed = false;
  let writes = 0;
  let debounce: NodeJS.Timeout | undefined;
  let maxWait: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const clearTimers = () => {
    clearTimeout(debounce);
    clearTimeout(maxWait);
    debounce = maxWait = undefined;
  };
  const writeIfDirty = async () => {
    if (!dirty) return;
    dirty = false;
    try {
      await writeStateFile(options.file, options.serialize(), options.maxBytes);
      writes++;
    } catch (err) {
      dirty = true; // the next change, flush or close tries again
      throw err;
    }
  };
  const flush = (): Promise<void> => {
    clearTimers();
    const next = chain.then(writeIfDirty);
    chain = next.catch(() => undefined);
    return next;
  };
  const fire = () => {
    flush().catch((err: Error & { code?: string }) => options.logger?.error({ code: err.code, err: err.message }, 'sandbox state not saved'));
  };

  return {
    file: options.file,
    get writes() {
      return writes;
    },
    get dirty() {
      return dirty;
    },
    changed() {
      if (closed) return;
      dirty = true;
      clearTimeout(debounce);
      debounce = setTimeout(fire, debounceMs);
      debounce.unref();
      if (!maxWait) {
        maxWait = setTimeout(fire, maxWaitMs);
        maxWait.unref();
      }
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}
