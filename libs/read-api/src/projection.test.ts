import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS } from '@jit/contracts';
import { FIXTURE_ELEVATION, FIXTURE_SEALED, sampleEvent } from '@jit/contracts/testing';
import { createMemoryBus } from '@jit/bus/testing';
import { createLedger } from '@jit/ledger';
import { createLogger, createRegistry, type Registry } from '@jit/observability';
import { waitFor } from '@jit/testing';
import { createElevationMetrics, eventTypeLabel } from './elevation-metrics';
import { startLedgerProjection } from './projection';

const logger = createLogger({ name: 'read-api-test', level: 'silent' });

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  const entry = (metric.values as Array<{ value: number; labels: Record<string, unknown> }>).find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  if (!entry) throw new Error(`${name}${JSON.stringify(labels)} has no value`);
  return entry.value;
}

async function setup() {
  const bus = createMemoryBus({ logger });
  // one partition: a marker event applied means every event published before it was seen
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 1, retentionMs: -1 }]);
  return bus;
}

const publish = (bus: Awaited<ReturnType<typeof setup>>, event: ReturnType<typeof sampleEvent>) => bus.publish(TOPIC_ELEVATIONS, (event.data as { elevationId: string }).elevationId, event);

describe('ledger projection with SLO counters', () => {
  it('counts history replayed at start and live events once each, by type; duplicates and invalid events are not counted', async () => {
    const bus = await setup();
    const bypass = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-9' });
    // history: one rejected request, one bypass, one granted lifecycle
    for (const e of [
      sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-8' }),
      sampleEvent(EVENT_TYPES.rejected, { elevationId: 'gl-42-8' }),
      sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-9' }),
      bypass,
      sampleEvent(EVENT_TYPES.requested),
      sampleEvent(EVENT_TYPES.approved),
      sampleEvent(EVENT_TYPES.granted),
    ])
      await publish(bus, e);
    const registry = createRegistry();
    const ledger = createLedger();
    const projection = await startLedgerProjection({ bus, ledger, logger, groupId: 'read-test', registry });
    try {
      expect(await value(registry, 'jit_bypasses_total')).toBe(1);
      expect(await value(registry, 'jit_rejections_total')).toBe(1);
      expect(await value(registry, 'jit_elevation_events_total', { type: 'elevation.requested' })).toBe(3);
      expect(await value(registry, 'jit_elevation_events_total', { type: 'elevation.revoked' })).toBe(0);
      expect(await value(registry, 'jit_elevations', { state: 'granted' })).toBe(1);
      expect(await value(registry, 'jit_elevations', { state: 'bypassed' })).toBe(1);

      // live: a second bypass on another MR counts; the same bypass event delivered again does not
      await publish(bus, bypass);
      await publish(bus, sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-10' }));
      await publish(bus, sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-10' }));
      await waitFor(async () => (await value(registry, 'jit_bypasses_total')) === 2, { timeoutMs: 10_000, what: 'the live bypass to be counted' });
      await publish(bus, sampleEvent(EVENT_TYPES.revoked));
      await waitFor(() => ledger.get(FIXTURE_ELEVATION)?.state === 'revoked', { timeoutMs: 10_000, what: 'the live revoke to be applied' });
      expect(await value(registry, 'jit_bypasses_total')).toBe(2);
      expect(await value(registry, 'jit_elevation_events_total', { type: 'elevation.bypass.detected' })).toBe(2);
      expect(await value(registry, 'jit_elevation_events_total', { type: 'elevation.revoked' })).toBe(1);
      expect(await value(registry, 'jit_elevations', { state: 'granted' })).toBe(0);

      // hostile/malformed events on the topic: skipped by the ledger, never counted, never a label
      const hostile = { specversion: '1.0', id: 'x-1', source: '/evil', type: 'dev.jit.elevation.bypass.detected.v1', data: { elevationId: '../../etc' } } as const;
      await bus.publish(TOPIC_ELEVATIONS, 'evil', hostile);
      await bus.publish(TOPIC_ELEVATIONS, 'evil', { specversion: '1.0', id: 'x-2', source: '/evil', type: 'evil{type="x"}', data: {} });
      // a valid marker published after them: once it is applied, the two before it were seen
      await publish(bus, sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-11' }));
      await waitFor(() => ledger.get('gl-42-11') !== undefined, { timeoutMs: 10_000, what: 'the marker event' });
      expect(await value(registry, 'jit_bypasses_total')).toBe(2);
      const text = await registry.metrics();
      expect(text).not.toContain('evil');
      // what the events carry (sealed credential, ids, requesters) never reaches a metric
      expect(text).not.toContain(FIXTURE_SEALED.slice(40, 80));
      expect(text).not.toContain('gl-42');
    } finally {
      await projection.stop();
      await bus.close();
    }
  });

  it('counts an event another component already applied to a shared ledger (the issuer applies what it consumes)', async () => {
    const bus = await setup();
    const ledger = createLedger();
    const registry = createRegistry();
    const early = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-20' });
    ledger.apply(early); // e.g. the issuer's own consumer got it first
    await publish(bus, early);
    const projection = await startLedgerProjection({ bus, ledger, logger, registry, groupId: 'shared-ledger' });
    const live = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-21' });
    ledger.apply(live);
    await publish(bus, live);
    await waitFor(async () => (await value(registry, 'jit_bypasses_total')) === 2, { what: 'both bypasses counted' });
    await publish(bus, live); // a redelivery is still counted once
    const marker = sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-22' });
    await publish(bus, marker);
    await waitFor(() => ledger.get('gl-42-22') !== undefined, { what: 'marker applied' });
    expect(await value(registry, 'jit_bypasses_total')).toBe(2);
    await projection.stop();
  });

  it('exports the counters at zero before any event, and a second registration on one registry reuses them', async () => {
    const bus = await setup();
    const registry = createRegistry();
    const projection = await startLedgerProjection({ bus, ledger: createLedger(), logger, groupId: 'read-empty', registry });
    try {
      const text = await registry.metrics();
      expect(text).toMatch(/^jit_bypasses_total 0$/m);
      expect(text).toMatch(/^jit_rejections_total 0$/m);
      expect(text).toMatch(/^jit_elevation_events_total\{type="elevation.bypass.detected"\} 0$/m);
      const again = createElevationMetrics(registry);
      again.count(sampleEvent(EVENT_TYPES.bypassDetected));
      expect(await value(registry, 'jit_bypasses_total')).toBe(1);
    } finally {
      await projection.stop();
      await bus.close();
    }
  });

  it('labels only known event types', () => {
    expect(eventTypeLabel(EVENT_TYPES.bypassDetected)).toBe('elevation.bypass.detected');
    expect(eventTypeLabel('dev.jit.elevation.bypass.detected.v2')).toBe('other');
    expect(eventTypeLabel('x"} 1\njit_bypasses_total 99')).toBe('other');
  });

  it('stops following when the replay fails, and says so', async () => {
    const bus = await setup();
    const stopped: string[] = [];
    const failing = {
      ...bus,
      kind: bus.kind,
      ensureTopics: bus.ensureTopics.bind(bus),
      publish: bus.publish.bind(bus),
      isReady: bus.isReady.bind(bus),
      close: bus.close.bind(bus),
      subscribe: async (o: Parameters<typeof bus.subscribe>[0]) => {
        const sub = await bus.subscribe(o);
        return { ...sub, groupId: sub.groupId, topic: sub.topic, stop: async () => void stopped.push(o.groupId) };
      },
      replay: async () => {
        throw new Error('broker gone');
      },
    };
    await expect(startLedgerProjection({ bus: failing, ledger: createLedger(), logger, groupId: 'read-fail' })).rejects.toThrow(/broker gone/);
    expect(stopped).toEqual(['read-fail']);
    await bus.close();
  });
});
