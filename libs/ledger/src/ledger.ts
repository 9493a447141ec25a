// The ledger: folds elevation events into per-elevation state (the read model) and remembers every
// event id (the idempotency memory). The state is a function of the SET of events applied, not of
// their order: each elevation keeps the events that matter, and the view is derived from them by
// precedence (see README.md), so replays, duplicates and late events all converge.
import {
  EVENT_TYPES,
  parseElevationEvent,
  type AnyElevationEvent,
  type ApprovalRecordedData,
  type CloudEventJson,
  type ElevationApprovedData,
  type ElevationExpiredData,
  type ElevationGrantedData,
  type ElevationRejectedData,
  type ElevationRequestedData,
  type ElevationRevokedData,
  type ElevationWithdrawnData,
  type BypassDetectedData,
  type EventError,
  type GrantFailedData,
  type GrantStartedData,
  type OrphanRevokedData,
  type RevocationHandleData,
  type RevokeFailedData,
  type RevokeRequestedData,
} from '@jit/contracts';
import type { JitError } from '@jit/errors';
import { InvalidFilter } from './errors';

/** Lifecycle states (contract). */
export const ELEVATION_STATES = [
  'pending',
  'rejected',
  'withdrawn',
  'bypassed',
  'approved',
  'granted',
  'grant_failed',
  'revoked',
  'expired',
] as const;
export type ElevationStateName = (typeof ELEVATION_STATES)[number];

export interface ApprovalEntry {
  approver: string;
  action: 'approved' | 'unapproved';
  counted: boolean;
  reason?: ApprovalRecordedData['reason'];
  headSha?: string;
  at: string;
}

export interface TimelineEntry {
  type: string;
  id: string;
  time: string;
  summary: string;
}

/** The read model of one elevation. Fields are absent until an event that carries them arrives. */
export interface ElevationState {
  id: string;
  state: ElevationStateName;
  projectId: number;
  mrIid: number;
  mrUrl?: string;
  requester?: string;
  target?: string;
  scope?: string;
  /** Effective tier. */
  tier?: string;
  declaredTier?: string;
  ttlSeconds?: number;
  justification?: string;
  rollbackPlan?: string;
  recipient?: string;
  breakGlass: boolean;
  contentHash?: string;
  requestPath?: string;
  headSha?: string;
  policyVersion?: string;
  requiredApprovals?: number;
  eligibleApprovers?: string[];
  /** Latest approval action per approver, oldest first. */
  approvals: ApprovalEntry[];
  /** Approvers the gate verified at merge. */
  approvers?: string[];
  problems?: ElevationRejectedData['problems'];
  withdrawnReason?: string;
  bypassReasons?: string[];
  mergeSha?: string;
  grantId?: string;
  substrate?: string;
  handle?: RevocationHandleData;
  /** age ciphertext for the requester (never plaintext). */
  sealedCredential?: string;
  /** The issuer's signature of the sealed credential (grant id, expiry, digest), for the CLI to check. */
  credentialSignature?: { kid: string; signature: string };
  issuedAt?: string;
  /**
   * When an issuer wrote that it was about to issue on a substrate whose credentials cannot be
   * revoked early (`elevation.grant.started`); with no `granted`/`grant_failed` after it, a credential
   * may exist that was never delivered, so no second one is issued.
   */
  grantStartedAt?: string;
  expiresAt?: string;
  grantError?: EventError & { attempts: number };
  revokeRequested?: { by: string; reason: string; at: string };
  revokeFailures: number;
  lastRevokeError?: EventError;
  nextRevokeAttemptAt?: string;
  revokedAt?: string;
  revokeCause?: ElevationRevokedData['cause'];
  revokeVerified?: boolean;
  latenessMs?: number;
  expiredAt?: string;
  /** Every applied event, by time. */
  timeline: TimelineEntry[];
  /** Time of the earliest event applied. */
  createdAt: string;
  /** Time of the latest event applied. */
  updatedAt: string;
}

