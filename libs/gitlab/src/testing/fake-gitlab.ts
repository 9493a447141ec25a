// An in-memory GitLab behind the GitlabClient interface, for other libs' unit tests: projects with
// a tier (premium enforces nothing here but answers approval-rule calls; free answers them like
// GitLab Free), branches, MRs, approvals, notes, statuses, issues, users and groups.
import { createHash } from 'node:crypto';
import { GitlabCommitNotFound, GitlabNotFound, GitlabRejected, GitlabUnavailable } from '../errors';
import {
  ApprovalRulesUnsupported,
  type ApprovalRule,
  type ApprovalSettings,
  type GitlabClient,
  type GitlabUser,
  type MergeRequest,
  type MergeRequestCommit,
  type Note,
  type PushEvent,
} from '../types';

type Files = Map<string, Uint8Array>;

export interface FakeCommitStatus {
  projectId: number;
  sha: string;
  state: string;
  name: string;
  description?: string;
}

export interface FakeMergeRequest {
  iid: number;
  projectId: number;
  title: string;
  description: string;
  state: 'opened' | 'closed' | 'merged';
  sourceBranch: string;
  targetBranch: string;
  authorId: number;
  approvals: Array<{ userId: number; at: string }>;
  rules: ApprovalRule[];
  notes: Note[];
  mergeCommitSha: string | null;
  /** Every commit on the source branch since it left the target, oldest first (GitLab lists them newest first). */
  commits: MergeRequestCommit[];
  /** One diff version per head of the source branch since the MR was opened, oldest first. */
  versions: Array<{ id: number; headCommitSha: string; createdAt: string }>;
  /** Target branch files when the MR was opened: what diffs compare against once merged. */
  baseFiles: Map<string, Uint8Array>;
  /** ISO times, from the fake's clock; `updatedAt` moves on push, merge and close, as GitLab's does. */
  createdAt: string;
  updatedAt: string;
  mergedAt: string | null;
  closedById: number | null;
  mergedById: number | null;
}

export interface FakeProject {
  id: number;
  path: string;
  defaultBranch: string;
  tier: 'premium' | 'free';
  branches: Map<string, { sha: string; files: Files }>;
  /** The commits pushed to each branch since it was created from another, oldest first. */
  branchCommits: Map<string, MergeRequestCommit[]>;
  commits: Map<string, Files>;
  settings: ApprovalSettings;
  mrs: Map<number, FakeMergeRequest>;
  issues: Array<{ id: number; iid: number; title: string; description?: string; assigneeIds?: number[]; labels?: string[]; author?: string }>;
  statuses: FakeCommitStatus[];
  /** Every push, oldest first, as GitLab's project events API records it (whatever webhooks did). */
  pushEvents: PushEvent[];
}

export interface FakeGitlab {
  users: Map<number, GitlabUser>;
  groups: Map<string, number[]>;
  projects: Map<number, FakeProject>;
  /** Every call made through any client, as `verb.noun` strings, in order. */
  calls: string[];
  addUser(username: string, opts?: { bot?: boolean; email?: string }): GitlabUser;
  addGroup(name: string, usernames: string[]): void;
  /** `path` defaults to `group/elevations-<id>`; the project is found by either, as GitLab finds it. */
  addProject(opts: { id: number; path?: string; tier?: 'premium' | 'free'; defaultBranch?: string; files?: Record<string, string> }): FakeProject;
  /** Commits files onto a branch (created from the default branch if missing); returns the new sha. */
  push(projectId: number, branch: string, files: Record<string, string | null>, author?: string): string;
  openMergeRequest(projectId: number, opts: { sourceBranch: string; targetBranch?: string; author: string; title?: string }): FakeMergeRequest;
  approve(projectId: number, iid: number, username: string, at?: Date): void;
  unapprove(projectId: number, iid: number, username: string): void;
  /** Merges regardless of approvals (what GitLab Free, or an admin, would let happen). */
  /** Merges as `by` (GitLab's merge_user; none when not given). */
  merge(projectId: number, iid: number, by?: string): string;
  close(projectId: number, iid: number, by?: string): void;
  /** The next `count` calls answer with `status` (e.g. 503, 429) as a retriable/non-retriable error. */
  failNext(count: number, status: number): void;
  /** A client acting as `username` (default: the bot user given to createFakeGitlab). */
  client(username?: string): GitlabClient;
}

