import { describe, expect, it } from 'vitest';
import type { CloudEventJson } from './event-bus';
import { createSigningBus } from './signing-bus';
import { createMemoryBus } from './testing/memory-bus';

describe('signing bus', () => {
  it('signs what is published to the named topics and nothing else', async () => {
    const inner = createMemoryBus();
    const bus = createSigningBus(inner, { sign: (e) => ({ ...e, jitsig: 'signed' }) }, ['signed.v1']);
    const event: CloudEventJson = { specversion: '1.0', id: '1', source: '/t', type: 't' };
    await bus.publish('signed.v1', 'k', event);
    await bus.publish('plain.v1', 'k', event);
    const seen: Record<string, unknown[]> = { 'signed.v1': [], 'plain.v1': [] };
    for (const topic of Object.keys(seen)) await inner.replay(topic, (m) => void seen[topic]!.push(m.event));
    expect(seen['signed.v1']).toEqual([{ ...event, jitsig: 'signed' }]);
    expect(seen['plain.v1']).toEqual([event]);
    expect(event).not.toHaveProperty('jitsig'); // the producer's object is left alone
    expect(bus.kind).toBe(inner.kind);
  });
});
