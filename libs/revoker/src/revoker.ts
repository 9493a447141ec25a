// The revoker: keeps a durable schedule of live grants (rebuilt from jit.elevations.v1), revokes
// at expiry or on request, verifies, retries without ever going silent, reconciles overdue grants
// and sweeps orphans (credentials a substrate lists that no live grant explains).
import {
  EVENT_TYPES,
  TOPIC_ELEVATIONS,
  checkProducer,
  createElevationEvent,
  describeRefusal,
  leftoverObjectSchema,
  markdownCode,
  markdownText,
  parseElevationEvent,
  type AnyElevationEvent,
  type EventError,
  type LeftoverObjectData,
  type ProducerTrust,
  type RevocationHandleData,
} from '@jit/contracts';
import type { BusMessage, EventBus, Subscription } from '@jit/bus';
import { JitError, isRetriable, retryRetriable } from '@jit/errors';
import { refusedEventsCounter, type Logger } from '@jit/observability';
import type { RevocationHandle, Substrate } from '@jit/substrates';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DueQueue } from './due-queue';
import { CannotRevokeEarly, RevokeFailed } from './errors';

/** Leftovers a revoke reported, as the event schema takes them: malformed entries dropped, at most 200. */
function leftoversOf(report: unknown): LeftoverObjectData[] {
  const raw = (report as { leftovers?: unknown } | undefined)?.leftovers;
  if (!Array.isArray(raw)) return [];
  const out: LeftoverObjectData[] = [];
  for (const item of raw.slice(0, 200)) {
    const parsed = leftoverObjectSchema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

const MAX_LEFTOVER_LINES = 20;
/** A retriable revocation failure is logged as an error (someone should look) from this attempt on. */
const ESCALATE_AFTER_ATTEMPTS = 3;
/** The MR comment's list of leftovers; names are the grantee's, so they are rendered inert (code spans, no control characters). */
function leftoversMarkdown(leftovers: LeftoverObjectData[]): string {
  if (leftovers.length === 0) return '';
  const lines = leftovers.slice(0, MAX_LEFTOVER_LINES).map((l) => `- ${markdownText(l.action, 40)} ${markdownText(l.kind, 80)} ${markdownCode(l.name)}${l.note ? ` — ${markdownText(l.note, 200)}` : ''}`);
  if (leftovers.length > MAX_LEFTOVER_LINES) lines.push(`- and ${leftovers.length - MAX_LEFTOVER_LINES} more (see the elevation.revoked event)`);
  return `\n\nThe credential left objects that could act with other roles' rights:\n${lines.join('\n')}`;
}

export interface MrNotifier {
  comment(projectId: number, mrIid: number, markdown: string): Promise<void>;
}

export interface SubstrateLookup {
  /** The instance that issued a handle. Throws when it is not configured here. */
  forHandle(handle: RevocationHandle): Substrate;
  list(): Substrate[];
}

export interface RevokerOptions {
  bus: EventBus;
  /**
   * The keys this revoker trusts per producer: an `elevation.granted` not signed by an issuer key is
   * refused (logged, counted), so a forged one can neither schedule nor postpone a revocation; a
   * `revoked`/`expired` not signed by a revoker key does not take a grant off the schedule; only a
   * gate-signed `approved` sets the TTL that caps a grant's expiry.
   */
  trust: ProducerTrust;
  substrates: SubstrateLookup;
  logger: Logger;
  notifier?: MrNotifier;
  registry?: Registry;
  groupId?: string;
  source?: string;
  /** Backoff of failed revocations: base doubling up to max; never gives up. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Periodic reconciliation + orphan sweep; 0 disables the timer (start still runs one). */
  sweepIntervalMs?: number;
  /** An approved grant not yet granted is left alone this long before its credential counts as orphan. */
  orphanGraceMs?: number;
  /** How long start and rebalances wait out retriable bus errors (a fresh cluster). Default 60 s. */
  startRetryMs?: number;
  /** Parallel revocations at once. */
  concurrency?: number;
  now?: () => number;
}

export interface LiveGrant {
  elevationId: string;
  grantId: string;
  handle: RevocationHandleData;
  expiresAt: number;
  partition: number;
  /** When revocation is due and why. */
  dueAt: number;
  cause: 'ttl' | 'requested' | 'reconciliation';
  attempt: number;
}

export interface Revoker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Live grants this replica owns (read-only view for metrics and tests). */
  live(): ReadonlyMap<string, LiveGrant>;
  /** Runs reconciliation and the orphan sweep now. */
  sweep(): Promise<{ orphans: number }>;
  /** Resolves once every signature the last rebuild left unchecked is checked (its provisional grants confirmed). */
  confirmed(): Promise<void>;
}

interface GrantFacts {
  elevationId: string;
  partition: number;
  handle?: RevocationHandleData;
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
type FoldMode = 'received' | 'replay' | 'checked';

/** The types the schedule folds: a replay does not parse the others (requests, approvals recorded, fetches...). */
const FOLDED: ReadonlySet<string> = new Set([EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.grantFailed, EVENT_TYPES.revokeRequested, EVENT_TYPES.revoked, EVENT_TYPES.expired]);
/** What a sweep's whole-log view reads. */
const VIEWED: ReadonlySet<string> = new Set([EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.grantFailed, EVENT_TYPES.revoked, EVENT_TYPES.expired]);
/** Ends of grants are checked at once in a replay: a forged one must never take a grant off the schedule. */
const ENDS: ReadonlySet<string> = new Set([EVENT_TYPES.revoked, EVENT_TYPES.expired]);
/** Grants confirmed per turn of the event loop after a rebuild. */
const CONFIRM_BATCH = 256;

export function createRevoker(options: RevokerOptions): Revoker {
  const { bus, substrates, logger, notifier } = options;
  const source = options.source ?? '/jit/revoker';
  const groupId = options.groupId ?? 'jit-revoker';
  const baseMs = options.retry?.baseMs ?? 1000;
  const maxMs = options.retry?.maxMs ?? 5 * 60_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 5 * 60_000;
  const orphanGraceMs = options.orphanGraceMs ?? 10 * 60_000;
  const concurrency = options.concurrency ?? 32;
  const now = options.now ?? (() => Date.now());

  /** Everything known per grant id from the log (this replica's partitions). */
  const facts = new Map<string, GrantFacts>();
  /** Revocation requests that arrived before their grant, by elevation id (with the event, for a refold). */
  const pendingRequests = new Map<string, { at: number; folded: FoldedEvent }>();
  /** The last offset per partition the last rebuild's replay folded: the subscription skips up to it. */
  const replayedTo = new Map<number, string>();
  /** Bumped by every rebuild: a background confirmation of an older one stops. */
  let generation = 0;
  const live = new Map<string, LiveGrant>();
  const queue = new DueQueue();
  let owned: Set<number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let subscription: Subscription | undefined;
  let stopped = false;
  /** While the schedule is rebuilt from the log nothing fires: overdue grants are labelled first. */
  let rebuilding = false;
  let running = 0;
  let ready: Promise<void> = Promise.resolve();
  /** The background confirmation of the last rebuild (stop waits for it). */
  let confirming: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();

  const registers = options.registry ? [options.registry] : [];
  const refused = refusedEventsCounter(options.registry);
  const revocations = new Counter({
    name: 'jit_revocations_total',
    help: 'Revocations by outcome (revoked, expired, failed, orphan).',
    labelNames: ['outcome', 'substrate'],
    registers,
  });
  const failing = new Gauge({
    name: 'jit_revocations_failing',
    help: 'Grants whose revocation is failing and being retried.',
    registers,
    collect() {
      let n = 0;
      for (const g of live.values()) if (g.attempt > 0) n++;
      this.set(n);
    },
  });
  const liveGauge = new Gauge({
    name: 'jit_live_grants',
    help: 'Live grants scheduled for revocation on this replica.',
    registers,
    collect() {
      this.set(live.size);
    },
  });
  const lateness = new Histogram({
    name: 'jit_expiry_to_revoked_seconds',
    help: 'Revocation lateness: revoked time minus the time it was due (expiry or request).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
    registers,
  });
  // The heartbeat: the alert JitRevokerDown fires when no revoker has completed a sweep for a
  // while. Only a completed sweep (reconciliation fired, orphans looked for) moves it, so a revoker
  // that is up but cannot reconcile (bus or substrate registry unreachable) also stops moving it.
  const lastSweep = new Gauge({
    name: 'jit_revoker_last_sweep_timestamp_seconds',
    help: 'Unix time of the last completed reconciliation + orphan sweep (every JIT_SWEEP_INTERVAL_MS). 0 until the first.',
    registers,
  });
  void failing;
  void liveGauge;

  function factsFor(grantId: string, elevationId: string, partition: number): GrantFacts {
    let f = facts.get(grantId);
    if (!f) {
      f = { elevationId, partition, done: false, failed: false };
      facts.set(grantId, f);
    }
    return f;
  }

  /** Whether the producer its type calls for signed `raw` (the event as received); refusals of live events are logged and counted. */
  function trusted(raw: unknown, received: boolean): boolean {
    const check = checkProducer(options.trust, raw);
    if (check.ok) return true;
    if (received) {
      const refusal = describeRefusal(check, raw);
      refused.inc({ consumer: 'revoker', ...refusal.labels });
      logger.warn(refusal.fields, refusal.message);
    }
    return false;
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
    const provisional = mode === 'replay' && !ENDS.has(event.type);
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
      }
      f.handle = d.handle;
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
    } else if (t === EVENT_TYPES.revoked || t === EVENT_TYPES.expired) {
      const d = event.data as { elevationId: string; grantId: string };
      const f = factsFor(d.grantId, d.elevationId, partition);
      f.done = true;
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
    if (exact) return;
    const before = live.get(grantId);
    facts.delete(grantId);
    live.delete(grantId);
    queue.delete(grantId);
    const fresh = factsFor(grantId, f.elevationId, f.partition);
    fresh.done = base?.done ?? false;
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

  /** Confirms every provisional grant of the rebuild `gen`, a batch per turn of the event loop. */
  async function confirmAll(gen: number): Promise<void> {
    const ids = [...facts.entries()].filter(([, f]) => f.unconfirmed).map(([id]) => id);
    for (let i = 0; i < ids.length; i += CONFIRM_BATCH) {
      if (stopped || gen !== generation) return;
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
      if (existing.attempt > 0 || existing.dueAt <= dueAt) return; // already due sooner or retrying
      existing.dueAt = dueAt;
      existing.cause = cause;
    } else {
      live.set(grantId, {
        elevationId: f.elevationId,
        grantId,
        handle: f.handle,
        expiresAt: f.expiresAt,
        partition: f.partition,
        dueAt,
        cause,
        attempt: 0,
      });
    }
    queue.set(grantId, dueAt);
    arm();
  }

  function arm(): void {
    if (stopped || rebuilding) return;
    if (timer) clearTimeout(timer);
    const next = queue.peekDueAt();
    if (next === undefined) return;
    // setTimeout is limited to 2^31-1 ms; far-future grants re-arm on wake-up.
    const wait = Math.min(Math.max(0, next - now()), 2 ** 31 - 1);
    timer = setTimeout(fire, wait);
    timer.unref?.();
  }

  function fire(): void {
    timer = undefined;
    if (stopped || rebuilding) return;
    // Take only as many as there are free slots; a finishing job re-arms for the rest.
    while (running < concurrency) {
      const [next] = queue.popDue(now(), 1);
      if (!next) break;
      // nothing is revoked on a state a rebuild has not confirmed: a refold may drop or move it
      confirm(next.grantId);
      const g = live.get(next.grantId);
      if (!g || g.dueAt > now()) continue;
      running++;
      const job = revokeOne(g).finally(() => {
        running--;
        inFlight.delete(job);
        arm();
      });
      inFlight.add(job);
    }
    if (running < concurrency) arm();
  }

  async function publish(event: AnyElevationEvent): Promise<void> {
    await bus.publish(TOPIC_ELEVATIONS, event.elevationid ?? event.subject ?? '', event);
  }

  async function notify(elevationId: string, markdown: string): Promise<void> {
    if (!notifier) return;
    const m = /^gl-(\d+)-(\d+)$/.exec(elevationId);
    if (!m) return;
    try {
      await notifier.comment(Number(m[1]), Number(m[2]), markdown);
    } catch (err) {
      logger.warn({ elevationId, err: summary(err) }, 'could not comment on the MR');
    }
  }

  async function revokeOne(g: LiveGrant): Promise<void> {
    const log = logger.child({ elevationId: g.elevationId, grantId: g.grantId });
    let substrateName = g.handle.instance ?? g.handle.kind;
    try {
      const substrate = substrates.forHandle(g.handle as RevocationHandle);
      substrateName = substrate.name;
      if (!substrate.canRevokeEarly) {
        if (now() < g.expiresAt) {
          // Answer honestly, then wait for natural expiry.
          const err = CannotRevokeEarly(substrate.name, new Date(g.expiresAt).toISOString());
          await publish(
            createElevationEvent(
              EVENT_TYPES.revokeFailed,
              { elevationId: g.elevationId, grantId: g.grantId, attempt: 1, nextAttemptAt: new Date(g.expiresAt).toISOString(), error: toEventError(err) },
              { source, idKey: `${g.grantId}:early` },
            ),
          );
          await notify(g.elevationId, `**jit:** ${err.message}.`);
          g.dueAt = g.expiresAt;
          g.cause = 'ttl';
          queue.set(g.grantId, g.dueAt);
          return;
        }
        await publish(
          createElevationEvent(
            EVENT_TYPES.expired,
            { elevationId: g.elevationId, grantId: g.grantId, expiredAt: new Date(g.expiresAt).toISOString(), note: `${substrate.kind} credentials end at their natural expiry` },
            { source, idKey: g.grantId },
          ),
        );
        finish(g, 'expired', substrate.name);
        await notify(g.elevationId, `**jit: expired** — the credential reached its natural expiry at ${new Date(g.expiresAt).toISOString()}.`);
        return;
      }
      const leftovers = leftoversOf(await substrate.revoke(g.handle as RevocationHandle));
      let verified = false;
      let verifyDetail: string | undefined;
      if (substrate.verifyRevoked) {
        const v = await substrate.verifyRevoked(g.handle as RevocationHandle);
        verified = v.verified;
        verifyDetail = v.detail;
      } else {
        verifyDetail = `${substrate.kind} offers no probe`;
      }
      const revokedAt = now();
      const latenessMs = Math.round(revokedAt - g.dueAt);
      await publish(
        createElevationEvent(
          EVENT_TYPES.revoked,
          {
            elevationId: g.elevationId,
            grantId: g.grantId,
            handle: g.handle,
            verified,
            ...(verifyDetail ? { verifyDetail: verifyDetail.slice(0, 2000) } : {}),
            revokedAt: new Date(revokedAt).toISOString(),
            latenessMs,
            cause: g.cause,
            ...(leftovers.length ? { leftovers } : {}),
          },
          { source, idKey: g.grantId },
        ),
      );
      lateness.observe(Math.max(0, latenessMs) / 1000);
      finish(g, 'revoked', substrate.name);
      log.info({ verified, latenessMs, cause: g.cause }, 'revoked');
      await notify(
        g.elevationId,
        `**jit: revoked** (${g.cause === 'requested' ? 'on request' : g.cause === 'reconciliation' ? 'overdue, by reconciliation' : 'at expiry'}) — ` +
          `${verified ? 'verified: the credential no longer works' : 'not verified by a probe'}; lateness ${latenessMs} ms.` +
          leftoversMarkdown(leftovers),
      );
    } catch (err) {
      g.attempt++;
      const wait = Math.min(maxMs, baseMs * 2 ** (g.attempt - 1));
      // g.dueAt stays the original due time, so the lateness finally reported includes the retries.
      const retryAt = now() + wait;
      const error = toEventError(err instanceof JitError ? err : RevokeFailed(substrateName, err instanceof Error ? err.name : 'unknown error'));
      // A retriable failure the next attempt may well fix is a warning; error level is for what
      // needs a human: a failure no retry can fix, or one that keeps coming back.
      const needsHuman = !error.retriable || g.attempt >= ESCALATE_AFTER_ATTEMPTS;
      log[needsHuman ? 'error' : 'warn']({ attempt: g.attempt, nextInMs: wait, error }, needsHuman ? 'revocation failed; retrying — needs attention' : 'revocation failed; retrying');
      revocations.inc({ outcome: 'failed', substrate: substrateName });
      queue.set(g.grantId, retryAt);
      try {
        await publish(
          createElevationEvent(
            EVENT_TYPES.revokeFailed,
            { elevationId: g.elevationId, grantId: g.grantId, attempt: g.attempt, nextAttemptAt: new Date(retryAt).toISOString(), error },
            { source, idKey: `${g.grantId}:${g.attempt}` },
          ),
        );
      } catch (publishErr) {
        log.error({ err: summary(publishErr) }, 'could not publish revoke.failed; the retry is still scheduled');
      }
    }
  }

  function finish(g: LiveGrant, outcome: 'revoked' | 'expired', substrate: string): void {
    const f = facts.get(g.grantId);
    if (f) {
      f.done = true;
      delete f.unconfirmed;
    }
    live.delete(g.grantId);
    queue.delete(g.grantId);
    revocations.inc({ outcome, substrate });
  }

  /** rebuildOnce, waiting out retriable bus errors (leaders moving, a fresh cluster). */
  function rebuild(partitions?: number[]): Promise<void> {
    return retryRetriable(() => rebuildOnce(partitions), {
      timeoutMs: options.startRetryMs ?? 60_000,
      cancelled: () => stopped,
      onRetry: (err, attempt) => logger.warn({ attempt, err: summary(err) }, 'could not rebuild the schedule yet; retrying'),
    });
  }

  async function rebuildOnce(partitions?: number[]): Promise<void> {
    owned = partitions ? new Set(partitions) : undefined;
    const gen = ++generation;
    facts.clear();
    pendingRequests.clear();
    replayedTo.clear();
    live.clear();
    queue.clear();
    if (timer) clearTimeout(timer);
    timer = undefined;
    rebuilding = true;
    try {
      await bus.replay(
        TOPIC_ELEVATIONS,
        (m) => {
          replayedTo.set(m.partition, m.offset);
          // an event of another type changes nothing a replay folds (provisional, unchecked): skip its parse
          if (!FOLDED.has(m.event.type)) return;
          const parsed = parseElevationEvent(m.event);
          if (parsed.ok) apply(parsed.event, m.partition, m.event, 'replay');
        },
        partitions ? { partitions } : undefined,
      );
    } finally {
      rebuilding = false;
    }
    // Reconciliation: anything already past due is revoked at once (lateness recorded).
    const t = now();
    for (const g of live.values()) if (g.dueAt < t && g.cause === 'ttl') g.cause = 'reconciliation';
    logger.info({ live: live.size, partitions: partitions ?? 'all' }, 'schedule rebuilt from the log');
    arm();
    // the signatures the replay left unchecked, soon (a grant due first is confirmed when it fires)
    confirming = confirmAll(gen).catch((err: unknown) => logger.error({ err: summary(err) }, 'could not confirm the rebuilt schedule; grants are confirmed when due'));
  }

  async function onMessage(message: BusMessage): Promise<void> {
    await ready;
    // the rebuild's replay folded this one already (a new group starts at the beginning of the log)
    const upTo = replayedTo.get(message.partition);
    if (upTo !== undefined && BigInt(message.offset) <= BigInt(upTo)) return;
    const parsed = parseElevationEvent(message.event);
    if (!parsed.ok) {
      logger.warn({ offset: message.offset, error: parsed.error.message }, 'skipping an invalid event');
      return;
    }
    apply(parsed.event, message.partition, message.event, 'received');
  }

  /** Sweeps never overlap: a sweep asked for while one runs starts after it. */
  let sweepChain: Promise<unknown> = Promise.resolve();
  function sweep(): Promise<{ orphans: number }> {
    const run = sweepChain.then(sweepOnce).then((result) => {
      lastSweep.set(now() / 1000);
      return result;
    });
    sweepChain = run.catch(() => undefined);
    return run;
  }

  /** Whole-log view of every grant, for judging orphans (not just this replica's partitions). */
  async function grantsInLog(): Promise<Map<string, LogView>> {
    const all = new Map<string, LogView>();
    await bus.replay(TOPIC_ELEVATIONS, (m) => {
      if (!VIEWED.has(m.event.type)) return;
      const parsed = parseElevationEvent(m.event);
      if (!parsed.ok || !trusted(m.event, false)) return;
      const d = parsed.event.data as { grantId?: string };
      if (!d.grantId) return;
      const e = all.get(d.grantId) ?? { granted: false, done: false, failed: false };
      if (parsed.event.type === EVENT_TYPES.approved) e.approvedAt ??= Date.parse(parsed.event.time);
      if (parsed.event.type === EVENT_TYPES.granted) e.granted = true;
      if (parsed.event.type === EVENT_TYPES.grantFailed) e.failed = true;
      if (parsed.event.type === EVENT_TYPES.revoked || parsed.event.type === EVENT_TYPES.expired) e.done = true;
      all.set(d.grantId, e);
    });
    return all;
  }

  type LogView = { approvedAt?: number; granted: boolean; done: boolean; failed: boolean };

  /** Live (the owner revokes it on time) or being issued: not an orphan. */
  function spared(known: LogView | undefined): boolean {
    if (known?.granted && !known.done) return true;
    return !!known?.approvedAt && !known.granted && !known.failed && now() - known.approvedAt < orphanGraceMs;
  }

  /** What this replica's fold knows of a grant, in grantsInLog's terms (confirmed first). */
  function foldedView(grantId: string): LogView | undefined {
    const f = facts.get(grantId);
    if (!f || f.unconfirmed) return undefined;
    return { ...(f.approvedAt !== undefined ? { approvedAt: f.approvedAt } : {}), granted: f.handle !== undefined, done: f.done, failed: f.failed };
  }

  async function sweepOnce(): Promise<{ orphans: number }> {
    // Reconciliation: overdue grants fire now.
    fire();
    // Orphans. The credentials are listed BEFORE the log is read: a credential that exists at
    // listing time was issued after its `approved` event was published, so the read that follows
    // sees that event, and a credential being issued right now is never mistaken for an orphan.
    const listed: Array<{ substrate: Substrate; handles: RevocationHandle[] }> = [];
    for (const substrate of substrates.list()) {
      if (substrate.maintain) {
        await substrate.maintain(new Date(now())).catch((err: unknown) =>
          logger.warn({ substrate: substrate.name, err: summary(err) }, 'substrate housekeeping failed; next sweep retries'),
        );
      }
      if (!substrate.listIssued || !substrate.canRevokeEarly) continue;
      try {
        listed.push({ substrate, handles: await substrate.listIssued() });
      } catch (err) {
        logger.warn({ substrate: substrate.name, err: summary(err) }, 'orphan sweep could not list issued credentials');
      }
    }
    // Grants this replica schedules are live by definition; the log is read only for the others.
    for (const { handles } of listed) for (const h of handles) confirm(h.grantId);
    // The schedule's own fold spares what it can (granted and not ended, or being issued); only a
    // credential it cannot explain is judged on the whole log, read now (the fold may lag behind it).
    const suspects = listed.some(({ handles }) => handles.some((h) => !live.has(h.grantId) && !spared(foldedView(h.grantId))));
    if (!suspects) return { orphans: 0 };
    const all = await grantsInLog();
    let orphans = 0;
    for (const { substrate, handles } of listed) {
      for (const handle of handles) {
        if (live.has(handle.grantId)) continue;
        if (spared(all.get(handle.grantId))) continue;
        try {
          const leftovers = leftoversOf(await substrate.revoke(handle));
          const elevationId = /^(gl-\d+-\d+)-/.exec(handle.grantId)?.[1];
          await publish(
            createElevationEvent(
              EVENT_TYPES.orphanRevoked,
              {
                grantId: handle.grantId,
                substrate: substrate.name,
                handle: handle as RevocationHandleData,
                ...(elevationId ? { elevationId } : {}),
                ...(leftovers.length ? { leftovers } : {}),
              },
              { source, idKey: `${handle.grantId}:orphan:${JSON.stringify(handle.ref)}` },
            ),
          );
          revocations.inc({ outcome: 'orphan', substrate: substrate.name });
          orphans++;
          logger.warn({ grantId: handle.grantId, substrate: substrate.name }, 'orphan credential revoked');
        } catch (err) {
          logger.error({ grantId: handle.grantId, substrate: substrate.name, err: summary(err) }, 'orphan revoke failed; next sweep retries');
        }
      }
    }
    return { orphans };
  }

  return {
    live: () => live,
    sweep,
    confirmed: () => confirming,
    async start() {
      stopped = false;
      let resolveReady!: () => void;
      ready = new Promise((r) => (resolveReady = r));
      let first = true;
      subscription = await retryRetriable(() => bus.subscribe({
        topic: TOPIC_ELEVATIONS,
        groupId,
        handler: onMessage,
        onAssignment: async (partitions) => {
          const rebuilt = rebuild(bus.kind === 'kafka' ? partitions : undefined);
          if (first) {
            first = false;
            await rebuilt;
            resolveReady();
          } else {
            ready = rebuilt;
            await rebuilt;
          }
        },
      }), { timeoutMs: options.startRetryMs ?? 60_000, cancelled: () => stopped });
      // Implementations that do not report assignment (or reported it before we listened).
      if (first) {
        first = false;
        await rebuild();
        resolveReady();
      }
      // Overdue grants already fired when the schedule was rebuilt; the orphan sweep may list
      // remote credentials for a while, so start() does not wait for it.
      void sweep().catch((err) => logger.error({ err: summary(err) }, 'initial sweep failed'));
      if (sweepIntervalMs > 0) {
        sweepTimer = setInterval(() => {
          sweep().catch((err) => logger.error({ err: summary(err) }, 'sweep failed'));
        }, sweepIntervalMs);
        sweepTimer.unref?.();
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (sweepTimer) clearInterval(sweepTimer);
      await subscription?.stop();
      await Promise.allSettled([...inFlight, sweepChain, confirming]);
    },
  };
}

function toEventError(err: JitError): EventError {
  return { code: err.code, message: err.message.slice(0, 2000), retriable: isRetriable(err) };
}

function summary(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, message: err.message };
  return { name: err instanceof Error ? err.name : typeof err };
}
