// The ledger rebuilt from a real log: Kafka (several partitions, keyed by elevation id) and the
// embedded on-disk bus. Retried publishes (same event id) and a late event must not skew the state.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, eventKey, type AnyElevationEvent } from '@jit/contracts';
import { sampleData, sampleEvent } from '@jit/contracts/testing';
import { createLogger } from '@jit/observability';
import { getKafka, uniqueName, waitFor } from '@jit/testing';
import { createLedger } from './ledger';

const T = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();

/** Elevation gl-<p>-<i>: granted then revoked when i is even, left granted when odd; plus one rejected. */
function lifecycle(p: number, i: number): AnyElevationEvent[] {
  const elevationId = `gl-${p}-${i}`;
  const grantId = `${elevationId}-abc${i}def`;
  const handle = { ...sampleData[EVENT_TYPES.granted]().handle, grantId, expiresAt: T(60 + i) };
  const base = { elevationId, projectId: p, mrIid: i };
  const at = (m: number) => ({ time: T(m), idKey: `${elevationId}/${m}` });
  const out: AnyElevationEvent[] = [
    sampleEvent(EVENT_TYPES.requested, base, at(1)),
    sampleEvent(EVENT_TYPES.approvalRecorded, base, at(2)),
    sampleEvent(EVENT_TYPES.approved, { ...base, grantId }, at(3)),
    sampleEvent(EVENT_TYPES.granted, { elevationId, grantId, handle, expiresAt: T(60 + i) }, at(4)),
  ];
  if (i % 2 === 0) out.push(sampleEvent(EVENT_TYPES.revoked, { elevationId, grantId, handle }, at(5)));
  return out;
}

async function publishAll(bus: EventBus, topic: string, events: AnyElevationEvent[]): Promise<void> {
  for (const e of events) await bus.publish(topic, eventKey(e), e);
}

function scenario(p: number) {
  const events = Array.from({ length: 6 }, (_, k) => lifecycle(p, k + 1)).flat();
  const rejected = sampleEvent(EVENT_TYPES.rejected, { elevationId: `gl-${p}-99`, projectId: p, mrIid: 99 }, { time: T(1) });
  // A retry republishes the granted of elevation 1 with the same id; a late `requested` follows its revoke.
  const retried = events.find((e) => e.type === EVENT_TYPES.granted) as AnyElevationEvent;
  const late = sampleEvent(EVENT_TYPES.requested, { elevationId: `gl-${p}-2`, projectId: p, mrIid: 2, target: 'late-db' }, { time: T(0) });
  return { all: [...events, rejected, retried, late], distinct: events.length + 2 };
}

function expectFolded(ledger: ReturnType<typeof createLedger>, p: number, distinct: number) {
  expect(ledger.stats().events).toBe(distinct);
  expect(ledger.get(`gl-${p}-99`)?.state).toBe('rejected');
  expect(ledger.get(`gl-${p}-2`)).toMatchObject({ state: 'revoked', target: 'orders-db' });
  expect(ledger.grantsLive().map((g) => g.elevationId)).toEqual([`gl-${p}-1`, `gl-${p}-3`, `gl-${p}-5`]);
}

describe('ledger on Kafka', () => {
  let bus: EventBus;
  beforeAll(async () => {
    const brokers = await getKafka();
    bus = await createKafkaBus({ brokers, clientId: uniqueName('ledger'), logger: createLogger({ name: 'ledger-int', level: 'silent' }) });
  });
  afterAll(async () => bus?.close());

  it('rebuilds the same state from a replay and from a live subscription', async () => {
    const topic = uniqueName('ledger-elevations');
    await bus.ensureTopics([{ topic, partitions: 3, retentionMs: -1 }]);
    const { all, distinct } = scenario(7);
    await publishAll(bus, topic, all);

    const replayed = createLedger();
    await bus.replay(topic, (m) => {
      expect(m.key).toBe(eventKey(m.event as AnyElevationEvent));
      const r = replayed.apply(m.event);
      expect(r.error).toBeUndefined();
    });
    expectFolded(replayed, 7, distinct);

    const live = createLedger();
    const sub = await bus.subscribe({ topic, groupId: uniqueName('ledger-group'), handler: async (m) => void live.apply(m.event) });
    try {
      await waitFor(() => live.stats().events === distinct, { timeoutMs: 60_000, what: 'the subscription to fold every event' });
      expect(live.list()).toEqual(replayed.list());
    } finally {
      await sub.stop();
    }
  });
});

describe('ledger on the embedded bus', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-int-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('rebuilds the state after the process restarts', async () => {
    const topic = uniqueName('ledger-elevations');
    const { all, distinct } = scenario(8);
    const first = await createEmbeddedBus({ dir });
    await first.ensureTopics([{ topic, partitions: 2, retentionMs: -1 }]);
    await publishAll(first, topic, all);
    await first.close();

    const reopened = await createEmbeddedBus({ dir });
    try {
      const ledger = createLedger();
      await reopened.replay(topic, (m) => void ledger.apply(m.event));
      expectFolded(ledger, 8, distinct);
    } finally {
      await reopened.close();
    }
  });
});
