// Approvals (Premium rules and settings, who may approve, approve/unapprove webhooks), MR and
// project approval rules, and what it takes to merge (detailed merge status, the merge itself).
import type { Commit } from '../git';
import { badRequest, conflict, forbidden, notAllowed, notFound, paramError, unauthorized, unprocessable } from '../http-error';
import type { ApprovalRule, MergeRequest, Project, User } from '../model';
import { ACCESS } from './access';
import { MergeRequestState, hookTime } from './merge-requests';

export interface RuleState {
  rule: ApprovalRule;
  eligible: User[];
  approvedBy: User[];
  approved: boolean;
}

/** An approval rule as the API takes it. */
type RuleInput = { name: string; approvalsRequired: number; userIds: number[]; groupIds: number[]; usernames: string[] };

function validateRuleInput(input: { name: string; approvalsRequired: number }): void {
  if (!input.name) throw paramError('name is missing');
  if (input.name.length > 255) throw badRequest('{:name=>["is too long (maximum is 255 characters)"]}');
  if (input.approvalsRequired === undefined || input.approvalsRequired === null || Number.isNaN(input.approvalsRequired)) throw paramError('approvals_required is missing');
  if (!Number.isInteger(input.approvalsRequired) || input.approvalsRequired < 0 || input.approvalsRequired > 1000) throw paramError('approvals_required does not have a valid value');
}

export class ApprovalState extends MergeRequestState {
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

  addMrRule(project: Project, mr: MergeRequest, user: User, input: RuleInput): ApprovalRule {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.developer);
    if (project.approvalSettings.disable_overriding_approvers_per_merge_request) throw forbidden();
    if (mr.state === 'merged') throw forbidden();
    const rule = this.newRule(input);
    if (rule.ruleType === 'any_approver' && mr.rules.some((r) => r.ruleType === 'any_approver')) throw badRequest('{:rule_type=>["any-approver for the merge request already exists"]}');
    // GitLab validates a rule's name unique per MR and rule type (ApprovalMergeRequestRule).
    if (mr.rules.some((r) => r.name === rule.name && r.ruleType === rule.ruleType)) throw badRequest('{:name=>["has already been taken"]}');
    mr.rules.push(rule);
    mr.rulesOverwritten = true;
    return rule;
  }

  editMrRule(project: Project, mr: MergeRequest, user: User, ruleId: number, input: Partial<RuleInput>): ApprovalRule {
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

  /** A new rule from its API input (validated; unknown users and groups left out). */
  private newRule(input: RuleInput): ApprovalRule {
    validateRuleInput(input);
    const userIds = [...input.userIds, ...input.usernames.map((n) => this.userByUsername(n)?.id).filter((id): id is number => id !== undefined)];
    return {
      id: this.nextId.rule++,
      name: input.name,
      ruleType: userIds.length === 0 && input.groupIds.length === 0 ? 'any_approver' : 'regular',
      approvalsRequired: input.approvalsRequired,
      userIds: [...new Set(userIds.filter((id) => this.userById(id)))],
      groupIds: [...new Set(input.groupIds.filter((id) => this.groupById(id)))],
      sourceRuleId: null,
    };
  }

  addProjectRule(project: Project, user: User, input: RuleInput): ApprovalRule {
    this.requirePremium(project);
    this.requireAccess(user, project, ACCESS.maintainer);
    const rule = this.newRule(input);
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
    const message = input.mergeCommitMessage ?? `Merge branch '${mr.sourceBranch}' into '${mr.targetBranch}'\n\n${mr.title}\n\nSee merge request ${project.pathWithNamespace}!${mr.iid}`;
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
}
