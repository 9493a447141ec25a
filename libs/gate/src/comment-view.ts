// The gate's one comment on an MR, as the ledger sees the elevation now: the access plan rebuilt from
// the validated request, the approvals given since its last change, overlapping live grants, or the
// problems of a rejected version. renderComment turns the view into the note's text.
import { formatDuration } from '@jit/contracts';
import { upsertMarkedNote } from '@jit/gitlab';
import { recipientOwners, type AccessPlan, type PolicyModel } from '@jit/policy';
import type { RequestVersion } from '@jit/ledger';
import { ANY_HUMAN, type GateContext, type MrRef } from './gate-context';
import { GATE_MARKER, renderComment, type ApprovalLine, type CommentView } from './render-comment';

/** A TTL as GitLab shows it in the status and the review issue (`2h`, `1h30m`): the one duration format, @jit/contracts'. */
export const durationText = formatDuration;

export async function writeComment(ctx: Pick<GateContext, 'gitlab' | 'botUsername'>, ref: MrRef, view: CommentView): Promise<void> {
  await upsertMarkedNote(ctx.gitlab, ref.projectId, ref.mrIid, GATE_MARKER, renderComment(view), ctx.botUsername);
}

function rebuildPlan(r: RequestVersion['data'], policy: PolicyModel): AccessPlan {
  const target = policy.targets[r.target];
  const tier = policy.tiers.find((t) => t.name === r.tier);
  const bg = r.breakGlass ? policy.breakGlass : undefined;
  return {
    target: r.target,
    substrate: target?.substrate ?? '?',
    scope: r.scope,
    tier: r.tier,
    declaredTier: r.declaredTier,
    ttlSeconds: r.ttlSeconds,
    ttlCeilingSeconds: bg?.ttlMaxSeconds ?? tier?.ttlMaxSeconds ?? r.ttlSeconds,
    requiredApprovals: r.requiredApprovals,
    approvers: { anyHuman: r.eligibleApprovers.includes(ANY_HUMAN), groups: [], users: r.eligibleApprovers },
    breakGlass: r.breakGlass,
    justification: r.justification,
    ...(r.rollbackPlan ? { rollbackPlan: r.rollbackPlan } : {}),
    recipient: r.recipient,
    ...(bg?.reviewWithinSeconds ? { reviewWithinSeconds: bg.reviewWithinSeconds } : {}),
  };
}

/** Each approver's last word since the validated version, the ones still approving. */
function approvalLines(ctx: Pick<GateContext, 'ledger'>, elevation: string): ApprovalLine[] {
  const last = ctx.ledger.approvalsSinceLastChange(elevation);
  return [...last.values()].filter((a) => a.action === 'approved').map((a) => ({ approver: a.approver, counted: a.counted, reason: a.reason }));
}

export async function baseView(ctx: Pick<GateContext, 'ledger' | 'policyNow' | 'freeProjects'>, ref: MrRef, elevation: string): Promise<CommentView> {
  const r = ctx.ledger.request(elevation)?.data;
  if (!r) {
    const rejected = ctx.ledger.rejection(elevation);
    return {
      elevationId: elevation,
      ...(rejected ? { problems: rejected.problems, headSha: rejected.headSha } : {}),
    };
  }
  const policy = (await ctx.policyNow()).policy;
  const anyHuman = r.eligibleApprovers.includes(ANY_HUMAN);
  return {
    elevationId: elevation,
    requestPath: r.requestPath,
    headSha: r.headSha,
    policyVersion: r.policyVersion,
    plan: rebuildPlan(r, policy),
    recipientOwners: recipientOwners(policy, r.recipient),
    eligibleApprovers: r.eligibleApprovers.filter((u) => u !== ANY_HUMAN),
    anyHuman,
    overlapping: ctx.ledger.liveOnTarget(r.target).filter((o) => o.elevationId !== elevation),
    approvals: approvalLines(ctx, elevation),
    free: ctx.freeProjects.has(ref.projectId),
  };
}
