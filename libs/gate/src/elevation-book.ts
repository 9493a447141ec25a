// ElevationBook: the gate's read model, folded from jit.elevations.v1 (its own events and the
// issuer's/revoker's). It answers what the gate must know to stay idempotent and to verify at
// merge: the last validated request, the approvals recorded since, the verdict, the grant.
import { EVENT_TYPES } from '@jit/contracts';
import type { CloudEventJson } from '@jit/bus';

export interface RequestedRecord {
  eventId: string;
  at: string;
  /** Position in the fold: approvals after this index are "after the last change". */
  seq: number;
  data: {
    elevationId: string;
    projectId: number;
    mrIid: number;
    requester: string;
    target: string;
    scope: string;
    tier: string;
    declaredTier: string;
    ttlSeconds: number;
    justification: string;
    rollbackPlan?: string;
    recipient: string;
    breakGlass: boolean;
    contentHash: string;
    requestPath: string;
    headSha: string;
    policyVersion: string;
    requiredApprovals: number;
    eligibleApprovers: string[];
    mrUrl?: string;
  };
}

export interface ApprovalRecord {
  seq: number;
  approver: string;
  action: 'approved' | 'unapproved';
  counted: boolean;
  reason?: string;
  headSha?: string;
  at: string;
}

/** One branch push to the elevations repo (a pushRecorded event): who moved which branch to which commit. */
export interface PushRecord {
  projectId: number;
  branch: string;
  pusher: string;
  before: string;
  after: string;
  commits: string[];
}

export type ElevationStatus =
  | 'requested'
  | 'rejected'
  | 'withdrawn'
  | 'approved'
  | 'bypassed'
  | 'granted'
  | 'grant_failed'
  | 'revoke_requested'
  | 'revoked'
  | 'expired';

export interface ElevationEntry {
  elevationId: string;
  status: ElevationStatus;
  requested?: RequestedRecord;
  rejected?: { headSha?: string; problems: Array<{ path: string; message: string; line?: number }>; seq: number };
  approvals: ApprovalRecord[];
  approved?: { grantId: string; mergeSha: string; approvers: string[] };
  bypass?: { mergeSha?: string; reasons: string[] };
  grant?: { grantId: string; expiresAt?: string; target?: string; scope?: string };
  revokeRequested?: boolean;
  lastEventAt?: string;
}

const FINAL: ReadonlySet<ElevationStatus> = new Set(['approved', 'bypassed', 'granted', 'grant_failed', 'revoke_requested', 'revoked', 'expired']);

/** Types only the gate emits, in answer to a webhook: their newest time says when the gate last heard from GitLab. */
export const GATE_TYPES: ReadonlySet<string> = new Set([
  EVENT_TYPES.requested,
  EVENT_TYPES.rejected,
  EVENT_TYPES.withdrawn,
  EVENT_TYPES.approvalRecorded,
  EVENT_TYPES.approved,
  EVENT_TYPES.bypassDetected,
]);

export class ElevationBook {
  private readonly entries = new Map<string, ElevationEntry>();
  private readonly seen = new Set<string>();
  private readonly pushLog = new Map<number, PushRecord[]>();
  private seq = 0;
  private newestGateEvent: number | undefined;

  /**
   * Time of the newest event the gate emitted in answer to GitLab (requested, rejected, withdrawn,
   * approval, verdict), as ISO; undefined when there is none. Events of the issuer and revoker do not
   * count: they keep flowing while the gate or webhook-ingest is down.
   */
  newestGateEventAt(): string | undefined {
    return this.newestGateEvent === undefined ? undefined : new Date(this.newestGateEvent).toISOString();
  }

  get(elevationId: string): ElevationEntry | undefined {
    return this.entries.get(elevationId);
  }

  /** Whether the elevation reached a merge verdict (approved, bypassed or later). */
  isDecided(elevationId: string): boolean {
    const e = this.entries.get(elevationId);
    return e ? FINAL.has(e.status) : false;
  }

  /** Live grants (approved or granted, not yet expired/revoked) on a target. */
  liveOnTarget(target: string, now = Date.now()): Array<{ elevationId: string; grantId: string; scope?: string; expiresAt?: string }> {
    const out = [];
    for (const e of this.entries.values()) {
      if (!(e.status === 'granted' || e.status === 'approved' || e.status === 'revoke_requested')) continue;
      const t = e.grant?.target ?? e.requested?.data.target;
      if (t !== target) continue;
      if (e.grant?.expiresAt && Date.parse(e.grant.expiresAt) <= now) continue;
      out.push({
        elevationId: e.elevationId,
        grantId: e.grant?.grantId ?? e.approved?.grantId ?? '',
        scope: e.grant?.scope ?? e.requested?.data.scope,
        expiresAt: e.grant?.expiresAt,
      });
    }
    return out;
  }

