// The orphan sweep: reconciliation (overdue grants fire now), substrate housekeeping, and
// credentials a substrate lists that no live grant explains, revoked and announced as
// `orphan.revoked`. Judged on the revoker's own fold first; the whole log is read only for a
// credential that fold cannot explain (another replica's partition, or a fold lagging behind).
import { EVENT_TYPES, TOPIC_ELEVATIONS, createElevationEvent, parseElevationEvent, type RevocationHandleData } from '@jit/contracts';
import type { EventBus } from '@jit/bus';
import type { Logger } from '@jit/observability';
import type { RevocationHandle, Substrate } from '@jit/substrates';
import { leftoversOf } from './leftovers';
import { summary, type Publish } from './outputs';
import type { RevokerMetrics } from './revoker-metrics';
import type { SubstrateLookup } from './revoker-types';
import type { LogView, ScheduleFold } from './schedule-fold';

/** What a sweep's whole-log view reads. */
const VIEWED: ReadonlySet<string> = new Set([EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.grantFailed, EVENT_TYPES.revoked, EVENT_TYPES.expired]);

export interface OrphanSweepOptions {
  bus: EventBus;
  substrates: SubstrateLookup;
  logger: Logger;
  source: string;
  now: () => number;
  orphanGraceMs: number;
  /** Signature check of an event read back from the log (refusals not counted again). */
  trusted(raw: unknown, received: boolean): boolean;
  fold: Pick<ScheduleFold, 'live' | 'confirm' | 'foldedView'>;
  /** Fires what is overdue now. */
  reconcile(): void;
  publish: Publish;
  metrics: Pick<RevokerMetrics, 'revocations' | 'lastSweep'>;
}

export interface OrphanSweep {
  /** One reconciliation + orphan sweep, after any sweep still running. */
  sweep(): Promise<{ orphans: number }>;
  /** Settles when the sweeps asked for so far are done. */
  idle(): Promise<unknown>;
}

export function createOrphanSweep(options: OrphanSweepOptions): OrphanSweep {
  const { bus, substrates, logger, source, now, orphanGraceMs, trusted, fold, reconcile, publish, metrics } = options;

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

  /** Live (the owner revokes it on time) or being issued: not an orphan. */
  function spared(known: LogView | undefined): boolean {
    if (known?.granted && !known.done) return true;
    return !!known?.approvedAt && !known.granted && !known.failed && now() - known.approvedAt < orphanGraceMs;
  }

  async function sweepOnce(): Promise<{ orphans: number }> {
    // Reconciliation: overdue grants fire now.
    reconcile();
    // Orphans. The credentials are listed BEFORE the log is read: a credential that exists at
    // listing time was issued after its `approved` event was published, so the read that follows
    // sees that event, and a credential being issued right now is never mistaken for an orphan.
    const listed: Array<{ substrate: Substrate; handles: RevocationHandle[] }> = [];
    for (const substrate of substrates.list()) {
      if (substrate.maintain) {
        await substrate.maintain(new Date(now())).catch((err: unknown) => logger.warn({ substrate: substrate.name, err: summary(err) }, 'substrate housekeeping failed; next sweep retries'));
      }
      if (!substrate.listIssued || !substrate.canRevokeEarly) continue;
      try {
        listed.push({ substrate, handles: await substrate.listIssued() });
      } catch (err) {
        logger.warn({ substrate: substrate.name, err: summary(err) }, 'orphan sweep could not list issued credentials');
      }
    }
    // Grants this replica schedules are live by definition; the log is read only for the others.
    for (const { handles } of listed) for (const h of handles) fold.confirm(h.grantId);
    // The schedule's own fold spares what it can (granted and not ended, or being issued); only a
    // credential it cannot explain is judged on the whole log, read now (the fold may lag behind it).
    const suspects = listed.some(({ handles }) => handles.some((h) => !fold.live.has(h.grantId) && !spared(fold.foldedView(h.grantId))));
    if (!suspects) return { orphans: 0 };
    const all = await grantsInLog();
    let orphans = 0;
    for (const { substrate, handles } of listed) {
      for (const handle of handles) {
        if (fold.live.has(handle.grantId)) continue;
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
          metrics.revocations.inc({ outcome: 'orphan', substrate: substrate.name });
          orphans++;
          logger.warn({ grantId: handle.grantId, substrate: substrate.name }, 'orphan credential revoked');
        } catch (err) {
          logger.error({ grantId: handle.grantId, substrate: substrate.name, err: summary(err) }, 'orphan revoke failed; next sweep retries');
        }
      }
    }
    return { orphans };
  }

  /** Sweeps never overlap: a sweep asked for while one runs starts after it. */
  let sweepChain: Promise<unknown> = Promise.resolve();
  function sweep(): Promise<{ orphans: number }> {
    const run = sweepChain.then(sweepOnce).then((result) => {
      metrics.lastSweep.set(now() / 1000);
      return result;
    });
    sweepChain = run.catch(() => undefined);
    return run;
  }
  return { sweep, idle: () => sweepChain };
}