export interface ApplyResult {
  /** True when the elevation's state or data changed (a timeline entry alone does not count). */
  changed: boolean;
  /** True when this event id was applied before, or it repeats what is already known (a second `granted` for a grant). */
  duplicate: boolean;
  elevationId?: string;
  state?: ElevationStateName;
  previousState?: ElevationStateName;
  /** Set when the event failed validation; nothing was recorded. */
  error?: JitError;
}

export interface ListFilter {
  state?: ElevationStateName | ElevationStateName[];
  target?: string;
  requester?: string;
  /** createdAt >= since. */
  since?: Date | string;
  /** createdAt < until. */
  until?: Date | string;
}

/** A credential that is out there: granted, neither revoked nor expired. */
export interface LiveGrant {
  elevationId: string;
  grantId: string;
  target: string;
  scope: string;
  substrate: string;
  requester: string;
  handle: RevocationHandleData;
  issuedAt: string;
  expiresAt: string;
  revokeRequested?: { by: string; reason: string; at: string };
  revokeFailures: number;
}

export interface OrphanRecord {
  grantId: string;
  substrate: string;
  handle: OrphanRevokedData['handle'];
  elevationId?: string;
  time: string;
  eventId: string;
}

export interface Ledger {
  /** Fold one event in. Idempotent by event id; never throws (invalid events come back with `error`). */
  apply(event: CloudEventJson | AnyElevationEvent): ApplyResult;
  /** Whether an event id has been applied. */
  seen(eventId: string): boolean;
  get(elevationId: string): ElevationState | undefined;
  /** Elevations matching the filter, oldest first. Throws JIT_ERR_LEDGER_INVALID_FILTER on a bad filter. */
  list(filter?: ListFilter): ElevationState[];
  /** Granted and neither revoked nor expired, soonest expiry first. */
  grantsLive(): LiveGrant[];
  /** The elevation a grant belongs to. */
  byGrant(grantId: string): ElevationState | undefined;
  /** Orphans revoked by the sweep (credentials found without a `granted` event). */
  orphans(): OrphanRecord[];
  /** Numbers for metrics and health. */
  stats(): { elevations: number; events: number; byState: Record<ElevationStateName, number> };
}

export interface LedgerOptions {
  /** Max timeline entries kept per elevation (oldest dropped). Default 500. */
  maxTimeline?: number;
}

/** `seq`: the order the ledger applied events in (the log's order per elevation); breaks time ties. */
type Stamped<D> = { data: D; id: string; time: string; seq: number };

interface Record_ {
  id: string;
  requested?: Stamped<ElevationRequestedData>;
  rejected?: Stamped<ElevationRejectedData>;
  withdrawn?: Stamped<ElevationWithdrawnData>;
  approvals: Map<string, Stamped<ApprovalRecordedData>>;
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
function later(a: { time: string; seq: number }, b: { time: string; seq: number } | undefined): boolean {
  if (!b) return true;
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb) return ta > tb;
  // Same millisecond: the event applied later came later in the log (ordered per elevation).
  return a.seq > b.seq;
}

const ELEVATION_ID_RE = /^gl-([0-9]+)-([0-9]+)$/;

