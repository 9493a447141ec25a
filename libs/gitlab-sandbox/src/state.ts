// The sandbox's behaviour: who may see and do what, the repository (commits, branches,
// three-way merges), merge requests, approvals and their rules, discussions, and which actions
// raise which webhook. HTTP shapes live in entities/ and routes/*; the rules live in state/,
// one layer per file (README.md says which file owns what); this file loads the seed.
import type { Group, User } from './model';
import { memberName, type Seed } from './seed';
import { ACCESS, type StateOptions } from './state/access';
import { DiscussionState } from './state/discussions';

export { ACCESS } from './state/access';
export type { SandboxEvent, StateOptions } from './state/access';
export { ZERO_SHA, normalizePath } from './state/repository';
export { ConflictMr, hookTime } from './state/merge-requests';
export type { RuleState } from './state/approvals';

export class SandboxState extends DiscussionState {
  constructor(seed: Seed, opts: StateOptions) {
    super(opts);
    this.load(seed);
  }

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
}
