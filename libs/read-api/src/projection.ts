// Keeps a ledger current from jit.elevations.v1: replay from the beginning, then follow live.
import { TOPIC_ELEVATIONS } from '@jit/contracts';
import type { CloudEventJson, EventBus, Subscription } from '@jit/bus';
import type { Ledger } from '@jit/ledger';
import type { Logger } from '@jit/observability';

export interface LedgerProjection {
  stop(): Promise<void>;
}

export async function startLedgerProjection(options: {
  bus: EventBus;
  ledger: Ledger;
  logger: Logger;
  /** Unique per process: every replica keeps a full read model. */
  groupId: string;
  /** Called once per newly applied event; `live` is false while replaying history at start. */
  onEvent?: (event: CloudEventJson, live: boolean) => void;
}): Promise<LedgerProjection> {
  const { bus, ledger, logger } = options;
  let invalid = 0;
  const apply = (event: CloudEventJson, live: boolean) => {
    const r = ledger.apply(event);
    if (r.error) {
      if (invalid++ < 10) logger.warn({ error: r.error.message }, 'read model skipped an invalid event');
      return;
    }
    if (!r.duplicate) options.onEvent?.(event, live);
  };
  await bus.replay(TOPIC_ELEVATIONS, (m) => apply(m.event, false));
  const sub: Subscription = await bus.subscribe({
    topic: TOPIC_ELEVATIONS,
    groupId: options.groupId,
    startFrom: 'latest',
    handler: async (m) => apply(m.event, true),
  });
  logger.info({ elevations: ledger.stats().elevations }, 'read model loaded');
  return { stop: () => sub.stop() };
}