export function createLedger(options: LedgerOptions = {}): Ledger {
  const maxTimeline = options.maxTimeline ?? 500;
  const records = new Map<string, Record_>();
  const grantIndex = new Map<string, string>();
  const seenIds = new Set<string>();
  const orphanList: OrphanRecord[] = [];
  /** Events applied so far (duplicates included): the tie-breaker of `later`. */
  let applied = 0;

  function recordFor(id: string, time: string): Record_ {
    let r = records.get(id);
    if (!r) {
      r = { id, approvals: new Map(), timeline: [], createdAt: time, updatedAt: time };
      records.set(id, r);
    }
    return r;
  }

  function keepLatest<D>(cur: Stamped<D> | undefined, cand: Stamped<D>): Stamped<D> {
    return later(cand, cur) ? cand : (cur as Stamped<D>);
  }
  function keepEarliest<D>(cur: Stamped<D> | undefined, cand: Stamped<D>): Stamped<D> {
    return cur === undefined || later(cur, cand) ? cand : cur;
  }

  function apply(input: CloudEventJson | AnyElevationEvent): ApplyResult {
    const parsed = parseElevationEvent(input);
    if (!parsed.ok) return { changed: false, duplicate: false, error: parsed.error };
    const ev = parsed.event;
    if (seenIds.has(ev.id)) {
      const elevationId = elevationOf(ev);
      const r = elevationId ? records.get(elevationId) : undefined;
      return { changed: false, duplicate: true, elevationId, state: r ? view(r).state : undefined };
    }
    seenIds.add(ev.id);

    if (ev.type === EVENT_TYPES.orphanRevoked) {
      const d = ev.data;
      orphanList.push({
        grantId: d.grantId,
        substrate: d.substrate,
        handle: d.handle,
        ...(d.elevationId ? { elevationId: d.elevationId } : {}),
        time: ev.time,
        eventId: ev.id,
      });
      if (!d.elevationId) return { changed: true, duplicate: false };
    }
    const elevationId = elevationOf(ev);
    if (!elevationId) return { changed: false, duplicate: false };
    const r = recordFor(elevationId, ev.time);
    const before = r.view;
    const previousState = r.view?.state;
    const seq = ++applied;
    const stamped = <D>(data: D): Stamped<D> => ({ data, id: ev.id, time: ev.time, seq });
    let duplicate = false;

    switch (ev.type) {
      case EVENT_TYPES.requested:
        r.requested = keepLatest(r.requested, stamped(ev.data));
        break;
      case EVENT_TYPES.rejected:
        r.rejected = keepLatest(r.rejected, stamped(ev.data));
        break;
      case EVENT_TYPES.withdrawn:
        r.withdrawn = keepLatest(r.withdrawn, stamped(ev.data));
        break;
      case EVENT_TYPES.approvalRecorded: {
        const cur = r.approvals.get(ev.data.approver);
        const cand = stamped(ev.data);
        // Latest action by the approver's own clock (`at`), then by event order.
        const newer =
          !cur ||
          Date.parse(cand.data.at) > Date.parse(cur.data.at) ||
          (Date.parse(cand.data.at) === Date.parse(cur.data.at) && later(cand, cur));
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

    addTimeline(r, { type: ev.type, id: ev.id, time: ev.time, summary: summarize(ev) });
    if (Date.parse(ev.time) < Date.parse(r.createdAt)) r.createdAt = ev.time;
    if (Date.parse(ev.time) > Date.parse(r.updatedAt)) r.updatedAt = ev.time;
    r.view = derive(r);
    const changed = !before || !sameView(before, r.view);
    return { changed, duplicate, elevationId, state: r.view.state, ...(previousState ? { previousState } : {}) };
  }

  function addTimeline(r: Record_, entry: TimelineEntry): void {
    // Insert in (time, id) order; arrival order does not matter.
    let i = r.timeline.length;
    const after = (a: TimelineEntry, b: TimelineEntry) => Date.parse(a.time) - Date.parse(b.time) || (a.id > b.id ? 1 : a.id < b.id ? -1 : 0);
    while (i > 0 && after(r.timeline[i - 1] as TimelineEntry, entry) > 0) i--;
    r.timeline.splice(i, 0, entry);
    if (r.timeline.length > maxTimeline) r.timeline.splice(0, r.timeline.length - maxTimeline);
  }

  function view(r: Record_): ElevationState {
    if (!r.view) r.view = derive(r);
    return r.view;
  }

  function list(filter: ListFilter = {}): ElevationState[] {
    const states = filter.state === undefined ? undefined : new Set(Array.isArray(filter.state) ? filter.state : [filter.state]);
    for (const st of states ?? []) if (!ELEVATION_STATES.includes(st)) throw InvalidFilter(`unknown state ${String(st).slice(0, 64)}`);
    const time = (name: string, v: Date | string | undefined) => {
      if (v === undefined) return undefined;
      const t = new Date(v).getTime();
      if (Number.isNaN(t)) throw InvalidFilter(`${name} is not a date`);
      return t;
    };
    const since = time('since', filter.since);
    const until = time('until', filter.until);
    const out: ElevationState[] = [];
    for (const r of records.values()) {
      const v = view(r);
      if (states && !states.has(v.state)) continue;
      if (filter.target !== undefined && v.target !== filter.target) continue;
      if (filter.requester !== undefined && v.requester !== filter.requester) continue;
      const created = Date.parse(v.createdAt);
      if (since !== undefined && created < since) continue;
      if (until !== undefined && created >= until) continue;
      out.push(structuredClone(v));
    }
    return out.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  function grantsLive(): LiveGrant[] {
    const out: LiveGrant[] = [];
    for (const r of records.values()) {
      const v = view(r);
      const g = r.granted?.data;
      if (v.state !== 'granted' || !g) continue;
      out.push({
        elevationId: v.id,
        grantId: g.grantId,
        target: g.target,
        scope: g.scope,
        substrate: g.substrate,
        requester: g.requester,
        handle: structuredClone(g.handle),
        issuedAt: g.issuedAt,
        expiresAt: g.expiresAt,
        ...(v.revokeRequested ? { revokeRequested: v.revokeRequested } : {}),
        revokeFailures: v.revokeFailures,
      });
    }
    return out.sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt) || (a.grantId < b.grantId ? -1 : 1));
  }

  function stats() {
    const byState = Object.fromEntries(ELEVATION_STATES.map((s) => [s, 0])) as Record<ElevationStateName, number>;
    for (const r of records.values()) byState[view(r).state]++;
    return { elevations: records.size, events: seenIds.size, byState };
  }

  return {
    apply,
    seen: (id) => seenIds.has(id),
    get: (id) => {
      const r = records.get(id);
      return r ? structuredClone(view(r)) : undefined;
    },
    list,
    grantsLive,
    byGrant: (grantId) => {
      const id = grantIndex.get(grantId);
      const r = id ? records.get(id) : undefined;
      return r ? structuredClone(view(r)) : undefined;
    },
    orphans: () => structuredClone(orphanList),
    stats,
  };
}

function elevationOf(ev: AnyElevationEvent): string | undefined {
  const d = ev.data as { elevationId?: string };
  return d.elevationId;
}

/** State precedence: a later lifecycle phase always wins; within the pre-merge phase the latest event wins. */
function deriveState(r: Record_): ElevationStateName {
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

function derive(r: Record_): ElevationState {
  const m = ELEVATION_ID_RE.exec(r.id);
  const req = r.requested?.data;
  const apr = r.approved?.data;
  const gr = r.granted?.data;
  const rv = r.revoked?.data;
  const approvals = [...r.approvals.values()]
    .sort((a, b) => Date.parse(a.data.at) - Date.parse(b.data.at) || (a.data.approver < b.data.approver ? -1 : 1))
    .map(({ data: d }) => ({
      approver: d.approver,
      action: d.action,
      counted: d.counted,
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.headSha ? { headSha: d.headSha } : {}),
      at: d.at,
    }));
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
    problems:
      r.rejected && later(r.rejected, r.requested) && later(r.rejected, r.withdrawn) ? r.rejected.data.problems : undefined,
    withdrawnReason:
      r.withdrawn && later(r.withdrawn, r.requested) && later(r.withdrawn, r.rejected) ? r.withdrawn.data.reason : undefined,
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
    revokeRequested: r.revokeRequested
      ? { by: r.revokeRequested.data.requestedBy, reason: r.revokeRequested.data.reason, at: r.revokeRequested.time }
      : undefined,
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
function sameView(a: ElevationState, b: ElevationState): boolean {
  const ka = Object.keys(a) as (keyof ElevationState)[];
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (BOOKKEEPING.has(k) || a[k] === b[k]) continue;
    // Values taken from stored events keep their identity; only derived objects need a deep look.
    if (typeof a[k] !== 'object' || typeof b[k] !== 'object' || JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  }
  return true;
}

function summarize(ev: AnyElevationEvent): string {
  switch (ev.type) {
    case EVENT_TYPES.requested: {
      const d = ev.data;
      return `${d.requester} requested ${d.target}/${d.scope} (${d.tier}) for ${d.ttlSeconds}s${d.breakGlass ? ' [break-glass]' : ''}`;
    }
    case EVENT_TYPES.rejected:
      return `rejected: ${ev.data.problems.length} problem(s), first: ${ev.data.problems[0]?.path} ${ev.data.problems[0]?.message}`;
    case EVENT_TYPES.withdrawn:
      return `withdrawn${ev.data.by ? ` by ${ev.data.by}` : ''}: ${ev.data.reason}`;
    case EVENT_TYPES.approvalRecorded: {
      const d = ev.data;
      return `${d.action} by ${d.approver} (${d.counted ? 'counted' : `not counted: ${d.reason ?? 'unknown'}`})`;
    }
    case EVENT_TYPES.approved:
      return `approved at merge ${ev.data.mergeSha.slice(0, 12)} by ${ev.data.approvers.join(', ') || '(break-glass)'}`;
    case EVENT_TYPES.bypassDetected:
      return `BYPASS: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.granted:
      return `granted on ${ev.data.substrate} until ${ev.data.expiresAt}`;
    case EVENT_TYPES.grantStarted:
      return `issuing on ${ev.data.substrate}`;
    case EVENT_TYPES.grantFailed:
      return `grant failed after ${ev.data.attempts} attempt(s): ${ev.data.error.code}`;
    case EVENT_TYPES.revokeRequested:
      return `revoke requested by ${ev.data.requestedBy}: ${ev.data.reason}`;
    case EVENT_TYPES.revoked:
      return `revoked (${ev.data.cause}${ev.data.verified ? ', verified' : ''}), ${ev.data.latenessMs} ms after due`;
    case EVENT_TYPES.revokeFailed:
      return `revoke attempt ${ev.data.attempt} failed: ${ev.data.error.code}; next at ${ev.data.nextAttemptAt}`;
    case EVENT_TYPES.expired:
      return `expired at ${ev.data.expiredAt}${ev.data.note ? ` (${ev.data.note})` : ''}`;
    case EVENT_TYPES.orphanRevoked:
      return `orphan credential revoked on ${ev.data.substrate}`;
    case EVENT_TYPES.credentialFetched:
      return `credential fetched by ${ev.data.by} (${ev.data.via}${ev.data.ci ? ` in ${ev.data.ci.projectPath}${ev.data.ci.ref ? `@${ev.data.ci.ref}` : ''}${ev.data.ci.jobId ? ` job ${ev.data.ci.jobId}` : ''}` : ''})`;
    // Policy events name no elevation, so no timeline shows them; named here for exhaustiveness.
    case EVENT_TYPES.policyRatified:
      return `policy ${ev.data.version.slice(0, 12)} ratified (${ev.data.how})`;
    case EVENT_TYPES.policyRefused:
      return `policy change !${ev.data.mrIid} refused: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.policyBypassDetected:
      return `POLICY BYPASS: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.pushRecorded:
      return `${ev.data.pusher} pushed ${ev.data.totalCommits} commit(s) to ${ev.data.branch}`;
  }
}

