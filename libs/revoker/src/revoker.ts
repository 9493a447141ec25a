// The revoker: keeps a durable schedule of live grants (rebuilt from jit.elevations.v1), revokes
// at expiry or on request, verifies, retries without ever going silent, reconciles overdue grants
// and sweeps orphans (credentials a substrate lists that no live grant explains). This file
// composes the parts (see README.md) and owns the lifecycle: the rebuild on every assignment, the
// subscription, the due timer, start and stop.
import { EVENT_TYPES, TOPIC_ELEVATIONS, checkProducer, createElevationEvent, describeRefusal, parseElevationEvent } from '@jit/contracts';
import type { BusMessage, Subscription } from '@jit/bus';
import { retryRetriable } from '@jit/errors';
import { createOrphanSweep } from './orphan-sweep';
import { createNotify, createPublish, summary } from './outputs';
import { createRevokeOne } from './revoke-one';
import { createRevokerMetrics } from './revoker-metrics';
import type { Revoker, RevokerOptions } from './revoker-types';
import { FOLDED, createScheduleFold, type DuplicateReport } from './schedule-fold';

export type { LiveGrant, MrNotifier, Revoker, RevokerOptions, SubstrateLookup } from './revoker-types';

export function createRevoker(options: RevokerOptions): Revoker {
  const { bus, substrates, logger } = options;
  const source = options.source ?? '/jit/revoker';
  const groupId = options.groupId ?? 'jit-revoker';
  const sweepIntervalMs = options.sweepIntervalMs ?? 5 * 60_000;
  const concurrency = options.concurrency ?? 32;
  const now = options.now ?? (() => Date.now());

  /** The last offset per partition the last rebuild's replay folded: the subscription skips up to it. */
  const replayedTo = new Map<number, string>();
  /** Bumped by every rebuild: a background confirmation of an older one stops. */
  let generation = 0;
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

  /** Whether the producer its type calls for signed `raw` (the event as received); refusals of live events are logged and counted. */
  function trusted(raw: unknown, received: boolean): boolean {
    const check = checkProducer(options.trust, raw);
    if (check.ok) return true;
    if (received) {
      const refusal = describeRefusal(check, raw);
      metrics.refused.inc({ consumer: 'revoker', ...refusal.labels });
      logger.warn(refusal.fields, refusal.message);
    }
    return false;
  }

  const fold = createScheduleFold({
    trusted,
    logger,
    now,
    onScheduled: () => arm(),
    onDuplicate: (r) => void reportDuplicate(r).catch((err: unknown) => logger.error({ grantId: r.grantId, err: summary(err) }, 'could not report a duplicate issue')),
  });
  const metrics = createRevokerMetrics(options.registry, fold.live);
  const publish = createPublish(bus);

  /** `grant.duplicated` for a SIEM: one grant issued more than once. Every handle is revoked whether or not this lands. */
  async function reportDuplicate(r: DuplicateReport): Promise<void> {
    const substrate = r.handles.at(-1)?.instance ?? r.handles.at(-1)?.kind ?? 'unknown';
    logger.error(
      { elevationId: r.elevationId, grantId: r.grantId, issues: r.issues, handles: r.handles.length, afterEnd: r.afterEnd },
      'a grant was issued more than once; every credential is revoked',
    );
    const event = createElevationEvent(
      EVENT_TYPES.grantDuplicated,
      { elevationId: r.elevationId, grantId: r.grantId, substrate, issues: r.issues, handles: r.handles.slice(-100), afterEnd: r.afterEnd },
      { source, idKey: `${r.grantId}:duplicated:${r.issues}` },
    );
    await retryRetriable(() => publish(event), { timeoutMs: options.startRetryMs ?? 60_000, cancelled: () => stopped }).catch((err: unknown) =>
      logger.error({ grantId: r.grantId, err: summary(err) }, 'could not publish grant.duplicated; the next rebuild reports it'),
    );
  }
  const revokeOne = createRevokeOne({
    substrates,
    logger,
    source,
    now,
    baseMs: options.retry?.baseMs ?? 1000,
    maxMs: options.retry?.maxMs ?? 5 * 60_000,
    publish,
    notify: createNotify(options.notifier, logger),
    metrics,
    queue: fold.queue,
    finish: (g, outcome, substrate) => {
      fold.finish(g.grantId);
      metrics.revocations.inc({ outcome, substrate });
    },
  });
  const sweeps = createOrphanSweep({
    bus,
    substrates,
    logger,
    source,
    now,
    orphanGraceMs: options.orphanGraceMs ?? 10 * 60_000,
    trusted,
    fold,
    reconcile: () => fire(),
    publish,
    metrics,
  });

  function arm(): void {
    if (stopped || rebuilding) return;
    if (timer) clearTimeout(timer);
    const next = fold.queue.peekDueAt();
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
      const [next] = fold.queue.popDue(now(), 1);
      if (!next) break;
      // nothing is revoked on a state a rebuild has not confirmed: a refold may drop or move it
      fold.confirm(next.grantId);
      const g = fold.live.get(next.grantId);
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

  /** rebuildOnce, waiting out retriable bus errors (leaders moving, a fresh cluster). */
  function rebuild(partitions?: number[]): Promise<void> {
    return retryRetriable(() => rebuildOnce(partitions), {
      timeoutMs: options.startRetryMs ?? 60_000,
      cancelled: () => stopped,
      onRetry: (err, attempt) => logger.warn({ attempt, err: summary(err) }, 'could not rebuild the schedule yet; retrying'),
    });
  }

  async function rebuildOnce(partitions?: number[]): Promise<void> {
    const gen = ++generation;
    fold.reset(partitions);
    replayedTo.clear();
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
          if (parsed.ok) fold.apply(parsed.event, m.partition, m.event, 'replay');
        },
        partitions ? { partitions } : undefined,
      );
    } finally {
      rebuilding = false;
    }
    // Reconciliation: anything already past due is revoked at once (lateness recorded).
    const t = now();
    for (const g of fold.live.values()) if (g.dueAt < t && g.cause === 'ttl') g.cause = 'reconciliation';
    logger.info({ live: fold.live.size, partitions: partitions ?? 'all' }, 'schedule rebuilt from the log');
    arm();
    // the signatures the replay left unchecked, soon (a grant due first is confirmed when it fires)
    confirming = fold
      .confirmAll(() => !stopped && gen === generation)
      .catch((err: unknown) => logger.error({ err: summary(err) }, 'could not confirm the rebuilt schedule; grants are confirmed when due'));
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
    fold.apply(parsed.event, message.partition, message.event, 'received');
  }

  return {
    live: () => fold.live,
    sweep: sweeps.sweep,
    confirmed: () => confirming,
    async start() {
      stopped = false;
      let resolveReady!: () => void;
      ready = new Promise((r) => (resolveReady = r));
      let first = true;
      subscription = await retryRetriable(
        () =>
          bus.subscribe({
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
          }),
        { timeoutMs: options.startRetryMs ?? 60_000, cancelled: () => stopped },
      );
      // Implementations that do not report assignment (or reported it before we listened).
      if (first) {
        first = false;
        await rebuild();
        resolveReady();
      }
      // Overdue grants already fired when the schedule was rebuilt; the orphan sweep may list
      // remote credentials for a while, so start() does not wait for it.
      void sweeps.sweep().catch((err) => logger.error({ err: summary(err) }, 'initial sweep failed'));
      if (sweepIntervalMs > 0) {
        sweepTimer = setInterval(() => {
          sweeps.sweep().catch((err) => logger.error({ err: summary(err) }, 'sweep failed'));
        }, sweepIntervalMs);
        sweepTimer.unref?.();
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (sweepTimer) clearInterval(sweepTimer);
      await subscription?.stop();
      await Promise.allSettled([...inFlight, sweeps.idle(), confirming]);
    },
  };
}
