// The fold: which events of an elevation are kept, and which one wins when several of a kind
// arrive (the latest request, the earliest verdict, the latest failure…), so that the record is a
// function of the set of events applied, not of their order.
import {
  EVENT_TYPES,
  type AnyElevationEvent,
  type ApprovalRecordedData,
  type BypassDetectedData,
  type ElevationApprovedData,
  type ElevationExpiredData,
  type ElevationGrantedData,
  type ElevationRejectedData,
  type ElevationRequestedData,
  type ElevationRevokedData,
  type ElevationWithdrawnData,
  type GrantFailedData,
  type GrantStartedData,
  type RevokeFailedData,
  type RevokeRequestedData,
} from '@jit/contracts';
import type { ElevationState, TimelineEntry } from './types';

/** `seq`: the order the ledger applied events in (the log's order per elevation); breaks time ties. */
export type Stamped<D> = { data: D; id: string; time: string; seq: number };

export interface ElevationRecord {
  id: string;
  requested?: Stamped<ElevationRequestedData>;
  rejected?: Stamped<ElevationRejectedData>;
  withdrawn?: Stamped<ElevationWithdrawnData>;
  approvals: Map<string, Stamped<ApprovalRecordedData>>;
  /** Every approval recorded, in log order: what "since the last validated change" is judged on. */
  approvalLog: Stamped<ApprovalRecordedData>[];
  /** The last `requested`, `rejected` or `withdrawn` in log order: the phase before a merge verdict. */
  phase?: 'pending' | 'rejected' | 'withdrawn';
  /** The last `requested` or `rejected` in log order: the current version of the request. */
  version?: { kind: 'requested'; event: Stamped<ElevationRequestedData> } | { kind: 'rejected'; event: Stamped<ElevationRejectedData> };
  approved?: Stamped<ElevationApprovedData>;
  bypass?: Stamped<BypassDetectedData>;
  granted?: Stamped<ElevationGrantedData>;
  grantStarted?: Stamped<GrantStartedData>;
  grantFailed?: Stamped<GrantFailedData>;
  revokeRequested?: Stamped<RevokeRequestedData>;
  revokeFailed?: Stamped<RevokeFailedData>;
  revoked?: Stamped<ElevationRevokedData>;
  expired?: Stamped<ElevationExpiredData>;
  timeline: TimelineEntry[];
  createdAt: string;
  updatedAt: string;
  view?: ElevationState;
}

/** (time, id) order: the tie-break that makes "latest" independent of arrival order. */
export function later(a: { time: string; seq: number }, b: { time: string; seq: number } | undefined): boolean {
  if (!b) return true;
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb) return ta > tb;
  // Same millisecond: the event applied later came later in the log (ordered per elevation).
  return a.seq > b.seq;
}

function keepLatest<D>(cur: Stamped<D> | undefined, cand: Stamped<D>): Stamped<D> {
  return later(cand, cur) ? cand : (cur as Stamped<D>);
}
function keepEarliest<D>(cur: Stamped<D> | undefined, cand: Stamped<D>): Stamped<D> {
  return cur === undefined || later(cur, cand) ? cand : cur;
}

export function newRecord(id: string, time: string): ElevationRecord {
  return { id, approvals: new Map(), approvalLog: [], timeline: [], createdAt: time, updatedAt: time };
}

export function elevationOf(ev: AnyElevationEvent): string | undefined {
  const d = ev.data as { elevationId?: string };
  return d.elevationId;
}

/**
 * Folds one event of elevation `elevationId` into its record; `grantIndex` learns the grant ids it
 * names. Returns whether the event repeats what is already known (a second `granted` for a grant).
 */
export function foldEvent(r: ElevationRecord, ev: AnyElevationEvent, seq: number, elevationId: string, grantIndex: Map<string, string>): boolean {
  const stamped = <D>(data: D): Stamped<D> => ({ data, id: ev.id, time: ev.time, seq });
  let duplicate = false;
  switch (ev.type) {
    case EVENT_TYPES.requested: {
      const cand = stamped(ev.data);
      r.requested = keepLatest(r.requested, cand);
      r.version = { kind: 'requested', event: cand };
      r.phase = 'pending';
      break;
    }
    case EVENT_TYPES.rejected: {
      const cand = stamped(ev.data);
      r.rejected = keepLatest(r.rejected, cand);
      r.version = { kind: 'rejected', event: cand };
      r.phase = 'rejected';
      break;
    }
    case EVENT_TYPES.withdrawn:
      r.withdrawn = keepLatest(r.withdrawn, stamped(ev.data));
      r.phase = 'withdrawn';
      break;
    case EVENT_TYPES.approvalRecorded: {
      const cur = r.approvals.get(ev.data.approver);
      const cand = stamped(ev.data);
      r.approvalLog.push(cand);
      // Latest action by the approver's own clock (`at`), then by event order.
      const newer = !cur || Date.parse(cand.data.at) > Date.parse(cur.data.at) || (Date.parse(cand.data.at) === Date.parse(cur.data.at) && later(cand, cur));
      if (newer) r.approvals.set(ev.data.approver, cand);
      break;
    }
    case EVENT_TYPES.approved:
      duplicate = r.approved !== undefined && r.approved.data.grantId === ev.data.grantId;
      r.approved = keepEarliest(r.approved, stamped(ev.data));
      grantIndex.set(ev.data.grantId, elevationId);
      break;
    case EVENT_TYPES.bypassDetected:
      r.bypass = keepEarliest(r.bypass, stamped(ev.data));
      break;
    case EVENT_TYPES.granted:
      duplicate = r.granted !== undefined && r.granted.data.grantId === ev.data.grantId;
      // A second issue of the same grant (a redelivery racing its own publish, a second issuer)
      // replaced the credential on the substrate (a new password for the same role): the latest
      // is the one that works. A `granted` for another grant id never displaces the first.
      r.granted = duplicate ? keepLatest(r.granted, stamped(ev.data)) : keepEarliest(r.granted, stamped(ev.data));
      grantIndex.set(ev.data.grantId, elevationId);
      break;
    case EVENT_TYPES.grantStarted:
      duplicate = r.grantStarted !== undefined && r.grantStarted.data.grantId === ev.data.grantId;
      r.grantStarted = keepEarliest(r.grantStarted, stamped(ev.data));
      grantIndex.set(ev.data.grantId, elevationId);
      break;
    case EVENT_TYPES.grantFailed:
      r.grantFailed = keepLatest(r.grantFailed, stamped(ev.data));
      grantIndex.set(ev.data.grantId, elevationId);
      break;
    case EVENT_TYPES.revokeRequested:
      r.revokeRequested = keepEarliest(r.revokeRequested, stamped(ev.data));
      break;
    case EVENT_TYPES.revokeFailed:
      r.revokeFailed = keepLatest(r.revokeFailed, stamped(ev.data));
      break;
    case EVENT_TYPES.revoked:
      duplicate = r.revoked !== undefined && r.revoked.data.grantId === ev.data.grantId;
      r.revoked = keepEarliest(r.revoked, stamped(ev.data));
      grantIndex.set(ev.data.grantId, elevationId);
      break;
    case EVENT_TYPES.expired:
      duplicate = r.expired !== undefined && r.expired.data.grantId === ev.data.grantId;
      r.expired = keepEarliest(r.expired, stamped(ev.data));
      break;
    case EVENT_TYPES.orphanRevoked:
      break;
  }
  return duplicate;
}
