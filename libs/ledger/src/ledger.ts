// The ledger: folds elevation events into per-elevation state (the read model) and remembers every
// event id (the idempotency memory). The state is a function of the SET of events applied, not of
// their order: each elevation keeps the events that matter (fold.ts), and the view is derived from
// them by precedence (derive.ts, see README.md), so replays, duplicates and late events all converge.
import { EVENT_TYPES, parseElevationEvent, type AnyElevationEvent, type CloudEventJson } from '@jit/contracts';
import { derive, sameView } from './derive';
import { InvalidFilter } from './errors';
import { elevationOf, foldEvent, newRecord, type ElevationRecord } from './fold';
import { approvalsSinceLastChange, currentRejection, currentRequest, lastApproval } from './request-versions';
import { addTimeline, summarize } from './timeline';
import {
  ELEVATION_STATES,
  type ApplyResult,
  type ElevationState,
  type Ledger,
  type LedgerOptions,
  type ListFilter,
  type LiveGrant,
  type OrphanRecord,
  type ElevationStateName,
  type GrantOnTarget,
  type PushRecord,
} from './types';

export function createLedger(options: LedgerOptions = {}): Ledger {
  const maxTimeline = options.maxTimeline ?? 500;
  const records = new Map<string, ElevationRecord>();
  const grantIndex = new Map<string, string>();
  const seenIds = new Set<string>();
  const orphanList: OrphanRecord[] = [];
  const pushLog = new Map<number, PushRecord[]>();
  /** Newest event time (ms) per type. */
  const newest = new Map<string, number>();
  /** Events applied so far (duplicates included): the tie-breaker of `later`. */
  let applied = 0;

  function recordFor(id: string, time: string): ElevationRecord {
    let r = records.get(id);
    if (!r) {
      r = newRecord(id, time);
      records.set(id, r);
    }
    return r;
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
    const at = Date.parse(ev.time);
    if (at > (newest.get(ev.type) ?? -Infinity)) newest.set(ev.type, at);

    if (ev.type === EVENT_TYPES.pushRecorded) {
      // Pushes belong to branches, not elevations: kept per project (who pushed never approves).
      const d = ev.data;
      const list = pushLog.get(d.projectId) ?? [];
      list.push({ projectId: d.projectId, branch: d.branch, pusher: d.pusher, before: d.before, after: d.after, commits: [...d.commits] });
      pushLog.set(d.projectId, list);
      return { changed: true, duplicate: false };
    }
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
    const duplicate = foldEvent(r, ev, seq, elevationId, grantIndex);

    addTimeline(r, { type: ev.type, id: ev.id, time: ev.time, summary: summarize(ev) }, maxTimeline);
    if (Date.parse(ev.time) < Date.parse(r.createdAt)) r.createdAt = ev.time;
    if (Date.parse(ev.time) > Date.parse(r.updatedAt)) r.updatedAt = ev.time;
    r.view = derive(r);
    const changed = !before || !sameView(before, r.view);
    return { changed, duplicate, elevationId, state: r.view.state, ...(previousState ? { previousState } : {}) };
  }

  function view(r: ElevationRecord): ElevationState {
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

  function liveOnTarget(target: string, now = Date.now()): GrantOnTarget[] {
    const out: GrantOnTarget[] = [];
    for (const r of records.values()) {
      const v = view(r);
      if ((v.state !== 'approved' && v.state !== 'granted') || v.target !== target) continue;
      if (v.state === 'granted' && v.expiresAt && Date.parse(v.expiresAt) <= now) continue;
      out.push({ elevationId: v.id, grantId: v.grantId ?? '', ...(v.scope ? { scope: v.scope } : {}), ...(v.state === 'granted' && v.expiresAt ? { expiresAt: v.expiresAt } : {}) });
    }
    return out;
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
    isDecided: (id) => {
      const r = records.get(id);
      return !!r && !!(r.approved || r.bypass || r.granted || r.grantFailed || r.revoked || r.expired);
    },
    phase: (id) => {
      const r = records.get(id);
      return !r || r.approved || r.bypass || r.granted || r.grantFailed || r.revoked || r.expired ? undefined : r.phase;
    },
    verdict: (id) => {
      const r = records.get(id);
      return r ? { ...(r.approved ? { approved: r.approved.data } : {}), ...(r.bypass ? { bypass: r.bypass.data } : {}) } : undefined;
    },
    request: (id) => currentRequest(records.get(id)),
    rejection: (id) => currentRejection(records.get(id)),
    approvalsSinceLastChange: (id) => approvalsSinceLastChange(records.get(id)),
    lastApproval: (id, approver, o) => lastApproval(records.get(id), approver, o?.ever === true),
    liveOnTarget,
    pushes: (projectId) => pushLog.get(projectId) ?? [],
    newestAt: (types) => {
      let max: number | undefined;
      for (const t of types) {
        const at = newest.get(t);
        if (at !== undefined && (max === undefined || at > max)) max = at;
      }
      return max === undefined ? undefined : new Date(max).toISOString();
    },
    stats,
  };
}
