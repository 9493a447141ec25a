// Keeps a ledger current from jit.elevations.v1 (followLog: replay from the beginning, then follow live).
// With a registry it also keeps the elevation outcome counters (elevation-metrics.ts).
import { TOPIC_ELEVATIONS, checkProducer, describeRefusal, type ProducerTrust } from '@jit/contracts';
import { followLog, type CloudEventJson, type EventBus } from '@jit/bus';
import type { Ledger } from '@jit/ledger';
import { refusedEventsCounter, type Logger, type Registry } from '@jit/observability';
import { createElevationMetrics } from './elevation-metrics';

export interface LedgerProjection {
  stop(): Promise<void>;
}

export interface LedgerProjectionOptions {
  bus: EventBus;
  ledger: Ledger;
  logger: Logger;
  /**
   * Unique per process: every replica keeps a full read model. The subscription is ephemeral, so
   * the group is deleted when the projection stops (a process killed with -9 leaves it until Kafka
   * expires it after `offsets.retention.minutes`, default 7 days).
   */
  groupId: string;
  /** Registers and keeps the SLO counters (jit_bypasses_total, jit_rejections_total, …) on it. */
  registry?: Registry;
  /**
   * The producers whose events the read model takes (approvals from a gate, grants from an issuer,
   * revocations from a revoker); others are skipped, logged and counted, so the credential route
   * never serves a blob a forged `granted` brought. Without it every valid event is folded.
   */
  trust?: ProducerTrust;
  /** Called once per newly applied event; `live` is false for events read by the replay at start. */
  onEvent?: (event: CloudEventJson, live: boolean) => void;
}

export async function startLedgerProjection(options: LedgerProjectionOptions): Promise<LedgerProjection> {
  const { bus, ledger, logger } = options;
  const metrics = options.registry ? createElevationMetrics(options.registry, ledger) : undefined;
  let invalid = 0;
  // The ledger may be shared (the issuer applies what it consumes and publishes to the same one),
  // so "not a duplicate for the ledger" does not mean "not seen here": the projection keeps its own
  // record of the events it has counted, or whatever the issuer applied first would never count.
  const seen = new Set<string>();
  const refused = refusedEventsCounter(options.registry);
  let refusals = 0;
  const apply = (event: CloudEventJson, live: boolean) => {
    if (options.trust) {
      const check = checkProducer(options.trust, event);
      if (!check.ok) {
        const refusal = describeRefusal(check, event);
        if (!seen.has(`refused:${event.id}`)) {
          seen.add(`refused:${event.id}`);
          refused.inc({ consumer: 'read-model', ...refusal.labels });
          if (refusals++ < 100) logger.warn(refusal.fields, refusal.message);
        }
        return;
      }
    }
    const r = ledger.apply(event);
    if (r.error) {
      if (invalid++ < 10) logger.warn({ error: r.error.message }, 'read model skipped an invalid event');
      return;
    }
    if (seen.has(event.id)) return;
    seen.add(event.id);
    metrics?.count(event);
    options.onEvent?.(event, live);
  };
  // followLog: pinned at the end before the replay reads up to its own (later) end, so an event
  // published in between arrives twice (the ledger drops the copy) rather than never.
  const follower = await followLog(bus, { topic: TOPIC_ELEVATIONS, groupId: options.groupId, onEvent: (m, live) => apply(m.event, live) });
  logger.info({ elevations: ledger.stats().elevations }, 'read model loaded');
  return { stop: () => follower.stop() };
}
