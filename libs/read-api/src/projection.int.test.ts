// The read model on a real Kafka broker: events published while the projection starts (between
// its replay and its live subscription) are all applied, redeliveries are not counted twice, and
// the SLO counters cover the history. The topic is the contract's (shared with other suites): this
// suite asserts only on its own elevations (a random project id).
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, eventKey } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createLedger } from '@jit/ledger';
import { createLogger, createRegistry } from '@jit/observability';
import { getKafka, uniqueName, waitFor } from '@jit/testing';
import { startLedgerProjection, type LedgerProjection } from './projection';

const logger = createLogger({ name: 'read-api-int', level: 'silent' });
const project = 100_000 + randomInt(1_000_000_000);
const requested = (i: number) => sampleEvent(EVENT_TYPES.requested, { elevationId: `gl-${project}-${i}`, projectId: project, mrIid: i });

let bus: EventBus;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  bus = await createKafkaBus({ brokers: await getKafka(), clientId: uniqueName('read-api'), logger });
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
});
afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await bus?.close();
});

describe('ledger projection on Kafka', () => {
  it('misses nothing published while it starts, counts each event once, and follows live', async () => {
    const history = Array.from({ length: 20 }, (_, k) => requested(k + 1));
    for (const e of history) await bus.publish(TOPIC_ELEVATIONS, eventKey(e), e);

    // keep publishing while the projection replays and subscribes
    const during = Array.from({ length: 60 }, (_, k) => requested(k + 21));
    let published = 0;
    const publishing = (async () => {
      for (const e of during) {
        await bus.publish(TOPIC_ELEVATIONS, eventKey(e), e);
        published++;
      }
    })();
    const ledger = createLedger();
    const registry = createRegistry();
    let projection: LedgerProjection | undefined;
    // a fresh group can meet a loading coordinator on a busy broker: retry the start
    await waitFor(
      async () => {
        projection = await startLedgerProjection({ bus, ledger, logger, registry, groupId: uniqueName('read-api-int') });
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the projection to start' },
    );
    stops.push(() => projection!.stop());
    await publishing;
    expect(published).toBe(60);
    const mine = () => ledger.list().filter((e) => e.projectId === project).length;
    await waitFor(() => mine() === 80, { timeoutMs: 60_000, what: `all 80 elevations of project ${project} in the read model (have ${mine()})` });

    // a redelivered event (same id) changes nothing; a new one arrives live
    await bus.publish(TOPIC_ELEVATIONS, eventKey(history[0]!), history[0]!);
    const bypass = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: `gl-${project}-1` });
    await bus.publish(TOPIC_ELEVATIONS, eventKey(bypass), bypass);
    await waitFor(() => ledger.get(`gl-${project}-1`)?.state === 'bypassed', { timeoutMs: 60_000, what: 'the live bypass' });
    expect(mine()).toBe(80);
    const text = await registry.metrics();
    const requestedCount = Number(/^jit_elevation_events_total\{type="elevation.requested"\} (\d+)$/m.exec(text)?.[1]);
    // other suites share the topic: at least ours, and exactly what the ledger holds as requested events
    expect(requestedCount).toBeGreaterThanOrEqual(80);
    expect(Number(/^jit_bypasses_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(ledger.get(`gl-${project}-1`)!.timeline.filter((t) => t.type === EVENT_TYPES.requested)).toHaveLength(1);
  });
});
