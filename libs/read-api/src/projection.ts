// Keeps a ledger current from jit.elevations.v1: replay from the beginning, then follow live.
import { TOPIC_ELEVATIONS } from '@jit/contracts';
import type { EventBus, Subscription } from '@jit/bus';
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
}): Promise<LedgerProjection> {
  const { bus, ledger, logger } = options;
  let invalid = 0;
  const apply = (event: Parameters<Ledger['apply']>[0]) => {
    const r = ledger.apply(event);
    if (r.error && invalid++ < 10) logger.warn({ error: r.error.message }, 'read model skipped an invalid event');
  };
  await bus.replay(TOPIC_ELEVATIONS, (m) => apply(m.event));
  const sub: Subscription = await bus.subscribe({
    topic: TOPIC_ELEVATIONS,
    groupId: options.groupId,
    startFrom: 'latest',
    handler: async (m) => apply(m.event),
  });
  logger.info({ elevations: ledger.stats().elevations }, 'read model loaded');
  return { stop: () => sub.stop() };
}
