// The schedule fold: the revoker's own fold of jit.elevations.v1 into the grants this replica
// must revoke and when (ADR 0014 says why it is not the ledger's). Facts per grant id (the approved
// TTL that caps expiry, the handle, ends, requests), the live grants and their due queue, and the
// provisional fold of a rebuild: a replay checks only the signatures of ends at once, the rest is
// confirmed afterwards and always before a grant is acted on (ADR 0010 / bench/README.md). A grant
// issued more than once (two `granted` with different handles: two issuer replicas) keeps every
// handle, so each credential is revoked, and the duplicate is reported once (`grant.duplicated`).
import { EVENT_TYPES, parseElevationEvent, type AnyElevationEvent, type RevocationHandleData } from '@jit/contracts';
import type { Logger } from '@jit/observability';
import { DueQueue } from './due-queue';
import type { LiveGrant } from './revoker-types';

export interface GrantFacts {
  elevationId: string;
  partition: number;
  /** The newest handle (what the `revoked` event names). */
  handle?: RevocationHandleData;
  /** Every distinct handle the grant's `granted` events carried since it last ended, by handleKey, oldest first. */
  handles?: Map<string, RevocationHandleData>;
  /** The newest `granted` came after the grant had ended. */
  issuedAfterEnd?: boolean;
  expiresAt?: number;
  revokeRequestedAt?: number;
  done: boolean;
  approvedAt?: number;
  /** The approved TTL (gate-signed): a grant is revoked at its issue time plus this, whatever expiry it names. */
  ttlSeconds?: number;
  failed: boolean;
  /** Ids of the `granted` events seen for the grant: a new one after the grant ended is a re-issue. */
  grantedIds?: Set<string>;
  /**
   * Set while the grant's state rests on events a rebuild folded before checking their signatures
   * (see `confirm`): its events since the last signature-checked end, in log order.
   */
  unconfirmed?: FoldedEvent[];
  /** How many `granted` events the unconfirmed state folded (more than one: refold exactly). */
  unconfirmedGranted?: number;
  /** `done` and `grantedIds` as of the last signature-checked end, where a refold starts. */
  confirmedBase?: { done: boolean; grantedIds: string[] };
}

/** An event as folded (as received: parsed again for a refold, which is rare), with its signature verdict once checked. */
interface FoldedEvent {
  partition: number;
  raw: unknown;
  trusted?: boolean;
}

/** How apply came by an event: live from the subscription, from a rebuild's replay, or refolded after its signature was checked. */
export type FoldMode = 'received' | 'replay' | 'checked';

/** The types the schedule folds: a replay does not parse the others (requests, approvals recorded, fetches...). */
export const FOLDED: ReadonlySet<string> = new Set([
  EVENT_TYPES.approved,
  EVENT_TYPES.granted,
  EVENT_TYPES.grantFailed,
  EVENT_TYPES.revokeRequested,
  EVENT_TYPES.revoked,
  EVENT_TYPES.expired,
  EVENT_TYPES.grantDuplicated,
]);
/** Ends of grants are checked at once in a replay: a forged one must never take a grant off the schedule. */
const ENDS: ReadonlySet<string> = new Set([EVENT_TYPES.revoked, EVENT_TYPES.expired]);
/**
 * Checked at once in a replay too: a `grant.duplicated` says a duplicate was reported already (a
 * rebuild does not report it again); a forged one must not silence a report. Rare, so cheap.
 */
const CHECKED_AT_ONCE: ReadonlySet<string> = new Set([...ENDS, EVENT_TYPES.grantDuplicated]);
/** Grants confirmed per turn of the event loop after a rebuild. */
const CONFIRM_BATCH = 256;

/** What is known of a grant for judging a listed credential (the orphan sweep). */
export type LogView = { approvedAt?: number; granted: boolean; done: boolean; failed: boolean };

export interface ScheduleFoldOptions {
  /** Whether the producer its type calls for signed `raw`; `received`: a live event (refusals logged, counted). */
  trusted(raw: unknown, received: boolean): boolean;
  logger: Logger;
  now: () => number;
  /** A grant was (re)scheduled: the caller re-arms its timer. */
  onScheduled(): void;
  /**
   * A grant this replica owns has more `granted` events (signature-checked) than any report on the
   * log says: the caller publishes `grant.duplicated`. Called once per new count per rebuild.
   */
  onDuplicate(report: DuplicateReport): void;
}