  /** Applies one elevation event; applying the same event id twice changes nothing. Returns whether it applied. */
  apply(event: CloudEventJson): boolean {
    if (this.seen.has(event.id)) return false;
    const data = (event.data ?? {}) as Record<string, any>;
    if (event.type === EVENT_TYPES.pushRecorded) {
      // Pushes belong to branches, not elevations: kept per project for the approvals' pusher check.
      if (typeof data.projectId !== 'number' || typeof data.pusher !== 'string' || typeof data.after !== 'string') return false;
      this.seen.add(event.id);
      const list = this.pushLog.get(data.projectId) ?? [];
      list.push({
        projectId: data.projectId,
        branch: String(data.branch),
        pusher: data.pusher,
        before: String(data.before),
        after: data.after,
        commits: Array.isArray(data.commits) ? data.commits.filter((c: unknown): c is string => typeof c === 'string') : [],
      });
      this.pushLog.set(data.projectId, list);
      return true;
    }
    const id = typeof data.elevationId === 'string' ? data.elevationId : undefined;
    if (!id) return false;
    this.seen.add(event.id);
    const seq = ++this.seq;
    const e: ElevationEntry = this.entries.get(id) ?? { elevationId: id, status: 'requested', approvals: [] };
    this.entries.set(id, e);
    e.lastEventAt = event.time;
    const at = event.time ? Date.parse(event.time) : NaN;
    if (GATE_TYPES.has(event.type) && !Number.isNaN(at) && (this.newestGateEvent === undefined || at > this.newestGateEvent)) {
      this.newestGateEvent = at;
    }
    switch (event.type) {
      case EVENT_TYPES.requested:
        e.requested = { eventId: event.id, at: event.time ?? new Date().toISOString(), seq, data: data as RequestedRecord['data'] };
        e.rejected = undefined;
        if (!FINAL.has(e.status)) e.status = 'requested';
        break;
      case EVENT_TYPES.rejected:
        e.rejected = { headSha: data.headSha, problems: data.problems ?? [], seq };
        e.requested = undefined;
        if (!FINAL.has(e.status)) e.status = 'rejected';
        break;
      case EVENT_TYPES.withdrawn:
        if (!FINAL.has(e.status)) e.status = 'withdrawn';
        break;
      case EVENT_TYPES.approvalRecorded:
        e.approvals.push({
          seq,
          approver: data.approver,
          action: data.action,
          counted: data.counted === true,
          ...(data.reason ? { reason: data.reason } : {}),
          ...(data.headSha ? { headSha: data.headSha } : {}),
          at: data.at,
        });
        break;
      case EVENT_TYPES.approved:
        e.status = 'approved';
        e.approved = { grantId: data.grantId, mergeSha: data.mergeSha, approvers: data.approvers ?? [] };
        break;
      case EVENT_TYPES.bypassDetected:
        if (e.status !== 'approved' && e.status !== 'granted') e.status = 'bypassed';
        e.bypass = { mergeSha: data.mergeSha, reasons: data.reasons ?? [] };
        break;
      case EVENT_TYPES.granted:
        e.status = 'granted';
        e.grant = { grantId: data.grantId, expiresAt: data.expiresAt, target: data.target, scope: data.scope };
        break;
      case EVENT_TYPES.grantFailed:
        e.status = 'grant_failed';
        break;
      case EVENT_TYPES.revokeRequested:
        e.revokeRequested = true;
        if (e.status === 'granted' || e.status === 'approved') e.status = 'revoke_requested';
        break;
      case EVENT_TYPES.revoked:
        e.status = 'revoked';
        break;
      case EVENT_TYPES.expired:
        e.status = 'expired';
        break;
      default:
        break;
    }
    return true;
  }

  /** Every recorded push to a branch of this project, oldest first. */
  pushes(projectId: number): readonly PushRecord[] {
    return this.pushLog.get(projectId) ?? [];
  }

  /**
   * The latest approval state per approver recorded after the current request version.
   * Returns usernames (lower-case) whose last action is a counted approval.
   */
  countedSinceLastChange(elevationId: string): Set<string> {
    const e = this.entries.get(elevationId);
    const out = new Set<string>();
    if (!e?.requested) return out;
    const since = e.requested.seq;
    const last = new Map<string, ApprovalRecord>();
    for (const a of e.approvals) if (a.seq > since) last.set(a.approver.toLowerCase(), a);
    for (const [name, a] of last) if (a.action === 'approved' && a.counted) out.add(name);
    return out;
  }

  /** Usernames (lower-case) whose last recorded action after the current request version is an approval, counted or not. */
  approvedSinceLastChange(elevationId: string): Set<string> {
    const e = this.entries.get(elevationId);
    const out = new Set<string>();
    if (!e?.requested) return out;
    const last = new Map<string, ApprovalRecord>();
    for (const a of e.approvals) if (a.seq > e.requested.seq) last.set(a.approver.toLowerCase(), a);
    for (const [name, a] of last) if (a.action === 'approved') out.add(name);
    return out;
  }

  /** Last recorded action of an approver, whatever the request version (with its position). */
  lastApprovalEver(elevationId: string, approver: string): ApprovalRecord | undefined {
    const e = this.entries.get(elevationId);
    let found: ApprovalRecord | undefined;
    for (const a of e?.approvals ?? []) if (a.approver.toLowerCase() === approver.toLowerCase()) found = a;
    return found;
  }

  /** Last recorded action of an approver after the current request version. */
  lastApproval(elevationId: string, approver: string): ApprovalRecord | undefined {
    const e = this.entries.get(elevationId);
    if (!e) return undefined;
    const since = e.requested?.seq ?? e.rejected?.seq ?? 0;
    let found: ApprovalRecord | undefined;
    for (const a of e.approvals) if (a.seq > since && a.approver.toLowerCase() === approver.toLowerCase()) found = a;
    return found;
  }
}
