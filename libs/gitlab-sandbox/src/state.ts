// The sandbox's behaviour: who may see and do what, the repository (commits, branches,
// three-way merges), merge requests, approvals and their rules, and which actions raise
// which webhook. HTTP shapes live in entities.ts and routes/*; this file owns the rules.
import type { CiSigning } from './ci-id-token';
import { ObjectStore, type Commit, type Signature } from './git';
import { badRequest, conflict, forbidden, notAllowed, notFound, paramError, unauthorized, unprocessable } from './http-error';
import type {
  ApprovalRule,
  ApprovalSettings,
  FileAction,
  Group,
  Hook,
  Issue,
  Label,
  MergeRequest,
  Note,
  Project,
  Tier,
  User,
} from './model';
import { memberName, type Seed, type SeedHook } from './seed';

export const ACCESS = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 } as const;

/** What state.ts tells the webhook dispatcher; payloads are built from it in hook-payloads.ts. */
export type SandboxEvent =
  | {
      kind: 'merge_request';
      project: Project;
      mr: MergeRequest;
      actor: User;
      action: 'open' | 'update' | 'approval' | 'unapproval' | 'approved' | 'unapproved' | 'merge' | 'close' | 'reopen';
      changes: Record<string, { previous: unknown; current: unknown }>;
      oldrev?: string;
    }
  | { kind: 'note'; project: Project; note: Note; actor: User; action: 'create' | 'update'; mr?: MergeRequest; issue?: Issue }
  | { kind: 'push'; project: Project; actor: User; branch: string; before: string; after: string; commits: Commit[]; totalCommits: number }
  | {
      kind: 'issue';
      project: Project;
      issue: Issue;
      actor: User;
      action: 'open' | 'update' | 'close' | 'reopen';
      changes: Record<string, { previous: unknown; current: unknown }>;
    };

export interface StateOptions {
  instanceUrl: string;
  now: () => Date;
  emit: (event: SandboxEvent) => void;
  /** A change that raises no webhook (the CI signing key created): persistence saves it. */
  changed?: () => void;
}

export interface RuleState {
  rule: ApprovalRule;
  eligible: User[];
  approvedBy: User[];
  approved: boolean;
}

const DEFAULT_APPROVAL_SETTINGS: ApprovalSettings = {
  approvals_before_merge: 0,
  reset_approvals_on_push: true,
  disable_overriding_approvers_per_merge_request: false,
  merge_requests_author_approval: false,
  merge_requests_disable_committers_approval: false,
  require_password_to_approve: false,
};

const MAX_FILE_BYTES = 10 * 1024 * 1024;
export const ZERO_SHA = '0'.repeat(40);
/** GitLab lists at most the newest 20 commits in a Push Hook (total_commits_count has them all). */
const PUSH_HOOK_COMMITS = 20;

export class SandboxState {
  readonly store = new ObjectStore();
  readonly users: User[] = [];
  readonly groups: Group[] = [];
  readonly projects: Project[] = [];
  /**
   * The CI JWT signing key and job/pipeline counters (ci-id-token.ts): restored from the state file,
   * or created on first use (an RSA key takes a while; most sandboxes never need one).
   */
  ci: CiSigning | undefined = undefined;
  private nextId = { user: 1, group: 1, project: 1, mr: 1, issue: 1, note: 1, hook: 1, rule: 1, label: 1, status: 1, protected: 1 };

  constructor(
    seed: Seed,
    private readonly opts: StateOptions,
  ) {
    this.load(seed);
  }

  /** Note a change that raises no event, so a persisted sandbox saves it. */
  changed(): void {
    this.opts.changed?.();
  }

  get instanceUrl(): string {
    return this.opts.instanceUrl;
  }

  now(): Date {
    return this.opts.now();
  }

  private seconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  // ---------------------------------------------------------------- seed

  private load(seed: Seed): void {
    for (const u of seed.users)
      this.addUser({ username: u.username, name: u.name, email: u.email, bot: u.bot, admin: u.admin, state: u.state, tokens: [u.token, ...(u.tokens ?? [])].filter((t): t is string => !!t) });
    for (const g of seed.groups) {
      const group = this.ensureGroup(g.path, g.name);
      for (const m of g.members) {
        const user = this.userByUsername(memberName(m)) as User;
        group.members.set(user.id, typeof m === 'string' ? ACCESS.developer : m.access_level);
      }
    }
    for (const p of seed.projects) {
      const project = this.addProject({
        path: p.path,
        name: p.name,
        description: p.description,
        defaultBranch: p.default_branch,
        tier: p.tier,
        visibility: p.visibility,
        files: p.files,
      });
      for (const m of p.members) {
        const user = this.userByUsername(memberName(m)) as User;
        project.members.set(user.id, typeof m === 'string' ? ACCESS.developer : m.access_level);
      }
      const protectedBranches = p.protected_branches ?? [p.default_branch];
      project.protectedBranches = protectedBranches.map((b) =>
        typeof b === 'string'
          ? { id: this.nextId.protected++, name: b, pushAccessLevel: ACCESS.maintainer, mergeAccessLevel: ACCESS.maintainer }
          : { id: this.nextId.protected++, name: b.name, pushAccessLevel: b.push_access_level, mergeAccessLevel: b.merge_access_level },
      );
      Object.assign(project.approvalSettings, p.approvals ?? {});
      for (const r of p.approval_rules)
        project.approvalRules.push({
          id: this.nextId.rule++,
          name: r.name,
          ruleType: r.users.length === 0 && r.groups.length === 0 ? 'any_approver' : 'regular',
          approvalsRequired: r.approvals_required,
          userIds: r.users.map((u) => (this.userByUsername(u) as User).id),
          groupIds: r.groups.map((g) => (this.groupByPath(g) as Group).id),
          sourceRuleId: null,
        });
      for (const l of p.labels) this.createLabel(project, l.name, l.color, null);
      for (const h of p.hooks) this.addHook(project, h);
    }
  }

  // ---------------------------------------------------------------- users & groups

  addUser(input: { username: string; name?: string; email?: string; bot?: boolean; admin?: boolean; state?: 'active' | 'blocked'; tokens?: string[] }): User {
    if (this.userByUsername(input.username)) throw badRequest(`username ${input.username} is taken`);
    const user: User = {
      id: this.nextId.user++,
      username: input.username,
      name: input.name ?? input.username,
      email: input.email ?? `${input.username}@example.com`,
      bot: input.bot ?? false,
      admin: input.admin ?? false,
      state: input.state ?? 'active',
      tokens: new Set(input.tokens ?? []),
      createdAt: this.now(),
    };
    this.users.push(user);
    return user;
  }