/** What `grant.duplicated` says (GrantDuplicatedData). */
export interface DuplicateReport {
  elevationId: string;
  grantId: string;
  issues: number;
  handles: RevocationHandleData[];
  afterEnd: boolean;
}

/** Two handles name the same credential when kind, instance and ref agree (a re-issue of a postgres role keeps its handle). */
export function handleKey(h: RevocationHandleData): string {
  const ref = Object.keys(h.ref)
    .sort()
    .map((k) => [k, h.ref[k]]);
  return JSON.stringify([h.kind, h.instance ?? null, ref]);
}

export interface ScheduleFold {
  /** Live grants this replica owns, by grant id. */
  readonly live: Map<string, LiveGrant>;
  /** Their due times. */
  readonly queue: DueQueue;
  /** Forgets everything; from now on only grants on `partitions` (undefined: all) are scheduled. */
  reset(partitions?: number[]): void;
  apply(event: AnyElevationEvent, partition: number, raw: unknown, mode: FoldMode): void;
  confirm(grantId: string): void;
  confirmAll(current: () => boolean): Promise<void>;
  /** The grant ended (revoked or expired by this revoker): off the schedule. */
  finish(grantId: string): void;
  /** What this replica's fold knows of a grant, in the sweep's terms (confirmed grants only). */
  foldedView(grantId: string): LogView | undefined;
}

