// The versions of a request and the approvals given to each: what the gate judges at merge. The
// current version is the last `requested` or `rejected` in log order, and "since the last
// validated change" is by log order too, never by event time: a replica's skewed clock must not
// make an approval given to an older version count for the new one (ADR 0014).
import { approvalEntry } from './derive';
import type { ElevationRecord } from './fold';
import type { RecordedApproval, RequestVersion } from './types';

/** The current version when it is a validated request. */
export function currentRequest(r: ElevationRecord | undefined): RequestVersion | undefined {
  const v = r?.version;
  if (v?.kind !== 'requested') return undefined;
  return { data: v.event.data, eventId: v.event.id, at: v.event.time, seq: v.event.seq };
}

/** The current version when it is a rejection: what was wrong, at which head. */
export function currentRejection(r: ElevationRecord | undefined): { headSha?: string; problems: { path: string; message: string; line?: number }[]; seq: number } | undefined {
  const v = r?.version;
  if (v?.kind !== 'rejected') return undefined;
  return { ...(v.event.data.headSha ? { headSha: v.event.data.headSha } : {}), problems: v.event.data.problems, seq: v.event.seq };
}

function entry(a: ElevationRecord['approvalLog'][number]): RecordedApproval {
  return { seq: a.seq, ...approvalEntry(a.data) };
}

/** Each approver's (lower-case) last recorded action after the current validated request; empty when there is none. */
export function approvalsSinceLastChange(r: ElevationRecord | undefined): Map<string, RecordedApproval> {
  const out = new Map<string, RecordedApproval>();
  const since = currentRequest(r)?.seq;
  if (since === undefined) return out;
  for (const a of r!.approvalLog) if (a.seq > since) out.set(a.data.approver.toLowerCase(), entry(a));
  return out;
}

/** An approver's last recorded action after the current version (a request or a rejection), or ever. */
export function lastApproval(r: ElevationRecord | undefined, approver: string, ever: boolean): RecordedApproval | undefined {
  if (!r) return undefined;
  const since = ever ? 0 : (r.version?.event.seq ?? 0);
  const name = approver.toLowerCase();
  for (let i = r.approvalLog.length - 1; i >= 0; i--) {
    const a = r.approvalLog[i]!;
    if (a.seq <= since) return undefined;
    if (a.data.approver.toLowerCase() === name) return entry(a);
  }
  return undefined;
}
