// MR approved or unapproved: the approval judged and recorded (elevation.approval.recorded, counted
// or not and why), jit's rule checked, the comment updated. Reconciliation's approvals (given while
// no webhook arrived) are shown on the comment, judged as at merge, with no event.
import { EVENT_TYPES, elevationId as toElevationId } from '@jit/contracts';
import { GitlabNotFound, type MergeRequestApprovals } from '@jit/gitlab';
import { judgeApprover, verifyApprovals, type ApprovalReason } from '../approval-judgement';
import { baseView, writeComment } from '../comment-view';
import type { RequestVersion } from '@jit/ledger';
import { checkJitRule } from '../enforcement';
import type { GateContext, MrEvent, MrRef } from '../gate-context';
import { sha256 } from '../request-evaluation';
import { onOpenOrUpdate } from './on-open-update';

export async function onApproval(ctx: GateContext, ev: MrEvent, action: 'approved' | 'unapproved', sourceId: string): Promise<void> {
  const { ledger, log } = ctx;
  const elevation = toElevationId(ev.projectId, ev.mrIid);
  if (!ledger.get(elevation)) await onOpenOrUpdate(ctx, ev, sourceId); // approval arrived before we saw the MR
  if (ledger.isDecided(elevation)) {
    log.info({ elevationId: elevation }, 'approval after the merge verdict; ignored');
    return;
  }
  const req = ledger.request(elevation)?.data;
  if (!req) {
    log.info({ elevationId: elevation, approver: ev.actor.username }, 'approval on a rejected or unknown request; not recorded');
    return;
  }
  const username = ev.actor.username;
  const headSha = ev.headSha ?? undefined;
  const last = ledger.lastApproval(elevation, username);
  if (last && last.action === action && (last.headSha ?? '') === (headSha ?? '')) {
    // Recorded already (a redelivery, or a crash after the emit): only the GitLab side is redone.
    log.info({ elevationId: elevation, approver: username }, 'approval already recorded');
  } else await recordApproval(ctx, ev, elevation, req, action, sourceId);
  const drift = await checkJitRule(ctx, ev, req);
  await writeComment(ctx, ev, { ...(await baseView(ctx, ev, elevation)), ...(drift.length > 0 ? { settingsDrift: drift } : {}) });
}

async function recordApproval(ctx: GateContext, ev: MrEvent, elevation: string, req: RequestVersion['data'], action: 'approved' | 'unapproved', sourceId: string): Promise<void> {
  const username = ev.actor.username;
  const headSha = ev.headSha ?? undefined;
  const policy = (await ctx.policyNow()).policy;
  let verdict: { counted: boolean; reason?: ApprovalReason | 'stale' } = { counted: false };
  if (action === 'approved') {
    verdict = await judgeApprover(ctx, ev, req, await ctx.directory.userById(ev.actor.id), policy);
    if (verdict.counted && headSha && headSha !== req.headSha) {
      // Approved at another head: counts only if the request there is the validated content.
      const file = await ctx.gitlab.files.show(ev.projectId, req.requestPath, headSha).catch((err: unknown) => {
        if (GitlabNotFound.is(err)) return undefined;
        throw err;
      });
      if (!file || sha256(file.content) !== req.contentHash) verdict = { counted: false, reason: 'stale' };
    }
  }
  await ctx.emit(
    EVENT_TYPES.approvalRecorded,
    {
      elevationId: elevation,
      projectId: ev.projectId,
      mrIid: ev.mrIid,
      approver: username,
      action,
      counted: verdict.counted,
      ...(verdict.reason ? { reason: verdict.reason } : {}),
      ...(headSha && /^[0-9a-f]{7,64}$/.test(headSha) ? { headSha } : {}),
      at: new Date().toISOString(),
    },
    `${elevation}:approval:${sourceId}:${username}:${action}`,
    req.breakGlass ? 'high' : undefined,
  );
}

/**
 * Reconciliation: approvals given while no webhook reached us need no event (the merge reads them
 * from GitLab), but the comment must show them, judged as they would be at merge.
 */
export async function refreshApprovals(ctx: GateContext, projectId: number, iid: number, approvals: MergeRequestApprovals): Promise<void> {
  const ref: MrRef = { projectId, mrIid: iid };
  const elevation = toElevationId(projectId, iid);
  await ctx.withLock(elevation, async () => {
    const req = ctx.ledger.request(elevation);
    if (!req || ctx.ledger.phase(elevation) !== 'pending') return;
    const policy = (await ctx.policyNow()).policy;
    const { lines } = await verifyApprovals(ctx, ref, elevation, req, policy, approvals);
    await writeComment(ctx, ref, { ...(await baseView(ctx, ref, elevation)), approvals: lines });
  });
}

/** Reconciliation: jit's rule of an open, requested MR checked; drift restored and said on the MR. */
export async function recheckRule(ctx: GateContext, projectId: number, iid: number): Promise<void> {
  const elevation = toElevationId(projectId, iid);
  await ctx.withLock(elevation, async () => {
    const req = ctx.ledger.request(elevation);
    if (!req || ctx.ledger.phase(elevation) !== 'pending') return;
    const ref = { projectId, mrIid: iid };
    const drift = await checkJitRule(ctx, ref, req.data);
    if (drift.length > 0) await writeComment(ctx, ref, { ...(await baseView(ctx, ref, elevation)), settingsDrift: drift });
  });
}