export function createScheduleFold(options: ScheduleFoldOptions): ScheduleFold {
  const { trusted, logger, now, onScheduled, onDuplicate } = options;
  /** Everything known per grant id from the log (this replica's partitions). */
  const facts = new Map<string, GrantFacts>();
  /** Revocation requests that arrived before their grant, by elevation id (with the event, for a refold). */
  const pendingRequests = new Map<string, { at: number; folded: FoldedEvent }>();
  /** The highest `issues` a signature-checked `grant.duplicated` (or this replica) reported, by grant id. */
  const reported = new Map<string, number>();
  const live = new Map<string, LiveGrant>();
  const queue = new DueQueue();
  let owned: Set<number> | undefined;

  function factsFor(grantId: string, elevationId: string, partition: number): GrantFacts {
    let f = facts.get(grantId);
    if (!f) {
      f = { elevationId, partition, done: false, failed: false };
      facts.set(grantId, f);
    }
    return f;
  }

  /**
   * Folds one event into the schedule. Idempotent; safe for replays and redeliveries.
   *
   * A live event's signature is checked before it is folded. A rebuild's replay checks at once only
   * the ends of grants (`revoked`, `expired`: they take a grant off the schedule); the others are
   * folded provisionally, recorded on their grant, and checked by `confirm` - in the background right
   * after the rebuild, and always before the grant is acted on. A provisional fold can only make a
   * grant due sooner (an unchecked `granted` never moves its expiry later, an unchecked approval
   * only lowers the TTL cap, an unchecked request only brings it forward), so a forged event can
   * neither drop nor postpone a revocation; and nothing is revoked before its grant is confirmed, so
   * none can make the revoker revoke.
   */
  function apply(event: AnyElevationEvent, partition: number, raw: unknown, mode: FoldMode): void {
    const provisional = mode === 'replay' && !CHECKED_AT_ONCE.has(event.type);
    if (!provisional && mode !== 'checked' && !trusted(raw, mode === 'received')) return;
    const folded: FoldedEvent = { partition, raw, ...(provisional ? {} : { trusted: true }) };
    const t = event.type;
    if (t === EVENT_TYPES.approved) {
      const d = event.data as { elevationId: string; grantId: string; ttlSeconds: number };
      const f = factsFor(d.grantId, d.elevationId, partition);
      record(f, folded, provisional);
      f.approvedAt ??= Date.parse(event.time);
      f.ttlSeconds = Math.min(f.ttlSeconds ?? d.ttlSeconds, d.ttlSeconds);
    } else if (t === EVENT_TYPES.granted) {
      const d = event.data as { elevationId: string; grantId: string; handle: RevocationHandleData; expiresAt: string; issuedAt: string };
      const f = factsFor(d.grantId, d.elevationId, partition);
      record(f, folded, provisional);
      const seen = (f.grantedIds ??= new Set());
      const fresh = !seen.has(event.id);
      seen.add(event.id);
      if (f.unconfirmed && fresh) f.unconfirmedGranted = (f.unconfirmedGranted ?? 0) + 1;
      const wasLive = !f.done && f.expiresAt !== undefined;
      if (f.done) {
        if (!fresh) return; // the first granted delivered again: already ended
        // Issued again after the grant ended (an issuer replica whose ledger missed the end, a signed
        // approval replayed onto another partition): the credential out there now goes at once.
        if (!provisional) logger.warn({ elevationId: d.elevationId, grantId: d.grantId }, 'a grant was issued again after it ended; revoking it now');
        f.done = false;
        f.revokeRequestedAt ??= now();
        f.issuedAfterEnd = true;
      } else if (fresh) {
        f.issuedAfterEnd = false;
      }
      f.handle = d.handle;
      // every credential out there is revoked, not only the newest (two replicas issued one grant)
      const handles = (f.handles ??= new Map());
      handles.delete(handleKey(d.handle)); // the newest last
      handles.set(handleKey(d.handle), d.handle);
      // Never later than issue time + the approved TTL, whatever expiry the event names.
      const cap = f.ttlSeconds !== undefined ? Date.parse(d.issuedAt) + f.ttlSeconds * 1000 : Infinity;
      const expiresAt = Math.min(Date.parse(d.expiresAt), cap);
      // unchecked, a second granted may be the forgery: keep the sooner expiry until confirm refolds
      f.expiresAt = f.unconfirmed && wasLive ? Math.min(f.expiresAt!, expiresAt) : expiresAt;
      const requested = pendingRequests.get(d.elevationId);
      if (requested !== undefined) {
        f.revokeRequestedAt ??= requested.at;
        if (!requested.folded.trusted) record(f, requested.folded, true);
        pendingRequests.delete(d.elevationId);
      }
      schedule(d.grantId, f);
      if (!provisional) report(d.grantId, f);
    } else if (t === EVENT_TYPES.grantFailed) {
      const d = event.data as { elevationId: string; grantId: string };
      const f = factsFor(d.grantId, d.elevationId, partition);
      record(f, folded, provisional);
      f.failed = true;
    } else if (t === EVENT_TYPES.revokeRequested) {
      const d = event.data as { elevationId: string; grantId?: string };
      const at = Date.parse(event.time);
      const grantId = d.grantId ?? [...facts.entries()].find(([, f]) => f.elevationId === d.elevationId && f.handle && !f.done)?.[0];
      if (!grantId) {
        pendingRequests.set(d.elevationId, { at, folded });
        return;
      }
      const f = factsFor(grantId, d.elevationId, partition);
      record(f, folded, provisional);
      f.revokeRequestedAt ??= at;
      schedule(grantId, f);
    } else if (t === EVENT_TYPES.grantDuplicated) {
      const d = event.data as { grantId: string; issues: number };
      reported.set(d.grantId, Math.max(reported.get(d.grantId) ?? 0, d.issues));
    } else if (t === EVENT_TYPES.revoked || t === EVENT_TYPES.expired) {
      const d = event.data as { elevationId: string; grantId: string };
      const f = factsFor(d.grantId, d.elevationId, partition);
      f.done = true;
      delete f.handles; // all revoked by then: a later issue brings its own
      // a checked end: what was folded before it no longer matters; a refold starts from here
      if (f.unconfirmed && mode !== 'checked') {
        f.unconfirmed = [];
        f.unconfirmedGranted = 0;
        f.confirmedBase = { done: true, grantedIds: [...(f.grantedIds ?? [])] };
      }
      live.delete(d.grantId);
      queue.delete(d.grantId);
    }
  }

  /** Reports a grant whose signature-checked `granted` events outnumber what the log already reports. */
  function report(grantId: string, f: GrantFacts): void {
    const issues = f.grantedIds?.size ?? 0;
    if (issues < 2 || f.unconfirmed || (reported.get(grantId) ?? 0) >= issues) return;
    if (owned && !owned.has(f.partition)) return;
    reported.set(grantId, issues);
    onDuplicate({ elevationId: f.elevationId, grantId, issues, handles: [...(f.handles?.values() ?? (f.handle ? [f.handle] : []))], afterEnd: f.issuedAfterEnd ?? false });
  }

  /** Keeps a grant's events while its state is provisional (a refold needs them all, in order). */
  function record(f: GrantFacts, folded: FoldedEvent, provisional: boolean): void {
    if (provisional && !f.unconfirmed) {
      f.unconfirmed = [];
      f.unconfirmedGranted = 0;
      f.confirmedBase = { done: f.done, grantedIds: [...(f.grantedIds ?? [])] };
    }
    f.unconfirmed?.push(folded);
  }

  /**
   * Checks the signatures of what a rebuild folded provisionally for `grantId`. When every one holds
   * (and at most one `granted` was folded), the state stands; otherwise the grant is folded again
   * from its trusted events alone, which reschedules or drops it. Synchronous: nothing acts between.
   */
  function confirm(grantId: string): void {
    const f = facts.get(grantId);
    const events = f?.unconfirmed;
    if (!f || !events) return;
    let exact = (f.unconfirmedGranted ?? 0) <= 1;
    for (const e of events) {
      e.trusted ??= trusted(e.raw, false);
      if (!e.trusted) exact = false;
    }
    delete f.unconfirmed;
    delete f.unconfirmedGranted;
    const base = f.confirmedBase;
    delete f.confirmedBase;
    if (exact) return report(grantId, f);
    const before = live.get(grantId);
    facts.delete(grantId);
    live.delete(grantId);
    queue.delete(grantId);
    const fresh = factsFor(grantId, f.elevationId, f.partition);
    fresh.done = base?.done ?? false;
    // a provisional state starts from nothing or from a checked end, which had no live handles
    if (base?.grantedIds.length) fresh.grantedIds = new Set(base.grantedIds);
    for (const e of events) {
      const parsed = e.trusted ? parseElevationEvent(e.raw) : undefined;
      if (parsed?.ok) apply(parsed.event, e.partition, e.raw, 'checked');
    }
    schedule(grantId, fresh);
    // still overdue as the rebuild found it: still reconciliation
    const after = live.get(grantId);
    if (after && before?.cause === 'reconciliation' && after.cause === 'ttl' && after.dueAt <= before.dueAt) after.cause = 'reconciliation';
  }

  /** Confirms every provisional grant of the last rebuild while it is `current`, a batch per turn of the event loop. */
  async function confirmAll(current: () => boolean): Promise<void> {
    const ids = [...facts.entries()].filter(([, f]) => f.unconfirmed).map(([id]) => id);
    for (let i = 0; i < ids.length; i += CONFIRM_BATCH) {
      if (!current()) return;
      for (const id of ids.slice(i, i + CONFIRM_BATCH)) confirm(id);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // requests that never met their grant stay pending; check them too, so none waits on a forgery
    for (const [elevationId, p] of pendingRequests) {
      p.folded.trusted ??= trusted(p.folded.raw, false);
      if (!p.folded.trusted) pendingRequests.delete(elevationId);
    }
  }

  function schedule(grantId: string, f: GrantFacts): void {
    if (f.done || !f.handle || f.expiresAt === undefined) return;
    if (owned && !owned.has(f.partition)) return;
    const existing = live.get(grantId);
    const requested = f.revokeRequestedAt !== undefined;
    const dueAt = requested ? Math.min(f.revokeRequestedAt!, f.expiresAt) : f.expiresAt;
    const cause: LiveGrant['cause'] = requested && f.revokeRequestedAt! < f.expiresAt ? 'requested' : 'ttl';
    if (existing) {
      existing.handle = f.handle; // a re-issue of the grant: revoke what is out there now
      existing.handles = liveHandles(f);
      if (existing.attempt > 0 || existing.dueAt <= dueAt) return; // already due sooner or retrying
      existing.dueAt = dueAt;
      existing.cause = cause;
    } else {
      live.set(grantId, {
        elevationId: f.elevationId,
        grantId,
        handle: f.handle,
        handles: liveHandles(f),
        expiresAt: f.expiresAt,
        partition: f.partition,
        dueAt,
        cause,
        attempt: 0,
      });
    }
    queue.set(grantId, dueAt);
    onScheduled();
  }

  function liveHandles(f: GrantFacts): RevocationHandleData[] {
    return f.handles?.size ? [...f.handles.values()] : f.handle ? [f.handle] : [];
  }

  return {
    live,
    queue,
    reset(partitions) {
      owned = partitions ? new Set(partitions) : undefined;
      facts.clear();
      pendingRequests.clear();
      reported.clear();
      live.clear();
      queue.clear();
    },
    apply,
    confirm,
    confirmAll,
    finish(grantId) {
      const f = facts.get(grantId);
      if (f) {
        f.done = true;
        delete f.unconfirmed;
        delete f.handles;
      }
      live.delete(grantId);
      queue.delete(grantId);
    },
    foldedView(grantId) {
      const f = facts.get(grantId);
      if (!f || f.unconfirmed) return undefined;
      return { ...(f.approvedAt !== undefined ? { approvedAt: f.approvedAt } : {}), granted: f.handle !== undefined, done: f.done, failed: f.failed };
    },
  };
}
