// Derived state: the read model of one elevation (ElevationState) from its record, by precedence —
// a later lifecycle phase always wins — and the comparison apply() uses to say what changed.
import type { ApprovalRecordedData } from '@jit/contracts';
import { later, type ElevationRecord, type Stamped } from './fold';
import type { ApprovalEntry, ElevationState, ElevationStateName } from './types';

/** An approval action as the read model shows it. */
export function approvalEntry(d: ApprovalRecordedData): ApprovalEntry {
  return {
    approver: d.approver,
    action: d.action,
    counted: d.counted,
    ...(d.reason ? { reason: d.reason } : {}),
    ...(d.headSha ? { headSha: d.headSha } : {}),
    at: d.at,
  };
}

const ELEVATION_ID_RE = /^gl-([0-9]+)-([0-9]+)$/;

/** State precedence: a later lifecycle phase always wins; within the pre-merge phase the latest event wins. */
function deriveState(r: ElevationRecord): ElevationStateName {
  if (r.revoked) return 'revoked';
  if (r.expired) return 'expired';
  if (r.granted) return 'granted';
  if (r.grantFailed) return 'grant_failed';
  if (r.bypass) return 'bypassed';
  if (r.approved) return 'approved';
  const pre: [ElevationStateName, Stamped<unknown> | undefined][] = [
    ['pending', r.requested],
    ['rejected', r.rejected],
    ['withdrawn', r.withdrawn],
  ];
  let best: [ElevationStateName, Stamped<unknown>] | undefined;
  for (const [state, s] of pre) if (s && (!best || later(s, best[1]))) best = [state, s];
  // Only lifecycle side events so far (e.g. an approval recorded before its `requested` arrived).
  return best ? best[0] : 'pending';
}

export function derive(r: ElevationRecord): ElevationState {
  const m = ELEVATION_ID_RE.exec(r.id);
  const req = r.requested?.data;
  const apr = r.approved?.data;
  const gr = r.granted?.data;
  const rv = r.revoked?.data;
  const approvals = [...r.approvals.values()].sort((a, b) => Date.parse(a.data.at) - Date.parse(b.data.at) || (a.data.approver < b.data.approver ? -1 : 1)).map(({ data }) => approvalEntry(data));
  const s: ElevationState = {
    id: r.id,
    state: deriveState(r),
    projectId: Number(m?.[1] ?? 0),
    mrIid: Number(m?.[2] ?? 0),
    mrUrl: req?.mrUrl,
    // At merge the approved event is authoritative; before it, the latest requested.
    requester: apr?.requester ?? gr?.requester ?? req?.requester ?? r.rejected?.data.requester,
    target: apr?.target ?? gr?.target ?? req?.target,
    scope: apr?.scope ?? gr?.scope ?? req?.scope,
    tier: apr?.tier ?? req?.tier,
    declaredTier: req?.declaredTier,
    ttlSeconds: apr?.ttlSeconds ?? req?.ttlSeconds,
    justification: req?.justification,
    rollbackPlan: req?.rollbackPlan,
    recipient: apr?.recipient ?? req?.recipient,
    breakGlass: apr?.breakGlass ?? req?.breakGlass ?? false,
    contentHash: apr?.contentHash ?? req?.contentHash,
    requestPath: apr?.requestPath ?? req?.requestPath,
    headSha: req?.headSha ?? r.rejected?.data.headSha,
    policyVersion: apr?.policyVersion ?? req?.policyVersion,
    requiredApprovals: req?.requiredApprovals,
    eligibleApprovers: req?.eligibleApprovers,
    approvals,
    approvers: apr?.approvers,
    problems: r.rejected && later(r.rejected, r.requested) && later(r.rejected, r.withdrawn) ? r.rejected.data.problems : undefined,
    withdrawnReason: r.withdrawn && later(r.withdrawn, r.requested) && later(r.withdrawn, r.rejected) ? r.withdrawn.data.reason : undefined,
    bypassReasons: r.bypass?.data.reasons,
    mergeSha: apr?.mergeSha ?? r.bypass?.data.mergeSha,
    grantId: apr?.grantId ?? gr?.grantId ?? r.grantFailed?.data.grantId ?? rv?.grantId,
    substrate: gr?.substrate,
    handle: gr?.handle ?? rv?.handle,
    sealedCredential: gr?.sealedCredential,
    credentialSignature: gr?.credentialSignature,
    issuedAt: gr?.issuedAt,
    expiresAt: gr?.expiresAt ?? rv?.handle.expiresAt,
    grantStartedAt: r.grantStarted && r.grantStarted.data.grantId === (apr?.grantId ?? r.grantStarted.data.grantId) ? r.grantStarted.time : undefined,
    grantError: r.grantFailed ? { ...r.grantFailed.data.error, attempts: r.grantFailed.data.attempts } : undefined,
    revokeRequested: r.revokeRequested ? { by: r.revokeRequested.data.requestedBy, reason: r.revokeRequested.data.reason, at: r.revokeRequested.time } : undefined,
    revokeFailures: r.revokeFailed?.data.attempt ?? 0,
    lastRevokeError: r.revokeFailed?.data.error,
    nextRevokeAttemptAt: rv ? undefined : r.revokeFailed?.data.nextAttemptAt,
    revokedAt: rv?.revokedAt,
    revokeCause: rv?.cause,
    revokeVerified: rv?.verified,
    latenessMs: rv?.latenessMs,
    expiredAt: r.expired?.data.expiredAt,
    timeline: r.timeline,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  // Drop absent optionals so views compare and serialise cleanly.
  for (const k of Object.keys(s) as (keyof ElevationState)[]) if (s[k] === undefined) delete s[k];
  return s;
}

const BOOKKEEPING = new Set<string>(['timeline', 'createdAt', 'updatedAt']);

/** Whether two views agree on everything but the bookkeeping: what `changed` compares. */
export function sameView(a: ElevationState, b: ElevationState): boolean {
  const ka = Object.keys(a) as (keyof ElevationState)[];
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (BOOKKEEPING.has(k) || a[k] === b[k]) continue;
    // Values taken from stored events keep their identity; only derived objects need a deep look.
    if (typeof a[k] !== 'object' || typeof b[k] !== 'object' || JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  }
  return true;
}