function sha(...parts: string[]): string {
  return createHash('sha1').update(parts.join('\0')).digest('hex');
}

export function createFakeGitlab(options: { botUsername?: string; now?: () => Date } = {}): FakeGitlab {
  const now = () => (options.now ? options.now() : new Date()).toISOString();
  const users = new Map<number, GitlabUser>();
  const groups = new Map<string, number[]>();
  const projects = new Map<number, FakeProject>();
  const calls: string[] = [];
  let nextId = 1;
  let commitCounter = 0;
  let failures: { count: number; status: number } = { count: 0, status: 0 };

  const userByName = (username: string): GitlabUser => {
    const u = [...users.values()].find((x) => x.username === username);
    if (!u) throw new Error(`fake gitlab: no user ${username}`);
    return u;
  };
  const project = (id: number | string): FakeProject => {
    const p = typeof id === 'number' || /^\d+$/.test(id) ? projects.get(Number(id)) : [...projects.values()].find((x) => x.path === id);
    if (!p) throw GitlabNotFound(`project ${id}`, { details: { status: 404 } });
    return p;
  };
  const mr = (pid: number | string, iid: number): FakeMergeRequest => {
    const m = project(pid).mrs.get(iid);
    if (!m) throw GitlabNotFound(`merge request ${pid}!${iid}`, { details: { status: 404 } });
    return m;
  };
  const toMr = (m: FakeMergeRequest): MergeRequest => {
    const p = project(m.projectId);
    const author = users.get(m.authorId)!;
    return {
      id: m.projectId * 10_000 + m.iid,
      iid: m.iid,
      projectId: m.projectId,
      title: m.title,
      description: m.description,
      state: m.state,
      sourceBranch: m.sourceBranch,
      targetBranch: m.targetBranch,
      sha: p.branches.get(m.sourceBranch)?.sha ?? '',
      mergeCommitSha: m.mergeCommitSha,
      squashCommitSha: null,
      author: { id: author.id, username: author.username },
      webUrl: `http://fake.gitlab/${p.path}/-/merge_requests/${m.iid}`,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      mergedAt: m.mergedAt,
      closedBy: m.closedById !== null && users.get(m.closedById) ? { id: m.closedById, username: users.get(m.closedById)!.username } : null,
      mergedBy: m.mergedById !== null && users.get(m.mergedById) ? { id: m.mergedById, username: users.get(m.mergedById)!.username } : null,
    };
  };
  const commitBy = (who: GitlabUser, id: string): MergeRequestCommit => ({
    id,
    authorName: who.username,
    authorEmail: who.email ?? `${who.username}@example.com`,
    committerName: who.username,
    committerEmail: who.email ?? `${who.username}@example.com`,
    createdAt: now(),
  });
  const gate = (name: string) => {
    calls.push(name);
    if (failures.count > 0) {
      failures.count -= 1;
      const { status } = failures;
      if (status === 429 || status >= 500) throw GitlabUnavailable(name, `HTTP ${status}`, { details: { status } });
      if (status === 404) throw GitlabNotFound(name, { details: { status } });
      throw GitlabRejected(name, status, 'injected failure', { details: { status } });
    }
  };
  const premiumOnly = <T>(p: FakeProject, endpoint: string, fn: () => T): T | ApprovalRulesUnsupported => (p.tier === 'free' ? new ApprovalRulesUnsupported(403, endpoint) : fn());

  const fake: FakeGitlab = {
    users,
    groups,
    projects,
    calls,
    addUser(username, opts = {}) {
      const u: GitlabUser = { id: nextId++, username, name: username, bot: opts.bot ?? false, state: 'active' };
      if (opts.email) u.email = opts.email;
      users.set(u.id, u);
      return u;
    },
    addGroup(name, usernames) {
      groups.set(
        name,
        usernames.map((n) => userByName(n).id),
      );
    },
    addProject(opts) {
      const files: Files = new Map(Object.entries(opts.files ?? {}).map(([k, v]) => [k, new TextEncoder().encode(v)]));
      const head = sha('root', String(opts.id), String(commitCounter++));
      const p: FakeProject = {
        id: opts.id,
        path: opts.path ?? `group/elevations-${opts.id}`,
        defaultBranch: opts.defaultBranch ?? 'main',
        tier: opts.tier ?? 'premium',
        branches: new Map([[opts.defaultBranch ?? 'main', { sha: head, files }]]),
        branchCommits: new Map(),
        commits: new Map([[head, new Map(files)]]),
        settings: {
          resetApprovalsOnPush: false,
          mergeRequestsAuthorApproval: true,
          mergeRequestsDisableCommittersApproval: false,
          disableOverridingApproversPerMergeRequest: false,
        },
        mrs: new Map(),
        issues: [],
        statuses: [],
        pushEvents: [],
      };
      projects.set(p.id, p);
      return p;
    },
    push(projectId, branch, files, author) {
      const p = project(projectId);
      const current = p.branches.get(branch) ?? p.branches.get(p.defaultBranch)!;
      const next: Files = new Map(current.files);
      for (const [path, content] of Object.entries(files)) {
        if (content === null) next.delete(path);
        else next.set(path, new TextEncoder().encode(content));
      }
      const head = sha(current.sha, JSON.stringify(files), String(commitCounter++));
      const existed = p.branches.has(branch);
      p.branches.set(branch, { sha: head, files: next });
      p.commits.set(head, new Map(next));
      const pusher = author
        ? userByName(author)
        : [...p.mrs.values()]
            .filter((m) => m.sourceBranch === branch)
            .map((m) => users.get(m.authorId))
            .at(-1);
      if (pusher) {
        p.pushEvents.push({
          id: nextId++,
          authorId: pusher.id,
          authorUsername: pusher.username,
          action: existed ? 'pushed' : 'created',
          refType: 'branch',
          ref: branch,
          commitFrom: existed ? current.sha : null,
          commitTo: head,
          commitCount: 1,
          createdAt: now(),
        });
      }
      const commit = pusher ? commitBy(pusher, head) : undefined;
      if (commit) p.branchCommits.set(branch, [...(existed ? (p.branchCommits.get(branch) ?? []) : []), commit]);
      for (const m of p.mrs.values()) {
        if (m.sourceBranch !== branch || m.state !== 'opened') continue;
        m.commits.push(commit ?? commitBy(users.get(m.authorId)!, head));
        m.versions.push({ id: nextId++, headCommitSha: head, createdAt: now() });
        if (p.settings.resetApprovalsOnPush && p.tier === 'premium') m.approvals = [];
        m.updatedAt = now();
      }
      return head;
    },
    openMergeRequest(projectId, opts) {
      const p = project(projectId);
      const iid = p.mrs.size + 1;
      const author = userByName(opts.author);
      const head = p.branches.get(opts.sourceBranch);
      const m: FakeMergeRequest = {
        iid,
        projectId: p.id,
        title: opts.title ?? `MR ${iid}`,
        description: '',
        state: 'opened',
        sourceBranch: opts.sourceBranch,
        targetBranch: opts.targetBranch ?? p.defaultBranch,
        authorId: author.id,
        approvals: [],
        rules: [],
        notes: [],
        mergeCommitSha: null,
        createdAt: now(),
        updatedAt: now(),
        mergedAt: null,
        closedById: null,
        mergedById: null,
        baseFiles: new Map(p.branches.get(opts.targetBranch ?? p.defaultBranch)?.files ?? []),
        commits: head ? (p.branchCommits.get(opts.sourceBranch)?.map((c) => ({ ...c })) ?? [commitBy(author, head.sha)]) : [],
        versions: head ? [{ id: nextId++, headCommitSha: head.sha, createdAt: now() }] : [],
      };
      p.mrs.set(iid, m);
      return m;
    },
    approve(projectId, iid, username, at = new Date()) {
      const m = mr(projectId, iid);
      const u = userByName(username);
      if (!m.approvals.some((a) => a.userId === u.id)) m.approvals.push({ userId: u.id, at: at.toISOString() });
    },
    unapprove(projectId, iid, username) {
      const m = mr(projectId, iid);
      const u = userByName(username);
      m.approvals = m.approvals.filter((a) => a.userId !== u.id);
    },
    merge(projectId, iid, by) {
      const p = project(projectId);
      const m = mr(projectId, iid);
      const source = p.branches.get(m.sourceBranch)!;
      const target = p.branches.get(m.targetBranch) ?? p.branches.get(p.defaultBranch)!;
      const files: Files = new Map(target.files);
      for (const [k, v] of source.files) files.set(k, v);
      for (const k of target.files.keys()) if (!source.files.has(k)) files.delete(k);
      const mergeSha = sha('merge', source.sha, target.sha, String(commitCounter++));
      p.branches.set(m.targetBranch, { sha: mergeSha, files });
      p.commits.set(mergeSha, new Map(files));
      m.state = 'merged';
      m.mergeCommitSha = mergeSha;
      m.mergedAt = now();
      m.mergedById = by ? userByName(by).id : null;
      m.updatedAt = m.mergedAt;
      return mergeSha;
    },
    close(projectId, iid, by) {
      const m = mr(projectId, iid);
      m.state = 'closed';
      m.closedById = by ? userByName(by).id : null;
      m.updatedAt = now();
    },
    failNext(count, status) {
      failures = { count, status };
    },
    client(username) {
      const actorName = username ?? options.botUsername ?? 'jit-bot';
      const actor = () => userByName(actorName);
      const c: GitlabClient = {
        projects: {
          async show(id) {
            gate('show.project');
            const p = project(id);
            return { id: p.id, defaultBranch: p.defaultBranch, pathWithNamespace: p.path };
          },
        },
        files: {
          async show(id, path, ref) {
            gate('show.file');
            const p = project(id);
            const files = p.branches.get(ref)?.files ?? p.commits.get(ref);
            if (!files) throw GitlabCommitNotFound(`file ${path}@${ref}`, { details: { status: 404 } });
            const content = files.get(path);
            if (!content) throw GitlabNotFound(`file ${path}@${ref}`, { details: { status: 404 } });
            const commitId = p.branches.get(ref)?.sha ?? ref;
            return {
              path,
              ref,
              blobId: createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex'),
              commitId,
              lastCommitId: commitId,
              size: content.byteLength,
              content,
            };
          },
        },
        mergeRequests: {
          async show(id, iid) {
            gate('show.mergeRequest');
            return toMr(mr(id, iid));
          },
          async all(id, o = {}) {
            gate('all.mergeRequests');
            const since = o.updatedAfter ? Date.parse(o.updatedAfter) : undefined;
            const key = o.orderBy ?? 'created_at';
            const dir = o.sort === 'asc' ? 1 : -1;
            const rows = [...project(id).mrs.values()]
              .filter((m) => (!o.state || m.state === o.state) && (since === undefined || Date.parse(m.updatedAt) >= since))
              .sort((a, b) => dir * (Date.parse(key === 'updated_at' ? a.updatedAt : a.createdAt) - Date.parse(key === 'updated_at' ? b.updatedAt : b.createdAt) || a.iid - b.iid));
            const limit = Math.min(o.perPage ?? 100, 100) * (o.maxPages ?? 20);
            return rows.slice(0, limit).map(toMr);
          },
          async diffs(id, iid) {
            gate('all.diffs');
            const p = project(id);
            const m = mr(id, iid);
            const source = p.branches.get(m.sourceBranch)?.files ?? new Map();
            // After merge the target already holds the change: diff against the first parent snapshot.
            const base = m.state === 'merged' ? m.baseFiles : (p.branches.get(m.targetBranch)?.files ?? new Map());
            const paths = new Set([...source.keys(), ...base.keys()]);
            const out = [];
            for (const path of paths) {
              const a = base.get(path);
              const b = source.get(path);
              if (a && b && Buffer.from(a).equals(Buffer.from(b))) continue;
              out.push({ oldPath: path, newPath: path, newFile: !a, renamedFile: false, deletedFile: !b });
            }
            return out;
          },
          async commits(id, iid) {
            gate('all.commits');
            return [...mr(id, iid).commits].reverse();
          },
          async versions(id, iid) {
            gate('all.versions');
            // One version per head since the MR was opened, dated by the fake's clock, newest first.
            return mr(id, iid)
              .versions.map((v) => ({ ...v }))
              .reverse();
          },
          async create(id, input) {
            gate('create.mergeRequest');
            const m = fake.openMergeRequest(Number(id), {
              sourceBranch: input.sourceBranch,
              targetBranch: input.targetBranch,
              author: actorName,
              title: input.title,
            });
            m.description = input.description ?? '';
            return toMr(m);
          },
          async merge(id, iid) {
            gate('merge.mergeRequest');
            // GitLab answers 405 to merging an MR that is not open
            if (mr(id, iid).state !== 'opened') throw GitlabRejected('merge.mergeRequest', 405, '405 Method Not Allowed', { details: { status: 405 } });
            fake.merge(Number(id), iid, actorName);
            return toMr(mr(id, iid));
          },
          async approvals(id, iid) {
            gate('show.approvals');
            const m = mr(id, iid);
            const required = m.rules.reduce((n, r) => n + r.approvalsRequired, 0);
            return {
              approvalsRequired: required,
              approvalsLeft: Math.max(0, required - m.approvals.length),
              approvedBy: m.approvals.map((a) => ({ userId: a.userId, username: users.get(a.userId)!.username, approvedAt: a.at })),
            };
          },
          async approvalState(id, iid) {
            gate('show.approvalState');
            const p = project(id);
            const m = mr(id, iid);
            return premiumOnly(p, 'approval_state', () => ({
              rules: m.rules.map((r) => {
                const by = m.approvals.filter((a) => r.userIds.includes(a.userId)).map((a) => users.get(a.userId)!.username);
                return { id: r.id, name: r.name, approved: by.length >= r.approvalsRequired, approvalsRequired: r.approvalsRequired, approvedBy: by };
              }),
            }));
          },
          async approve(id, iid) {
            gate('approve.mergeRequest');
            fake.approve(Number(id), iid, actorName);
          },
          async unapprove(id, iid) {
            gate('unapprove.mergeRequest');
            fake.unapprove(Number(id), iid, actorName);
          },
        },
        approvalRules: {
          async all(id, iid) {
            gate('all.approvalRules');
            const p = project(id);
            return premiumOnly(p, 'approval_rules', () => mr(id, iid).rules.map((r) => ({ ...r })));
          },
          async create(id, iid, input) {
            gate('create.approvalRule');
            const p = project(id);
            return premiumOnly(p, 'approval_rules', () => {
              const rule: ApprovalRule = {
                id: nextId++,
                name: input.name,
                approvalsRequired: input.approvalsRequired,
                userIds: [...input.userIds],
                usernames: input.userIds.map((u) => users.get(u)?.username ?? String(u)),
              };
              mr(id, iid).rules.push(rule);
              return { ...rule };
            });
          },
          async edit(id, iid, ruleId, input) {
            gate('edit.approvalRule');
            const p = project(id);
            return premiumOnly(p, 'approval_rules', () => {
              const rule = mr(id, iid).rules.find((r) => r.id === ruleId);
              if (!rule) throw GitlabNotFound(`approval rule ${ruleId}`, { details: { status: 404 } });
              rule.name = input.name;
              rule.approvalsRequired = input.approvalsRequired;
              rule.userIds = [...input.userIds];
              rule.usernames = input.userIds.map((u) => users.get(u)?.username ?? String(u));
              return { ...rule };
            });
          },
        },
        approvalSettings: {
          async show(id) {
            gate('show.approvalSettings');
            const p = project(id);
            return premiumOnly(p, 'approvals', () => ({ ...p.settings }));
          },
          async edit(id, s) {
            gate('edit.approvalSettings');
            const p = project(id);
            return premiumOnly(p, 'approvals', () => {
              Object.assign(p.settings, s);
              return { ...p.settings };
            });
          },
        },
        commitStatuses: {
          async create(id, commitSha, input) {
            gate('create.commitStatus');
            project(id).statuses.push({ projectId: Number(id), sha: commitSha, ...input });
          },
        },
        notes: {
          async all(id, iid) {
            gate('all.notes');
            return mr(id, iid).notes.map((n) => ({ ...n }));
          },
          async create(id, iid, body) {
            gate('create.note');
            const note: Note = { id: nextId++, body, authorUsername: actor().username, system: false, createdAt: now() };
            mr(id, iid).notes.push(note);
            return { ...note };
          },
          async edit(id, iid, noteId, body) {
            gate('edit.note');
            const note = mr(id, iid).notes.find((n) => n.id === noteId);
            if (!note) throw GitlabNotFound(`note ${noteId}`, { details: { status: 404 } });
            note.body = body;
            return { ...note };
          },
        },
        users: {
          async show(userId) {
            gate('show.user');
            const u = users.get(userId);
            if (!u) throw GitlabNotFound(`user ${userId}`, { details: { status: 404 } });
            return { ...u };
          },
          async byUsername(username) {
            gate('show.userByUsername');
            const u = [...users.values()].find((x) => x.username.toLowerCase() === username.toLowerCase());
            return u ? { ...u } : undefined;
          },
          async current() {
            gate('show.currentUser');
            return { ...actor() };
          },
        },
        groupMembers: {
          async all(group) {
            gate('all.groupMembers');
            const ids = groups.get(String(group));
            if (!ids) throw GitlabNotFound(`group ${group}`, { details: { status: 404 } });
            return ids.map((i) => ({ ...users.get(i)! }));
          },
        },
        issues: {
          async create(id, input) {
            gate('create.issue');
            const p = project(id);
            const issue = { id: nextId++, iid: p.issues.length + 1, ...input, author: actorName };
            p.issues.push(issue);
            return { id: issue.id, iid: issue.iid };
          },
          async all(id, o) {
            gate('all.issues');
            return project(id)
              .issues.filter((i) => o.labels.every((l) => (i.labels ?? []).includes(l)))
              .reverse()
              .map((i) => ({ id: i.id, iid: i.iid, title: i.title, ...(i.author ? { authorUsername: i.author } : {}) }));
          },
        },
        branches: {
          async create(id, name, ref) {
            gate('create.branch');
            const p = project(id);
            const from = p.branches.get(ref);
            if (!from) throw GitlabNotFound(`branch ${ref}`, { details: { status: 404 } });
            p.branches.set(name, { sha: from.sha, files: new Map(from.files) });
            p.branchCommits.set(name, []);
            // GitLab records a new branch as a push event of its creator
            const who = actor();
            p.pushEvents.push({
              id: nextId++,
              authorId: who.id,
              authorUsername: who.username,
              action: 'created',
              refType: 'branch',
              ref: name,
              commitFrom: null,
              commitTo: from.sha,
              commitCount: 0,
              createdAt: now(),
            });
          },
        },
        events: {
          async pushes(id, o = {}) {
            gate('all.events');
            const after = o.after ? Date.parse(`${o.after}T23:59:59.999Z`) : -Infinity;
            return project(id)
              .pushEvents.filter((e) => Date.parse(e.createdAt) > after)
              .map((e) => ({ ...e }))
              .reverse();
          },
        },
        commits: {
          async create(id, branch, _message, actions) {
            gate('create.commit');
            const files: Record<string, string | null> = {};
            for (const a of actions) files[a.filePath] = a.action === 'delete' ? null : (a.content ?? '');
            return { id: fake.push(Number(id), branch, files, actorName) };
          },
        },
      };
      return c;
    },
  };
  if (options.botUsername) fake.addUser(options.botUsername, { bot: true });
  return fake;
}