  userByUsername(username: string): User | undefined {
    const lower = username.toLowerCase();
    return this.users.find((u) => u.username.toLowerCase() === lower);
  }

  userById(id: number): User | undefined {
    return this.users.find((u) => u.id === id);
  }

  userByToken(token: string): User | undefined {
    return this.users.find((u) => u.tokens.has(token));
  }

  groupByPath(path: string): Group | undefined {
    const lower = path.toLowerCase();
    return this.groups.find((g) => g.fullPath.toLowerCase() === lower);
  }

  groupById(id: number): Group | undefined {
    return this.groups.find((g) => g.id === id);
  }

  ensureGroup(fullPath: string, name?: string): Group {
    const existing = this.groupByPath(fullPath);
    if (existing) return existing;
    const slash = fullPath.lastIndexOf('/');
    const parent = slash === -1 ? null : this.ensureGroup(fullPath.slice(0, slash));
    const path = fullPath.slice(slash + 1);
    const group: Group = {
      id: this.nextId.group++,
      path,
      fullPath,
      name: name ?? path,
      parentId: parent ? parent.id : null,
      members: new Map(),
      createdAt: this.now(),
    };
    this.groups.push(group);
    return group;
  }

  /** The group and its ancestors, nearest first. */
  groupAncestry(group: Group): Group[] {
    const out: Group[] = [];
    let cur: Group | undefined = group;
    while (cur) {
      out.push(cur);
      cur = cur.parentId === null ? undefined : this.groupById(cur.parentId);
    }
    return out;
  }

  /** Members including those inherited from ancestor groups; the highest level wins. */
  groupMembersAll(group: Group): Map<number, { level: number; sourceId: number }> {
    const out = new Map<number, { level: number; sourceId: number }>();
    for (const g of this.groupAncestry(group))
      for (const [uid, level] of g.members) {
        const cur = out.get(uid);
        if (!cur || level > cur.level) out.set(uid, { level, sourceId: g.id });
      }
    return out;
  }

  // ---------------------------------------------------------------- projects & access

  addProject(input: { path: string; name?: string; description?: string; defaultBranch?: string; tier?: Tier; visibility?: Project['visibility']; files?: Record<string, string> }): Project {
    if (this.projectByPath(input.path)) throw badRequest(`project ${input.path} exists`);
    const slash = input.path.lastIndexOf('/');
    const namespace = this.ensureGroup(input.path.slice(0, slash));
    const path = input.path.slice(slash + 1);
    const defaultBranch = input.defaultBranch ?? 'main';
    const project: Project = {
      id: this.nextId.project++,
      name: input.name ?? path,
      path,
      pathWithNamespace: input.path,
      namespaceId: namespace.id,
      description: input.description ?? '',
      defaultBranch,
      tier: input.tier ?? 'premium',
      visibility: input.visibility ?? 'private',
      branches: new Map(),
      protectedBranches: [],
      members: new Map(),
      approvalSettings: { ...DEFAULT_APPROVAL_SETTINGS },
      approvalRules: [],
      labels: [],
      hooks: [],
      mergeRequests: [],
      issues: [],
      statuses: [],
      pushEvents: [],
      nextMrIid: 1,
      nextIssueIid: 1,
      createdAt: this.now(),
    };
    const files = new Map<string, string>();
    for (const [p, content] of Object.entries(input.files ?? {})) files.set(p, this.store.putBlob(content));
    const initial = this.store.writeCommit({
      files,
      parents: [],
      author: { name: 'Sandbox Seed', email: 'seed@sandbox.invalid', time: this.seconds() },
      message: 'Initial commit\n',
    });
    project.branches.set(defaultBranch, initial.id);
    this.projects.push(project);
    return project;
  }

  projectByPath(path: string): Project | undefined {
    const lower = path.toLowerCase();
    return this.projects.find((p) => p.pathWithNamespace.toLowerCase() === lower);
  }

  namespaceOf(project: Project): Group {
    return this.groupById(project.namespaceId) as Group;
  }

  /** Effective access level: direct project membership or inherited group membership. */
  /** The next commit-status id: one counter in the state, so ids continue after a restore. */
  allocateStatusId(): number {
    return this.nextId.status++;
  }

  accessLevel(user: User, project: Project): number {
    if (user.admin) return ACCESS.owner;
    let level = project.members.get(user.id) ?? 0;
    const inherited = this.groupMembersAll(this.namespaceOf(project)).get(user.id);
    if (inherited && inherited.level > level) level = inherited.level;
    return level;
  }

  projectMembersAll(project: Project): Map<number, number> {
    const out = new Map<number, number>();
    for (const [uid, { level }] of this.groupMembersAll(this.namespaceOf(project))) out.set(uid, level);
    for (const [uid, level] of project.members) if (level > (out.get(uid) ?? 0)) out.set(uid, level);
    return out;
  }

  /** Find a project by numeric id or full path; 404 when the user may not see it, as GitLab does. */
  findProject(idOrPath: string, user: User | undefined): Project {
    const project = /^\d+$/.test(idOrPath) ? this.projects.find((p) => p.id === Number(idOrPath)) : this.projectByPath(idOrPath);
    if (!project || !this.canRead(user, project)) throw notFound('Project');
    return project;
  }

  canRead(user: User | undefined, project: Project): boolean {
    if (project.visibility === 'public') return true;
    if (!user) return false;
    if (project.visibility === 'internal') return true;
    return this.accessLevel(user, project) >= ACCESS.guest;
  }

  requireAccess(user: User, project: Project, level: number): void {
    if (this.accessLevel(user, project) < level) throw forbidden();
  }

  protectedBranch(project: Project, branch: string): Project['protectedBranches'][number] | undefined {
    return project.protectedBranches.find((b) => b.name === branch || (b.name.includes('*') && new RegExp(`^${b.name.split('*').map(escapeRegExp).join('.*')}$`).test(branch)));
  }

  canPush(user: User, project: Project, branch: string): boolean {
    const level = this.accessLevel(user, project);
    const pb = this.protectedBranch(project, branch);
    return level >= (pb ? pb.pushAccessLevel : ACCESS.developer);
  }

  canMergeInto(user: User, project: Project, branch: string): boolean {
    const level = this.accessLevel(user, project);
    const pb = this.protectedBranch(project, branch);
    return level >= (pb ? pb.mergeAccessLevel : ACCESS.developer);
  }

