import { describe, expect, it } from 'vitest';
import { createSigningBus, type CloudEventJson } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { CHAIN_ATTRIBUTE, EVENT_TYPES, TOPIC_ELEVATIONS, eventDigest, producerTrust, verifyEventLog } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createChainHeads } from './chain-heads';

const key = createTestSigningKey().signer;
const trust = producerTrust({}, { key: key.publicKey, roles: ['gate', 'issuer', 'revoker'] });
const ev = (id: string, type: typeof EVENT_TYPES.requested | typeof EVENT_TYPES.credentialFetched = EVENT_TYPES.requested) => ({ ...sampleEvent(type), id }) as unknown as CloudEventJson;
const readAll = async (bus: ReturnType<typeof createMemoryBus>) => {
  const out: CloudEventJson[] = [];
  await bus.replay(TOPIC_ELEVATIONS, (m) => void out.push(m.event));
  return out;
};

describe('chain heads: how a producer learns jitprev', () => {
  it('links each publish to the one before, even when one process publishes for a key concurrently', async () => {
    const inner = createMemoryBus();
    const bus = createSigningBus(inner, key, [TOPIC_ELEVATIONS], createChainHeads());
    await Promise.all(['1', '2', '3', '4', '5'].map((id) => bus.publish(TOPIC_ELEVATIONS, 'gl-42-7', ev(id))));
    const log = await readAll(inner);
    expect(log).toHaveLength(5);
    expect(log[0]).not.toHaveProperty(CHAIN_ATTRIBUTE);
    for (let i = 1; i < 5; i++) expect(log[i]![CHAIN_ATTRIBUTE]).toBe(eventDigest(log[i - 1]!));
    expect(verifyEventLog(log, { trust })).toMatchObject({ ok: true, forks: 0 });
  });

  it("learns other producers' events from what the process reads, and never moves back on a slower reader", async () => {
    const inner = createMemoryBus();
    const heads = createChainHeads();
    const other = createSigningBus(inner, key, [TOPIC_ELEVATIONS], createChainHeads());
    const mine = createSigningBus(inner, key, [TOPIC_ELEVATIONS], heads);
    await other.publish(TOPIC_ELEVATIONS, 'gl-42-7', ev('a'));
    await other.publish(TOPIC_ELEVATIONS, 'gl-42-7', ev('b'));
    // a replay through this process's bus folds them
    await mine.replay(TOPIC_ELEVATIONS, () => undefined);
    const log = await readAll(inner);
    expect(heads.head('gl-42-7')).toBe(eventDigest(log[1]!));
    // a slower subscription of the same process delivering `a` again does not move the head back
    heads.observed({ topic: TOPIC_ELEVATIONS, partition: 0, offset: '0', event: log[0]! });
    expect(heads.head('gl-42-7')).toBe(eventDigest(log[1]!));
    await mine.publish(TOPIC_ELEVATIONS, 'gl-42-7', ev('c', EVENT_TYPES.credentialFetched));
    const after = await readAll(inner);
    expect(after[2]![CHAIN_ATTRIBUTE]).toBe(eventDigest(after[1]!));
    // own event not read back yet: an older event read now does not replace it, one linking to it does
    heads.observed({ topic: TOPIC_ELEVATIONS, partition: 0, offset: '1', event: after[1]! });
    expect(heads.head('gl-42-7')).toBe(eventDigest(after[2]!));
    const next = { ...key.sign({ ...ev('d'), [CHAIN_ATTRIBUTE]: eventDigest(after[2]!) }) };
    heads.observed({ topic: TOPIC_ELEVATIONS, partition: 0, offset: '3', event: next });
    expect(heads.head('gl-42-7')).toBe(eventDigest(next));
    expect(verifyEventLog(after, { trust }).ok).toBe(true);
  });

  it('other topics pass unchained', async () => {
    const inner = createMemoryBus();
    const bus = createSigningBus(inner, key, [TOPIC_ELEVATIONS, 'other.v1'], createChainHeads());
    await bus.publish('other.v1', 'k', ev('x'));
    await bus.publish('other.v1', 'k', ev('y'));
    const out: CloudEventJson[] = [];
    await inner.replay('other.v1', (m) => void out.push(m.event));
    expect(out.map((e) => e[CHAIN_ATTRIBUTE])).toEqual([undefined, undefined]);
  });
});
