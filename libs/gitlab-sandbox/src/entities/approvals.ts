// REST v4 response shapes (GitLab's EE API::Entities) of approval rules, MR approvals, the approval
// state and project approval settings.
import type { ApprovalRule, Group, MergeRequest, Project, User } from '../model';
import type { SandboxState } from '../state';
import { groupEntity, iso, userBasic } from './accounts';
import { mrBasics } from './merge-requests';

type Json = Record<string, unknown>;

/**
 * An approval rule as GitLab shows it: `project` rules (EE ProjectApprovalRule) carry their
 * protected branches, `mr` rules (MergeRequestApprovalRule) their section, source rule and
 * whether they override it.
 */
export function ruleEntity(s: SandboxState, p: Project, rule: ApprovalRule, kind: 'project' | 'mr'): Json {
  const users = rule.userIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  const groups = rule.groupIds.map((id) => s.groupById(id)).filter((g): g is Group => !!g);
  return {
    id: rule.id,
    name: rule.name,
    rule_type: rule.ruleType,
    eligible_approvers: s.ruleEligible(p, rule).map((u) => userBasic(s, u)),
    approvals_required: rule.approvalsRequired,
    users: users.map((u) => userBasic(s, u)),
    groups: groups.map((g) => groupEntity(s, g)),
    contains_hidden_groups: false,
    ...(kind === 'mr'
      ? { section: null, source_rule: rule.sourceRuleId ? { approvals_required: rule.approvalsRequired } : null, overridden: false }
      : { protected_branches: [], applies_to_all_protected_branches: false }),
  };
}

/** GET …/merge_requests/:iid/approvals (API::Entities::MergeRequestApprovals, EE fields on premium). */
export function approvalsEntity(s: SandboxState, p: Project, mr: MergeRequest, viewer: User | undefined): Json {
  const approvedBy = mr.approvals
    .map((a) => ({ a, u: s.userById(a.userId) }))
    .filter((x): x is { a: (typeof mr.approvals)[number]; u: User } => !!x.u)
    .map(({ a, u }) => ({ user: userBasic(s, u), approved_at: iso(a.createdAt) }));
  const premium = p.tier === 'premium';
  const left = s.approvalsLeft(p, mr);
  return {
    ...mrBasics(p, mr),
    merge_status: 'can_be_merged',
    approved: s.isApproved(p, mr),
    approvals_required: premium ? s.approvalsRequired(p, mr) : 0,
    approvals_left: premium ? left : 0,
    require_password_to_approve: p.approvalSettings.require_password_to_approve,
    approved_by: approvedBy,
    suggested_approvers: [],
    approvers: [],
    approver_groups: [],
    user_has_approved: viewer ? mr.approvals.some((a) => a.userId === viewer.id) : false,
    user_can_approve: viewer ? s.accessLevel(viewer, p) >= 30 && !s.approvalRefusal(p, mr, viewer) : false,
    approval_rules_left: premium
      ? s
          .ruleStates(p, mr)
          .filter((r) => !r.approved)
          .map((r) => ({ id: r.rule.id, name: r.rule.name, rule_type: r.rule.ruleType }))
      : [],
    has_approval_rules: premium && s.effectiveRules(p, mr).length > 0,
    merge_request_approvers_available: premium,
    multiple_approval_rules_available: premium,
    invalid_approvers_rules: [],
  };
}

export function approvalStateEntity(s: SandboxState, p: Project, mr: MergeRequest): Json {
  return {
    approval_rules_overwritten: mr.rulesOverwritten,
    rules: s.ruleStates(p, mr).map((st) => ({ ...ruleEntity(s, p, st.rule, 'mr'), approved_by: st.approvedBy.map((u) => userBasic(s, u)), approved: st.approved })),
  };
}

export function projectApprovalsEntity(s: SandboxState, p: Project): Json {
  return {
    approvers: [],
    approver_groups: [],
    ...p.approvalSettings,
  };
}