  // ---------------------------------------------------------------- repository

  branchHead(project: Project, branch: string): string | undefined {
    return project.branches.get(branch);
  }

  /** Resolve a ref (branch name, full or short sha) to a commit. */
  resolveRef(project: Project, ref: string): Commit | undefined {
    const head = project.branches.get(ref);
    if (head) return this.store.commit(head);
    const commit = this.store.findCommit(ref);
    // A commit is visible in a project only if one of its branches reaches it.
    if (commit && [...project.branches.values()].some((h) => this.store.isAncestor(commit.id, h))) return commit;
    if (commit && project.mergeRequests.some((m) => this.store.isAncestor(commit.id, m.headSha))) return commit;
    return undefined;
  }

  signatureOf(user: User): Signature {
    return { name: user.name, email: user.email, time: this.seconds() };
  }

  /** POST /projects/:id/repository/commits semantics. */
  commit(
    project: Project,
    user: User,
    input: {
      branch: string;
      startBranch?: string;
      startSha?: string;
      message: string;
      actions: FileAction[];
      authorName?: string;
      authorEmail?: string;
      /** A git push's committer line (the REST API always writes the user's own). */
      committerName?: string;
      committerEmail?: string;
      force?: boolean;
    },
    /** A git push's author and committer dates (seconds), which the pusher writes; the REST API always writes now. */
    time?: number,
  ): Commit {
    if (!input.branch) throw paramError('branch is missing');
    if (!input.message) throw paramError('commit_message is missing');
    if (!Array.isArray(input.actions) || input.actions.length === 0) throw paramError('actions is missing');
    if (input.actions.length > 1000) throw paramError('actions has too many elements');
    if (!this.canPush(user, project, input.branch)) throw forbidden();
    const existing = project.branches.get(input.branch);
    let parentId = existing;
    if (input.startSha) {
      const c = this.resolveRef(project, input.startSha);
      if (!c) throw badRequest(`Invalid start SHA: ${input.startSha}`);
      parentId = c.id;
    } else if (input.startBranch) {
      const h = project.branches.get(input.startBranch);
      if (!h) throw badRequest(`You can only create or edit files when you are on a branch`);
      if (existing && !input.force && existing !== h) throw badRequest(`A branch called '${input.branch}' already exists. Switch to that branch in order to make changes`);
      parentId = h;
    }
    if (!parentId) throw badRequest('You can only create or edit files when you are on a branch');
    const parent = this.store.commit(parentId) as Commit;
    const files = new Map(parent.files);
    for (const [i, a] of input.actions.entries()) this.applyAction(files, a, i);
    const author = this.signatureOf(user);
    const committer = this.signatureOf(user);
    if (time !== undefined) author.time = committer.time = time;
    if (input.authorName) author.name = input.authorName;
    if (input.authorEmail) author.email = input.authorEmail;
    const message = input.message;
    if (input.committerName) committer.name = input.committerName;
    if (input.committerEmail) committer.email = input.committerEmail;
    const commit = this.store.writeCommit({ files, parents: [parent.id], author, committer, message });
    this.moveBranch(project, input.branch, commit.id, user);
    return commit;
  }

  private applyAction(files: Map<string, string>, a: FileAction, i: number): void {
    if (!a || typeof a !== 'object') throw paramError(`actions[${i}] is invalid`);
    const path = normalizePath(a.file_path);
    if (!path) throw paramError(`actions[${i}][file_path] is invalid`);
    const content = (): string => {
      if (a.content === undefined || a.content === null) return '';
      if (typeof a.content !== 'string') throw paramError(`actions[${i}][content] is invalid`);
      const buf = a.encoding === 'base64' ? Buffer.from(a.content, 'base64') : Buffer.from(a.content, 'utf8');
      if (buf.length > MAX_FILE_BYTES) throw badRequest(`A file in this commit is larger than ${MAX_FILE_BYTES} bytes`);
      return this.store.putBlob(buf);
    };
    const checkLast = (p: string): void => {
      if (a.last_commit_id !== undefined) {
        // GitLab compares with the last commit that touched the file; we approximate with the blob.
        const c = this.store.findCommit(a.last_commit_id);
        if (!c || c.files.get(p) !== files.get(p)) throw badRequest(`The file has changed since you started editing it: ${p}`);
      }
    };
    switch (a.action) {
      case 'create':
        if (files.has(path)) throw badRequest(`A file with this name already exists`);
        files.set(path, content());
        return;
      case 'update':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        checkLast(path);
        files.set(path, content());
        return;
      case 'delete':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        checkLast(path);
        files.delete(path);
        return;
      case 'move': {
        const prev = normalizePath(a.previous_path ?? '');
        if (!prev || !files.has(prev)) throw badRequest(`A file with this name doesn't exist`);
        if (files.has(path)) throw badRequest(`A file with this name already exists`);
        const blob = a.content === undefined || a.content === null ? (files.get(prev) as string) : content();
        files.delete(prev);
        files.set(path, blob);
        return;
      }
      case 'chmod':
        if (!files.has(path)) throw badRequest(`A file with this name doesn't exist`);
        return;
      default:
        throw paramError(`actions[${i}][action] does not have a valid value`);
    }
  }

  /** Point a branch at a commit (a push): a Push Hook, then open MRs from that branch see the new head. */
  moveBranch(project: Project, branch: string, sha: string, actor: User): void {
    const previous = project.branches.get(branch);
    project.branches.set(branch, sha);
    if (previous === sha) return;
    // A new branch's commits are those its default branch does not have.
    const since = previous ?? (branch === project.defaultBranch ? undefined : project.branches.get(project.defaultBranch));
    const pushed = this.store.commitsBetween(since, sha);
    this.emitPush(project, actor, branch, previous ?? ZERO_SHA, sha, pushed);
    for (const mr of project.mergeRequests) {
      if (mr.state !== 'opened' || mr.sourceBranch !== branch) continue;
      const oldrev = mr.headSha;
      mr.headSha = sha;
      mr.updatedAt = this.now();
      mr.versions.push({ id: mr.versions.length + 1, headSha: sha, createdAt: mr.updatedAt });
      const changes: Record<string, { previous: unknown; current: unknown }> = {};
      if (project.tier === 'premium' && project.approvalSettings.reset_approvals_on_push && mr.approvals.length > 0) mr.approvals = [];
      this.opts.emit({ kind: 'merge_request', project, mr, actor, action: 'update', changes, oldrev });
    }
  }

