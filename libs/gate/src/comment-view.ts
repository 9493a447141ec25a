// The gate's one comment on an MR, as the book sees the elevation now: the access plan rebuilt from
// the validated request, the approvals given since its last change, overlapping live grants, or the
// problems of a rejected version. renderComment turns the view into the note's text.
import { upsertMarkedNote } from '@jit/gitlab';
import { recipientOwners, type AccessPlan, type PolicyModel } from '@jit/policy';
import type { RequestedRecord } from './elevation-book';
import { ANY_HUMAN, type GateContext, type MrRef } from './gate-context';
import { GATE_MARKER, renderComment, type ApprovalLine, type CommentView } from './render-comment';

/** A TTL as GitLab shows it in the status and the review issue: `2h`, `30m`, `45s`. */
export function durationText(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export async function writeComment(ctx: Pick<GateContext, 'gitlab' | 'botUsername'>, ref: MrRef, view: CommentView): Promise<void> {
  await upsertMarkedNote(ctx.gitlab, ref.projectId, ref.mrIid, GATE_MARKER, renderComment(view), ctx.botUsername);
}

function rebuildPlan(r: RequestedRecord['data'], policy: PolicyModel): AccessPlan {
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
function approvalLines(ctx: Pick<GateContext, 'book'>, elevation: string): ApprovalLine[] {
  const e = ctx.book.get(elevation);
  if (!e) return [];
  const since = e.requested?.seq ?? 0;
  const last = new Map<string, ApprovalLine & { action: string }>();
  for (const a of e.approvals) {
    if (a.seq <= since) continue;
    last.set(a.approver.toLowerCase(), { approver: a.approver, counted: a.counted, reason: a.reason, action: a.action });
  }
  return [...last.values()].filter((a) => a.action === 'approved').map(({ action: _a, ...rest }) => rest);
}

export async function baseView(ctx: Pick<GateContext, 'book' | 'policyNow' | 'freeProjects'>, ref: MrRef, elevation: string): Promise<CommentView> {
  const e = ctx.book.get(elevation);
  const r = e?.requested?.data;
  if (!r) {
    return {
      elevationId: elevation,
      ...(e?.rejected ? { problems: e.rejected.problems, headSha: e.rejected.headSha } : {}),
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
    overlapping: ctx.book.liveOnTarget(r.target).filter((o) => o.elevationId !== elevation),
    approvals: approvalLines(ctx, elevation),
    free: ctx.freeProjects.has(ref.projectId),
  };
}
