// The sandbox's users, groups and projects, and who may see and do what in a project (access
// levels, inherited group membership, protected branches). The base of SandboxState (state.ts).
import type { CiSigning } from '../ci-id-token';
import { ObjectStore, type Commit } from '../git';
import { badRequest, forbidden, notFound } from '../http-error';
import type { ApprovalSettings, Group, Issue, MergeRequest, Note, Project, Tier, User } from '../model';

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

const DEFAULT_APPROVAL_SETTINGS: ApprovalSettings = {
  approvals_before_merge: 0,
  reset_approvals_on_push: true,
  disable_overriding_approvers_per_merge_request: false,
  merge_requests_author_approval: false,
  merge_requests_disable_committers_approval: false,
  require_password_to_approve: false,
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class AccessState {
  readonly store = new ObjectStore();
  readonly users: User[] = [];
  readonly groups: Group[] = [];
  readonly projects: Project[] = [];
  /**
   * The CI JWT signing key and job/pipeline counters (ci-id-token.ts): restored from the state file,
   * or created on first use (an RSA key takes a while; most sandboxes never need one).
   */
  ci: CiSigning | undefined = undefined;
  protected nextId = { user: 1, group: 1, project: 1, mr: 1, issue: 1, note: 1, hook: 1, rule: 1, label: 1, status: 1, protected: 1 };

  constructor(protected readonly opts: StateOptions) {}

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

  protected seconds(): number {
    return Math.floor(this.now().getTime() / 1000);
  }

  // ---------------------------------------------------------------- users & groups

  addUser(input: { username: string; name?: string; email?: string; bot?: boolean; admin?: boolean; state?: User['state']; tokens?: string[] }): User {
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
}