  private emitPush(project: Project, actor: User, branch: string, before: string, after: string, newestFirst: Commit[]): void {
    // GitLab records every push as a project event (EventCreateService#push), webhooks or not.
    project.pushEvents.push({
      id: project.pushEvents.length + 1,
      authorId: actor.id,
      action: before === ZERO_SHA ? 'created' : after === ZERO_SHA ? 'removed' : 'pushed',
      ref: branch,
      commitFrom: before === ZERO_SHA ? null : before,
      commitTo: after === ZERO_SHA ? null : after,
      commitCount: newestFirst.length,
      commitTitle: newestFirst[0] ? (newestFirst[0].message.split('\n')[0] ?? '').slice(0, 70) : null,
      createdAt: this.now(),
    });
    const commits = newestFirst.slice(0, PUSH_HOOK_COMMITS).reverse();
    this.opts.emit({ kind: 'push', project, actor, branch, before, after, commits, totalCommits: newestFirst.length });
  }

  createBranch(project: Project, user: User, branch: string, ref: string): Commit {
    if (!branch) throw paramError('branch is missing');
    if (!ref) throw paramError('ref is missing');
    if (!/^[A-Za-z0-9._/-]+$/.test(branch) || branch.includes('..') || branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.lock'))
      throw badRequest('Branch name is invalid');
    if (!this.canPush(user, project, branch)) throw forbidden();
    if (project.branches.has(branch)) throw badRequest('Branch already exists');
    const commit = this.resolveRef(project, ref);
    if (!commit) throw badRequest('Invalid reference name: ' + ref);
    project.branches.set(branch, commit.id);
    // "If you create and push a branch without any new commits, the commits attribute is empty."
    this.emitPush(project, user, branch, ZERO_SHA, commit.id, []);
    return commit;
  }

  deleteBranch(project: Project, user: User, branch: string): void {
    if (!project.branches.has(branch)) throw notFound('Branch');
    if (branch === project.defaultBranch) throw badRequest('The default branch of a project cannot be deleted.');
    if (this.protectedBranch(project, branch)) throw forbidden();
    this.requireAccess(user, project, ACCESS.developer);
    this.removeBranch(project, user, branch);
  }

  private removeBranch(project: Project, actor: User, branch: string): void {
    const before = project.branches.get(branch);
    if (!before) return;
    project.branches.delete(branch);
    this.emitPush(project, actor, branch, before, ZERO_SHA, []);
  }

  /** Three-way merge of flattened trees; undefined when the same path changed differently on both sides. */
  mergeTrees(base: Commit | undefined, ours: Commit, theirs: Commit): Map<string, string> | undefined {
    const b = base?.files ?? new Map<string, string>();
    const paths = new Set([...b.keys(), ...ours.files.keys(), ...theirs.files.keys()]);
    const out = new Map<string, string>();
    for (const p of paths) {
      const [vb, vo, vt] = [b.get(p), ours.files.get(p), theirs.files.get(p)];
      let v: string | undefined;
      if (vo === vt) v = vo;
      else if (vb === vo) v = vt;
      else if (vb === vt) v = vo;
      else return undefined;
      if (v !== undefined) out.set(p, v);
    }
    return out;
  }

  // ---------------------------------------------------------------- labels

  createLabel(project: Project, name: string, color: string, description: string | null): Label {
    if (!name) throw paramError('name is missing');
    if (!color) throw paramError('color is missing');
    if (project.labels.some((l) => l.name === name)) throw conflict('Label already exists');
    const label: Label = { id: this.nextId.label++, name, color, description, createdAt: this.now() };
    project.labels.push(label);
    return label;
  }

  /** GitLab creates labels named on an MR/issue that do not exist yet. */
  ensureLabels(project: Project, names: string[]): string[] {
    const out: string[] = [];
    for (const raw of names) {
      const name = raw.trim();
      if (!name || out.includes(name)) continue;
      if (!project.labels.some((l) => l.name === name)) this.createLabel(project, name, '#6699cc', null);
      out.push(name);
    }
    return out;
  }

  // ---------------------------------------------------------------- hooks

  addHook(project: Project, h: SeedHook & { enable_ssl_verification?: boolean }): Hook {
    const hook: Hook = {
      id: this.nextId.hook++,
      projectId: project.id,
      url: h.url,
      token: h.token ?? null,
      signingToken: h.signing_token ?? null,
      events: {
        merge_requests_events: h.merge_requests_events,
        note_events: h.note_events,
        issues_events: h.issues_events,
        push_events: h.push_events,
      },
      enableSslVerification: h.enable_ssl_verification ?? true,
      createdAt: this.now(),
    };
    project.hooks.push(hook);
    return hook;
  }

  // ---------------------------------------------------------------- merge requests

  findMr(project: Project, iid: string | number): MergeRequest {
    const n = Number(iid);
    const mr = Number.isInteger(n) ? project.mergeRequests.find((m) => m.iid === n) : undefined;
    if (!mr) throw notFound();
    return mr;
  }

  createMr(
    project: Project,
    user: User,
    input: { sourceBranch: string; targetBranch: string; title: string; description?: string; assigneeIds?: number[]; reviewerIds?: number[]; labels?: string[]; removeSourceBranch?: boolean },
  ): MergeRequest {
    if (!input.sourceBranch) throw paramError('source_branch is missing');
    if (!input.targetBranch) throw paramError('target_branch is missing');
    if (!input.title) throw paramError('title is missing');
    if (input.title.length > 255) throw badRequest('title is too long (maximum is 255 characters)');
    if ((input.description ?? '').length > 1_048_576) throw badRequest('description is too long (maximum is 1048576 characters)');
    this.requireAccess(user, project, ACCESS.developer);
    const head = project.branches.get(input.sourceBranch);
    if (!head) throw badRequest('Invalid source branch'); // GitLab: 400 with a validation message
    if (!project.branches.has(input.targetBranch)) throw badRequest('Invalid target branch');
    if (input.sourceBranch === input.targetBranch) throw unprocessable(['You can\'t use same project/branch for source and target']);
    const dup = project.mergeRequests.find((m) => m.state === 'opened' && m.sourceBranch === input.sourceBranch && m.targetBranch === input.targetBranch);
    if (dup) throw new ConflictMr(dup.iid);
    const now = this.now();
    const mr: MergeRequest = {
      id: this.nextId.mr++,
      iid: project.nextMrIid++,
      projectId: project.id,
      title: input.title,
      description: input.description ?? '',
      sourceBranch: input.sourceBranch,
      targetBranch: input.targetBranch,
      authorId: user.id,
      assigneeIds: this.validUserIds(input.assigneeIds),
      reviewerIds: this.validUserIds(input.reviewerIds),
      labels: this.ensureLabels(project, input.labels ?? []),
      state: 'opened',
      headSha: head,
      mergedTargetSha: null,
      mergeCommitSha: null,
      mergeUserId: null,
      mergedAt: null,
      closedById: null,
      closedAt: null,
      approvals: [],
      versions: [{ id: 1, headSha: head, createdAt: now }],
      rules: project.approvalRules.map((r) => ({ ...r, id: this.nextId.rule++, userIds: [...r.userIds], groupIds: [...r.groupIds], sourceRuleId: r.id })),
      rulesOverwritten: false,
      notes: [],
      createdAt: now,
      updatedAt: now,
      updatedById: null,
      lastEditedAt: null,
      lastEditedById: null,
      removeSourceBranch: input.removeSourceBranch ?? false,
    };
    project.mergeRequests.push(mr);
    this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action: 'open', changes: {} });
    return mr;
  }

  private validUserIds(ids: number[] | undefined): number[] {
    return [...new Set((ids ?? []).filter((id) => this.userById(id)))];
  }

  isDraft(mr: MergeRequest): boolean {
    return /^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)/i.test(mr.title);
  }

  editMr(
    project: Project,
    mr: MergeRequest,
    user: User,
    input: { title?: string; description?: string; targetBranch?: string; stateEvent?: string; labels?: string[]; addLabels?: string[]; removeLabels?: string[]; assigneeIds?: number[]; reviewerIds?: number[]; removeSourceBranch?: boolean },
  ): MergeRequest {
    if (mr.authorId !== user.id) this.requireAccess(user, project, ACCESS.developer);
    else this.requireAccess(user, project, ACCESS.guest);
    const changes: Record<string, { previous: unknown; current: unknown }> = {};
    const now = this.now();
    const set = <K extends keyof MergeRequest>(key: K, attr: string, value: MergeRequest[K]) => {
      if (JSON.stringify(mr[key]) === JSON.stringify(value)) return;
      changes[attr] = { previous: mr[key], current: value };
      mr[key] = value;
    };
    const wasDraft = this.isDraft(mr);
    if (input.title !== undefined) {
      if (!input.title) throw badRequest('title can\'t be blank');
      if (input.title.length > 255) throw badRequest('title is too long (maximum is 255 characters)');
      set('title', 'title', input.title);
    }
    if (input.description !== undefined) {
      if (input.description.length > 1_048_576) throw badRequest('description is too long (maximum is 1048576 characters)');
      set('description', 'description', input.description);
    }
    if (input.targetBranch !== undefined) {
      if (!project.branches.has(input.targetBranch)) throw badRequest('Invalid target branch');
      set('targetBranch', 'target_branch', input.targetBranch);
    }
    if (input.assigneeIds !== undefined) set('assigneeIds', 'assignees', this.validUserIds(input.assigneeIds));
    if (input.reviewerIds !== undefined) set('reviewerIds', 'reviewers', this.validUserIds(input.reviewerIds));
    if (input.removeSourceBranch !== undefined) mr.removeSourceBranch = input.removeSourceBranch;
    let labels = mr.labels;
    if (input.labels !== undefined) labels = this.ensureLabels(project, input.labels);
    if (input.addLabels) labels = [...new Set([...labels, ...this.ensureLabels(project, input.addLabels)])];
    if (input.removeLabels) labels = labels.filter((l) => !input.removeLabels?.includes(l));
    if (JSON.stringify(labels) !== JSON.stringify(mr.labels)) {
      changes['labels'] = { previous: mr.labels, current: labels };
      mr.labels = labels;
    }
    if (this.isDraft(mr) !== wasDraft) changes['draft'] = { previous: wasDraft, current: this.isDraft(mr) };
    let action: 'update' | 'close' | 'reopen' = 'update';
    if (input.stateEvent !== undefined) {
      if (input.stateEvent === 'close') {
        if (mr.state === 'opened') {
          changes['state_id'] = { previous: 1, current: 2 };
          mr.state = 'closed';
          mr.closedAt = now;
          mr.closedById = user.id;
          action = 'close';
        }
      } else if (input.stateEvent === 'reopen') {
        if (mr.state === 'closed') {
          if (!project.branches.has(mr.sourceBranch)) throw unprocessable('Cannot reopen merge request: source branch was deleted');
          changes['state_id'] = { previous: 2, current: 1 };
          mr.state = 'opened';
          mr.closedAt = null;
          mr.closedById = null;
          mr.headSha = project.branches.get(mr.sourceBranch) as string;
          action = 'reopen';
        }
      } else throw paramError('state_event does not have a valid value');
    }
    const contentChanged = ['title', 'description'].some((k) => k in changes);
    if (Object.keys(changes).length > 0) {
      changes['updated_at'] = { previous: hookTime(mr.updatedAt), current: hookTime(now) };
      if (mr.updatedById !== user.id) changes['updated_by_id'] = { previous: mr.updatedById, current: user.id };
      mr.updatedAt = now;
      mr.updatedById = user.id;
      if (contentChanged) {
        changes['last_edited_at'] = { previous: mr.lastEditedAt ? hookTime(mr.lastEditedAt) : null, current: hookTime(now) };
        changes['last_edited_by_id'] = { previous: mr.lastEditedById, current: user.id };
        mr.lastEditedAt = now;
        mr.lastEditedById = user.id;
      }
      if (action === 'update') this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes });
    }
    if (action !== 'update') this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes });
    return mr;
  }

  /** The commits an MR brings, newest first (frozen for merged MRs). */
  mrCommits(project: Project, mr: MergeRequest): Commit[] {
    const target = mr.mergedTargetSha ?? project.branches.get(mr.targetBranch);
    const base = target ? this.store.mergeBase(mr.headSha, target) : undefined;
    return this.store.commitsBetween(base, mr.headSha);
  }

  diffRefs(project: Project, mr: MergeRequest): { base_sha: string | null; head_sha: string; start_sha: string | null } {
    const target = mr.mergedTargetSha ?? project.branches.get(mr.targetBranch) ?? null;
    const base = target ? (this.store.mergeBase(mr.headSha, target) ?? null) : null;
    return { base_sha: base, head_sha: mr.headSha, start_sha: target };
  }

  private readonly conflictCache = new Map<string, boolean>();

  hasConflicts(project: Project, mr: MergeRequest): boolean {
    if (mr.state !== 'opened') return false;
    const target = project.branches.get(mr.targetBranch);
    if (!target) return false;
    const key = `${mr.headSha}:${target}`;
    const cached = this.conflictCache.get(key);
    if (cached !== undefined) return cached;
    const base = this.store.mergeBase(mr.headSha, target);
    const merged = this.mergeTrees(base ? this.store.commit(base) : undefined, this.store.commit(target) as Commit, this.store.commit(mr.headSha) as Commit);
    this.conflictCache.set(key, merged === undefined);
    return merged === undefined;
  }

  // ---------------------------------------------------------------- approvals

  /** Users who authored or committed the MR's commits (matched by e-mail, as GitLab does). */
  committers(project: Project, mr: MergeRequest): Set<number> {
    const emails = new Set<string>();
    for (const c of this.mrCommits(project, mr)) emails.add(c.author.email.toLowerCase()).add(c.committer.email.toLowerCase());
    return new Set(this.users.filter((u) => emails.has(u.email.toLowerCase())).map((u) => u.id));
  }

  /** Why `user` may not approve, or undefined when they may (premium restrictions only apply on premium). */
  approvalRefusal(project: Project, mr: MergeRequest, user: User): 'already' | 'author' | 'committer' | 'merged' | undefined {
    if (mr.state === 'merged') return 'merged';
    if (mr.approvals.some((a) => a.userId === user.id)) return 'already';
    if (project.tier !== 'premium') return undefined;
    if (mr.authorId === user.id && !project.approvalSettings.merge_requests_author_approval) return 'author';
    if (project.approvalSettings.merge_requests_disable_committers_approval && this.committers(project, mr).has(user.id)) return 'committer';
    return undefined;
  }

  ruleEligible(project: Project, rule: ApprovalRule): User[] {
    const ids = new Set<number>();
    if (rule.ruleType === 'any_approver') {
      for (const [uid, level] of this.projectMembersAll(project)) if (level >= ACCESS.developer) ids.add(uid);
    } else {
      for (const id of rule.userIds) ids.add(id);
      for (const gid of rule.groupIds) {
        const g = this.groupById(gid);
        if (g) for (const uid of this.groupMembersAll(g).keys()) ids.add(uid);
      }
    }
    return [...ids].map((id) => this.userById(id)).filter((u): u is User => !!u);
  }

  /** Effective rules of an MR (premium): its own rules, or an implicit any-approver rule from approvals_before_merge. */
  effectiveRules(project: Project, mr: MergeRequest): ApprovalRule[] {
    if (project.tier !== 'premium') return [];
    if (mr.rules.length > 0) return mr.rules;
    const n = project.approvalSettings.approvals_before_merge;
    return n > 0 ? [{ id: 0, name: 'All Members', ruleType: 'any_approver', approvalsRequired: n, userIds: [], groupIds: [], sourceRuleId: null }] : [];
  }

  ruleStates(project: Project, mr: MergeRequest): RuleState[] {
    const approvers = mr.approvals.map((a) => this.userById(a.userId)).filter((u): u is User => !!u);
    return this.effectiveRules(project, mr).map((rule) => {
      const eligible = this.ruleEligible(project, rule);
      const eligibleIds = new Set(eligible.map((u) => u.id));
      const approvedBy = approvers.filter((u) => eligibleIds.has(u.id));
      return { rule, eligible, approvedBy, approved: approvedBy.length >= rule.approvalsRequired };
    });
  }

  approvalsRequired(project: Project, mr: MergeRequest): number {
    return this.effectiveRules(project, mr).reduce((n, r) => n + r.approvalsRequired, 0);
  }

  approvalsLeft(project: Project, mr: MergeRequest): number {
    return this.ruleStates(project, mr).reduce((n, s) => n + Math.max(0, s.rule.approvalsRequired - s.approvedBy.length), 0);
  }

  /** Premium: every rule met. Free: nothing is enforced. */
  approvalsMet(project: Project, mr: MergeRequest): boolean {
    return project.tier !== 'premium' || this.ruleStates(project, mr).every((s) => s.approved);
  }

  /** GitLab's MergeRequest#approved?: Premium = no approvals left; Free = at least one approval. */
  isApproved(project: Project, mr: MergeRequest): boolean {
    return project.tier === 'premium' ? this.approvalsLeft(project, mr) === 0 : mr.approvals.length > 0;
  }

  approve(project: Project, mr: MergeRequest, user: User, sha: string | undefined): void {
    this.requireAccess(user, project, ACCESS.developer);
    if (sha !== undefined && sha !== mr.headSha) throw conflict(`SHA does not match HEAD of source branch: ${mr.headSha}`);
    if (this.approvalRefusal(project, mr, user)) throw unauthorized();
    mr.approvals.push({ userId: user.id, createdAt: this.now() });
    const action = project.tier === 'premium' && this.approvalsLeft(project, mr) > 0 ? 'approval' : 'approved';
    this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes: {} });
  }

  unapprove(project: Project, mr: MergeRequest, user: User): void {
    this.requireAccess(user, project, ACCESS.developer);
    const idx = mr.approvals.findIndex((a) => a.userId === user.id);
    if (idx === -1 || mr.state === 'merged') throw notFound();
    const wasApproved = this.isApproved(project, mr);
    mr.approvals.splice(idx, 1);
    // GitLab sends 'unapproved' only when this removal takes the MR from approved to not approved.
    const action = wasApproved && !this.isApproved(project, mr) ? 'unapproved' : 'unapproval';
    this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action, changes: {} });
  }

  requirePremium(project: Project): void {
    // GitLab Free answers Premium-only approval endpoints with 403 Forbidden.
    if (project.tier !== 'premium') throw forbidden();
  }

  addMrRule(project: Project, mr: MergeRequest, user: User, input: { name: string; approvalsRequired: number; userIds: number[]; groupIds: number[]; usernames: string[] }): ApprovalRule {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.developer);
    if (project.approvalSettings.disable_overriding_approvers_per_merge_request) throw forbidden();
    if (mr.state === 'merged') throw forbidden();
    validateRuleInput(input);
    const userIds = [...input.userIds, ...input.usernames.map((n) => this.userByUsername(n)?.id).filter((id): id is number => id !== undefined)];
    const rule: ApprovalRule = {
      id: this.nextId.rule++,
      name: input.name,
      ruleType: userIds.length === 0 && input.groupIds.length === 0 ? 'any_approver' : 'regular',
      approvalsRequired: input.approvalsRequired,
      userIds: [...new Set(userIds.filter((id) => this.userById(id)))],
      groupIds: [...new Set(input.groupIds.filter((id) => this.groupById(id)))],
      sourceRuleId: null,
    };
    if (rule.ruleType === 'any_approver' && mr.rules.some((r) => r.ruleType === 'any_approver')) throw badRequest('{:rule_type=>["any-approver for the merge request already exists"]}');
    // GitLab validates a rule's name unique per MR and rule type (ApprovalMergeRequestRule).
    if (mr.rules.some((r) => r.name === rule.name && r.ruleType === rule.ruleType)) throw badRequest('{:name=>["has already been taken"]}');
    mr.rules.push(rule);
    mr.rulesOverwritten = true;
    return rule;
  }

  editMrRule(project: Project, mr: MergeRequest, user: User, ruleId: number, input: Partial<{ name: string; approvalsRequired: number; userIds: number[]; groupIds: number[]; usernames: string[] }>): ApprovalRule {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.developer);
    if (project.approvalSettings.disable_overriding_approvers_per_merge_request) throw forbidden();
    const rule = mr.rules.find((r) => r.id === ruleId);
    if (!rule) throw notFound();
    if (input.name !== undefined) {
      if (!input.name || input.name.length > 255) throw badRequest('{:name=>["is invalid"]}');
      rule.name = input.name;
    }
    if (input.approvalsRequired !== undefined) {
      if (!Number.isInteger(input.approvalsRequired) || input.approvalsRequired < 0) throw paramError('approvals_required does not have a valid value');
      rule.approvalsRequired = input.approvalsRequired;
    }
    if (input.userIds !== undefined || input.usernames !== undefined) {
      const ids = [...(input.userIds ?? []), ...(input.usernames ?? []).map((n) => this.userByUsername(n)?.id).filter((id): id is number => id !== undefined)];
      rule.userIds = [...new Set(ids.filter((id) => this.userById(id)))];
    }
    if (input.groupIds !== undefined) rule.groupIds = [...new Set(input.groupIds.filter((id) => this.groupById(id)))];
    rule.ruleType = rule.userIds.length === 0 && rule.groupIds.length === 0 ? 'any_approver' : 'regular';
    mr.rulesOverwritten = true;
    return rule;
  }

  removeMrRule(project: Project, mr: MergeRequest, user: User, ruleId: number): void {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.developer);
    if (project.approvalSettings.disable_overriding_approvers_per_merge_request) throw forbidden();
    const idx = mr.rules.findIndex((r) => r.id === ruleId);
    if (idx === -1) throw notFound();
    mr.rules.splice(idx, 1);
    mr.rulesOverwritten = true;
  }

  addProjectRule(project: Project, user: User, input: { name: string; approvalsRequired: number; userIds: number[]; groupIds: number[]; usernames: string[] }): ApprovalRule {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.maintainer);
    validateRuleInput(input);
    const userIds = [...input.userIds, ...input.usernames.map((n) => this.userByUsername(n)?.id).filter((id): id is number => id !== undefined)];
    const rule: ApprovalRule = {
      id: this.nextId.rule++,
      name: input.name,
      ruleType: userIds.length === 0 && input.groupIds.length === 0 ? 'any_approver' : 'regular',
      approvalsRequired: input.approvalsRequired,
      userIds: [...new Set(userIds.filter((id) => this.userById(id)))],
      groupIds: [...new Set(input.groupIds.filter((id) => this.groupById(id)))],
      sourceRuleId: null,
    };
    project.approvalRules.push(rule);
    return rule;
  }

  // ---------------------------------------------------------------- merge

  detailedMergeStatus(project: Project, mr: MergeRequest): string {
    if (mr.state !== 'opened') return 'not_open';
    if (this.isDraft(mr)) return 'draft_status';
    if (!project.branches.has(mr.sourceBranch) || !project.branches.has(mr.targetBranch)) return 'broken_status';
    if (this.hasConflicts(project, mr)) return 'conflict';
    if (!this.approvalsMet(project, mr)) return 'not_approved';
    return 'mergeable';
  }

  merge(project: Project, mr: MergeRequest, user: User, input: { sha?: string; mergeCommitMessage?: string; shouldRemoveSourceBranch?: boolean; squash?: boolean }): MergeRequest {
    this.requireAccess(user, project, ACCESS.reporter);
    if (!this.canMergeInto(user, project, mr.targetBranch)) throw unauthorized();
    if (this.detailedMergeStatus(project, mr) !== 'mergeable') throw notAllowed();
    if (input.sha !== undefined && input.sha !== mr.headSha) throw conflict('SHA does not match HEAD of source branch');
    const targetHead = project.branches.get(mr.targetBranch) as string;
    const base = this.store.mergeBase(mr.headSha, targetHead);
    const files = this.mergeTrees(base ? this.store.commit(base) : undefined, this.store.commit(targetHead) as Commit, this.store.commit(mr.headSha) as Commit);
    if (!files) throw unprocessable('Branch cannot be merged');
    const message =
      input.mergeCommitMessage ??
      `Merge branch '${mr.sourceBranch}' into '${mr.targetBranch}'\n\n${mr.title}\n\nSee merge request ${project.pathWithNamespace}!${mr.iid}`;
    const commit = this.store.writeCommit({ files, parents: [targetHead, mr.headSha], author: this.signatureOf(user), message });
    const now = this.now();
    const changes = { state_id: { previous: 1, current: 3 }, updated_at: { previous: hookTime(mr.updatedAt), current: hookTime(now) } };
    mr.state = 'merged';
    mr.mergedTargetSha = targetHead;
    mr.mergeCommitSha = commit.id;
    mr.mergeUserId = user.id;
    mr.mergedAt = now;
    mr.updatedAt = now;
    this.opts.emit({ kind: 'merge_request', project, mr, actor: user, action: 'merge', changes });
    this.moveBranch(project, mr.targetBranch, commit.id, user);
    if ((input.shouldRemoveSourceBranch ?? mr.removeSourceBranch) && !this.protectedBranch(project, mr.sourceBranch)) this.removeBranch(project, user, mr.sourceBranch);
    return mr;
  }

  // ---------------------------------------------------------------- notes

  addNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, body: string): Note {
    if (typeof body !== 'string' || body.trim() === '') throw paramError('body is missing');
    if (body.length > 1_000_000) throw badRequest('Note {:note=>["is too long (maximum is 1000000 characters)"]}');
    this.requireAccess(user, project, ACCESS.guest);
    const now = this.now();
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const note: Note = {
      id: this.nextId.note++,
      body,
      authorId: user.id,
      system: false,
      noteableType: target.mr ? 'MergeRequest' : 'Issue',
      noteableId: owner.id,
      noteableIid: owner.iid,
      createdAt: now,
      updatedAt: now,
      updatedById: null,
    };
    owner.notes.push(note);
    this.opts.emit({ kind: 'note', project, note, actor: user, action: 'create', mr: target.mr, issue: target.issue });
    return note;
  }

  editNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, noteId: number, body: string): Note {
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const note = owner.notes.find((n) => n.id === noteId);
    if (!note) throw notFound('Note');
    if (typeof body !== 'string' || body.trim() === '') throw paramError('body is missing');
    if (body.length > 1_000_000) throw badRequest('Note {:note=>["is too long (maximum is 1000000 characters)"]}');
    if (note.authorId !== user.id && this.accessLevel(user, project) < ACCESS.maintainer) throw forbidden();
    note.body = body;
    note.updatedAt = this.now();
    note.updatedById = user.id;
    this.opts.emit({ kind: 'note', project, note, actor: user, action: 'update', mr: target.mr, issue: target.issue });
    return note;
  }

  removeNote(project: Project, target: { mr?: MergeRequest; issue?: Issue }, user: User, noteId: number): void {
    const owner = (target.mr ?? target.issue) as MergeRequest | Issue;
    const idx = owner.notes.findIndex((n) => n.id === noteId);
    if (idx === -1) throw notFound('Note');
    const note = owner.notes[idx] as Note;
    if (note.authorId !== user.id && this.accessLevel(user, project) < ACCESS.maintainer) throw forbidden();
    owner.notes.splice(idx, 1);
  }

  // ---------------------------------------------------------------- issues

  createIssue(project: Project, user: User, input: { title: string; description?: string; labels?: string[]; assigneeIds?: number[]; confidential?: boolean; dueDate?: string }): Issue {
    if (!input.title) throw paramError('title is missing');
    if (input.title.length > 255) throw badRequest('{:title=>["is too long (maximum is 255 characters)"]}');
    this.requireAccess(user, project, ACCESS.guest);
    const now = this.now();
    const issue: Issue = {
      id: this.nextId.issue++,
      iid: project.nextIssueIid++,
      projectId: project.id,
      title: input.title,
      description: input.description ?? '',
      authorId: user.id,
      assigneeIds: this.validUserIds(input.assigneeIds),
      labels: this.ensureLabels(project, input.labels ?? []),
      state: 'opened',
      confidential: input.confidential ?? false,
      dueDate: input.dueDate ?? null,
      notes: [],
      createdAt: now,
      updatedAt: now,
      updatedById: null,
      closedAt: null,
    };
    project.issues.push(issue);
    this.opts.emit({ kind: 'issue', project, issue, actor: user, action: 'open', changes: {} });
    return issue;
  }

  editIssue(project: Project, issue: Issue, user: User, input: { title?: string; description?: string; labels?: string[]; stateEvent?: string }): Issue {
    this.requireAccess(user, project, ACCESS.reporter);
    if (input.stateEvent !== undefined && input.stateEvent !== 'close' && input.stateEvent !== 'reopen') throw paramError('state_event does not have a valid value');
    if (input.title !== undefined && (input.title === '' || input.title.length > 255)) throw badRequest('{:title=>["is invalid"]}');
    const changes: Record<string, { previous: unknown; current: unknown }> = {};
    const now = this.now();
    if (input.title !== undefined && input.title !== issue.title) {
      changes['title'] = { previous: issue.title, current: input.title };
      issue.title = input.title;
    }
    if (input.description !== undefined && input.description !== issue.description) {
      changes['description'] = { previous: issue.description, current: input.description };
      issue.description = input.description;
    }
    if (input.labels !== undefined) {
      const labels = this.ensureLabels(project, input.labels);
      if (JSON.stringify(labels) !== JSON.stringify(issue.labels)) changes['labels'] = { previous: issue.labels, current: labels };
      issue.labels = labels;
    }
    let action: 'update' | 'close' | 'reopen' = 'update';
    if (input.stateEvent === 'close' && issue.state === 'opened') {
      changes['state_id'] = { previous: 1, current: 2 };
      issue.state = 'closed';
      issue.closedAt = now;
      action = 'close';
    } else if (input.stateEvent === 'reopen' && issue.state === 'closed') {
      changes['state_id'] = { previous: 2, current: 1 };
      issue.state = 'opened';
      issue.closedAt = null;
      action = 'reopen';
    }
    if (Object.keys(changes).length === 0) return issue;
    changes['updated_at'] = { previous: hookTime(issue.updatedAt), current: hookTime(now) };
    if (issue.updatedById !== user.id) changes['updated_by_id'] = { previous: issue.updatedById, current: user.id };
    issue.updatedAt = now;
    issue.updatedById = user.id;
    this.opts.emit({ kind: 'issue', project, issue, actor: user, action, changes });
    return issue;
  }

  findIssue(project: Project, iid: string | number): Issue {
    const issue = project.issues.find((i) => i.iid === Number(iid));
    if (!issue) throw notFound();
    return issue;
  }
}

/** Raised when an open MR already exists for the branch pair: GitLab answers 409 with this message list. */
export class ConflictMr extends Error {
  constructor(readonly iid: number) {
    super(`Another open merge request already exists for this source branch: !${iid}`);
  }
}

function validateRuleInput(input: { name: string; approvalsRequired: number }): void {
  if (!input.name) throw paramError('name is missing');
  if (input.name.length > 255) throw badRequest('{:name=>["is too long (maximum is 255 characters)"]}');
  if (input.approvalsRequired === undefined || input.approvalsRequired === null || Number.isNaN(input.approvalsRequired))
    throw paramError('approvals_required is missing');
  if (!Number.isInteger(input.approvalsRequired) || input.approvalsRequired < 0 || input.approvalsRequired > 1000)
    throw paramError('approvals_required does not have a valid value');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Clean a repository path; '' when it escapes the root or is empty. */
export function normalizePath(p: unknown): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096 || p.includes('\0')) return '';
  const parts = p.split('/');
  if (p.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..')) return '';
  return parts.join('/');
}

/** Timestamps as GitLab writes them in hook `changes`: "2017-09-15 16:52:00 UTC". */
export function hookTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}
