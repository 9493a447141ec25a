// What the gate makes GitLab enforce: jit's one MR approval rule (restored when deleted or edited),
// the project's approval settings (author and committer approval off, reset on push; drift
// corrected and reported), and the `jit/policy` commit status. Every write is idempotent against
// GitLab's answer to a repeat (a redelivery, two replicas racing).
import { GitlabForbidden, GitlabRejected, isApprovalRulesUnsupported } from '@jit/gitlab';
import { ANY_HUMAN, STATUS_NAME, type GateContext, type MrRef } from './gate-context';
import type { RequestVersion } from '@jit/ledger';

type Ctx = Pick<GateContext, 'gitlab' | 'log' | 'metrics' | 'directory'>;

/** GitLab's 400 for a commit status already in `state`: "Cannot transition status via :succeed from :success". */
export function alreadyInState(err: unknown, state: string): boolean {
  if (!GitlabRejected.is(err)) return false;
  return /Cannot transition status via :\w+ from :(\w+)/.exec(err.message)?.[1] === state;
}

/** GitLab's 400 for a second MR approval rule of one name, or a second any-approver rule. */
function ruleExists(err: unknown): boolean {
  return GitlabRejected.is(err) && /has already been taken|any-approver for the merge request already exists/.test(err.message);
}

export async function setStatus(ctx: Pick<GateContext, 'gitlab' | 'log'>, ref: Pick<MrRef, 'projectId'>, sha: string, state: 'success' | 'failed', description: string): Promise<void> {
  try {
    await ctx.gitlab.commitStatuses.create(ref.projectId, sha, { state, name: STATUS_NAME, description });
  } catch (err) {
    // A status already in the state asked for (a redelivered webhook, two replicas racing): GitLab
    // answers 400 "Cannot transition status via :<event> from :<state>" where it finds the status
    // still open; the status is what we want, so the repeat is done.
    if (alreadyInState(err, state)) {
      ctx.log.info({ projectId: ref.projectId, sha, state }, 'commit status already set; repeat ignored');
      return;
    }
    throw err;
  }
}

export function ruleName(r: Pick<RequestVersion['data'], 'breakGlass' | 'tier'>): string {
  return `jit:${r.breakGlass ? 'break-glass' : r.tier}`;
}

export interface WantedRule {
  name: string;
  approvalsRequired: number;
  userIds: number[];
}

/**
 * Keeps jit's one MR approval rule as wanted. `known`: jit already set exactly this rule, so any
 * other state means someone deleted or edited it — restored, and returned as drift to say on the MR.
 * jit does not turn on disable_overriding_approvers_per_merge_request: GitLab then refuses every
 * MR-level rule change, jit's own included; found on, it is reported (GitLab enforces only project rules).
 */
export async function ensureJitRule(ctx: Ctx, ref: MrRef, wanted: WantedRule, known: boolean): Promise<{ free: boolean; drift: string[] }> {
  const { gitlab } = ctx;
  const rules = await gitlab.approvalRules.all(ref.projectId, ref.mrIid);
  if (isApprovalRulesUnsupported(rules)) return { free: true, drift: [] };
  const ours = rules.find((r) => r.name.startsWith('jit:'));
  const ids = [...wanted.userIds].sort((a, b) => a - b).join(',');
  if (ours && ours.name === wanted.name && ours.approvalsRequired === wanted.approvalsRequired && [...ours.userIds].sort((a, b) => a - b).join(',') === ids) {
    return { free: false, drift: [] };
  }
  const drift: string[] = [];
  if (known) {
    drift.push(
      ours
        ? `the ${wanted.name} approval rule had been edited (now ${ours.name}, ${ours.approvalsRequired} required); jit restored it`
        : `the ${wanted.name} approval rule had been deleted; jit restored it`,
    );
  }
  try {
    const res = ours
      ? await gitlab.approvalRules.edit(ref.projectId, ref.mrIid, ours.id, wanted)
      : await gitlab.approvalRules.create(ref.projectId, ref.mrIid, wanted).catch(async (err: unknown) => {
          // Created meanwhile (another replica, a redelivery racing this one): GitLab refuses a second
          // rule of that name (or a second any-approver rule). Take the one that is there and set it.
          if (!ruleExists(err)) throw err;
          const again = await gitlab.approvalRules.all(ref.projectId, ref.mrIid);
          const theirs = isApprovalRulesUnsupported(again) ? undefined : again.find((r) => r.name.startsWith('jit:') || r.name === wanted.name);
          if (!theirs) throw err;
          return gitlab.approvalRules.edit(ref.projectId, ref.mrIid, theirs.id, wanted);
        });
    if (isApprovalRulesUnsupported(res)) return { free: true, drift: [] };
  } catch (err) {
    if (!GitlabForbidden.is(err)) throw err;
    const settings = await gitlab.approvalSettings.show(ref.projectId);
    if (isApprovalRulesUnsupported(settings) || !settings.disableOverridingApproversPerMergeRequest) throw err;
    drift.length = 0;
    drift.push(
      `approval rules cannot be changed per merge request on this project (disable_overriding_approvers_per_merge_request), so jit cannot set its ${wanted.name} rule: GitLab enforces only the project's rules; jit still verifies at merge`,
    );
  }
  if (drift.length > 0) {
    ctx.metrics.driftFixed.inc();
    ctx.log.warn({ projectId: ref.projectId, mrIid: ref.mrIid, drift }, 'jit approval rule drifted');
  }
  return { free: false, drift };
}

/** The rule as the current request wants it, checked again (approval webhooks, reconciliation). */
export async function checkJitRule(ctx: Ctx, ref: MrRef, req: RequestVersion['data']): Promise<string[]> {
  const anyHuman = req.eligibleApprovers.includes(ANY_HUMAN);
  const wanted = {
    name: ruleName(req),
    approvalsRequired: req.requiredApprovals,
    userIds: anyHuman ? [] : await ctx.directory.userIds(req.eligibleApprovers.filter((u) => u !== ANY_HUMAN)),
  };
  return (await ensureJitRule(ctx, ref, wanted, true)).drift;
}

/**
 * The project's approval settings hardened: author and committer approval off, approvals reset on
 * push. Returns what had drifted (and was corrected), or `free` when the tier has no approval rules.
 */
export async function hardenSettings(ctx: Pick<GateContext, 'gitlab' | 'log' | 'metrics'>, projectId: number): Promise<{ free: boolean; drift: string[] }> {
  const settings = await ctx.gitlab.approvalSettings.show(projectId);
  if (isApprovalRulesUnsupported(settings)) return { free: true, drift: [] };
  const fixable: string[] = [];
  if (settings.mergeRequestsAuthorApproval) fixable.push('authors could approve their own MR');
  if (!settings.mergeRequestsDisableCommittersApproval) fixable.push('committers could approve');
  if (!settings.resetApprovalsOnPush) fixable.push('approvals were kept on new pushes');
  if (fixable.length === 0) return { free: false, drift: [] };
  ctx.log.warn({ projectId, drift: fixable }, 'approval settings drifted; correcting');
  ctx.metrics.driftFixed.inc();
  const fixed = await ctx.gitlab.approvalSettings.edit(projectId, {
    mergeRequestsAuthorApproval: false,
    mergeRequestsDisableCommittersApproval: true,
    resetApprovalsOnPush: true,
  });
  return { free: false, drift: isApprovalRulesUnsupported(fixed) ? [] : fixable };
}
