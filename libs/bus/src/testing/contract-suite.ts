// The EventBus contract as one vitest suite, run against every implementation (Kafka on a
// real broker, the embedded file log, the memory double) so they cannot drift apart.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BusMessage, CloudEventJson, EventBus, SubscribeOptions, Subscription } from '../event-bus';
import { InvalidEvent } from '../errors';

export interface BusContractHarness {
  /** Opens a bus over the harness's storage: every call sees the same topics, offsets and events. */
  open(): Promise<EventBus>;
  /**
   * Takes the broker away and brings it back with its data (Kafka). Without it the suite
   * checks durability by closing the bus and opening a new one on the same storage.
   */
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  /** How long to wait for a condition (group joins on a real broker take seconds). Default 30s. */
  waitMs?: number;
  dispose?(): Promise<void>;
}

export function testEvent(id: string, data: unknown = { n: id }): CloudEventJson {
  return {
    specversion: '1.0',
    id,
    source: 'urn:jit:bus-contract',
    type: 'dev.jit.test.v1',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

export function runBusContractSuite(name: string, factory: () => Promise<BusContractHarness>): void {
  describe(`EventBus contract: ${name}`, () => {
    let harness: BusContractHarness;
    let bus: EventBus;
    const subs: Subscription[] = [];
    const run = randomUUID().slice(0, 8);
    let seq = 0;
    const unique = (prefix: string): string => `${prefix}-${run}-${++seq}`;
    const waitMs = (): number => harness.waitMs ?? 30_000;
    const waitFor = (cond: () => boolean, what: string): Promise<void> =>
      vi.waitFor(
        () => {
          if (!cond()) throw new Error(`timed out waiting for ${what}`);
        },
        { timeout: waitMs(), interval: 20 },
      );

    /** Subscribes and resolves once the member has received its first assignment. */
    async function join(options: SubscribeOptions): Promise<{ sub: Subscription; assigned: () => number[] | undefined }> {
      let assigned: number[] | undefined;
      const sub = await bus.subscribe({
        ...options,
        onAssignment: async (partitions) => {
          assigned = [...partitions].sort((a, b) => a - b);
          await options.onAssignment?.(partitions);
        },
      });
      subs.push(sub);
      await waitFor(() => assigned !== undefined, `${options.groupId} to be assigned partitions`);
      return { sub, assigned: () => assigned };
    }

    beforeAll(async () => {
      harness = await factory();
      bus = await harness.open();
    });

    afterAll(async () => {
      await Promise.allSettled(subs.map((s) => s.stop()));
      await bus?.close();
      await harness?.dispose?.();
    });

    it('delivers a published event unchanged, with its key, partition and offset', async () => {
      const topic = unique('roundtrip');
      await bus.ensureTopics([{ topic, partitions: 3, retentionMs: -1 }]);
      const sent = [testEvent(unique('e'), { text: 'zażółć 🚀', nested: { list: [1, 2, 3] } }), testEvent(unique('e')), testEvent(unique('e'))];
      for (const [i, e] of sent.entries()) await bus.publish(topic, `key-${i}`, e);
      const got: BusMessage[] = [];
      await join({ topic, groupId: unique('g'), handler: async (m) => void got.push(m) });
      await waitFor(() => got.length >= 3, '3 deliveries');
      for (const [i, e] of sent.entries()) {
        const m = got.find((g) => g.event.id === e.id);
        expect(m?.event).toEqual(JSON.parse(JSON.stringify(e)));
        expect(m?.key).toBe(`key-${i}`);
        expect(m?.topic).toBe(topic);
        expect(m?.attempt).toBe(1);
        expect(m?.offset).toMatch(/^\d+$/);
        expect(m?.partition).toBeGreaterThanOrEqual(0);
        expect(m?.partition).toBeLessThan(3);
      }
    });

    it('keeps the order of each key under concurrent publishing and consuming', async () => {
      const topic = unique('order');
      await bus.ensureTopics([{ topic, partitions: 4 }]);
      const keys = Array.from({ length: 8 }, (_, i) => `elev-${i}`);
      const perKey = 25;
      const publishes: Promise<void>[] = [];
      for (let n = 0; n < perKey; n++) {
        for (const key of keys) publishes.push(bus.publish(topic, key, testEvent(unique('o'), { key, n })));
      }
      await Promise.all(publishes);
      const seen = new Map<string, number[]>();
      await join({
        topic,
        groupId: unique('g'),
        handler: async (m) => {
          // yield a random number of turns so partitions interleave
          for (let i = Math.floor(Math.random() * 3); i > 0; i--) await new Promise((r) => setImmediate(r));
          const d = m.event.data as { key: string; n: number };
          expect(m.key).toBe(d.key);
          seen.set(d.key, [...(seen.get(d.key) ?? []), d.n]);
        },
      });
      await waitFor(() => [...seen.values()].reduce((a, l) => a + l.length, 0) >= keys.length * perKey, 'all events');
      for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: perKey }, (_, n) => n));
    });

    it('redelivers an event whose handler had not succeeded when its consumer stopped', async () => {
      const topic = unique('redeliver');
      const groupId = unique('g');
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      const first = testEvent(unique('r'));
      const second = testEvent(unique('r'));
      await bus.publish(topic, 'k', first);
      await bus.publish(topic, 'k', second);

      let entered = false;
      let fail!: (err: Error) => void;
      const gate = new Promise<void>((_, reject) => (fail = reject));
      const handledByFirst: string[] = [];
      const { sub } = await join({
        topic,
        groupId,
        maxAttempts: 5,
        retryBackoffMs: 10,
        handler: async (m) => {
          entered = true;
          await gate; // the "process" dies mid-handler: it never succeeds
          handledByFirst.push(m.event.id);
        },
      });
      await waitFor(() => entered, 'the first delivery');
      const stopping = sub.stop();
      fail(new Error('consumer going away'));
      await stopping;
      expect(handledByFirst).toEqual([]);

      const handled: string[] = [];
      await join({ topic, groupId, handler: async (m) => void handled.push(m.event.id) });
      await waitFor(() => handled.includes(second.id), 'redelivery');
      expect(handled.slice(0, 2)).toEqual([first.id, second.id]);
    });

    it('commits what succeeded: a restarted member of the group resumes after it', async () => {
      const topic = unique('commit');
      const groupId = unique('g');
      await bus.ensureTopics([{ topic, partitions: 2 }]);
      const before = Array.from({ length: 6 }, () => testEvent(unique('c')));
      for (const [i, e] of before.entries()) await bus.publish(topic, `k${i}`, e);
      const seen1: string[] = [];
      const { sub } = await join({ topic, groupId, handler: async (m) => void seen1.push(m.event.id) });
      await waitFor(() => seen1.length >= before.length, 'the first batch');
      await sub.stop();
      const after = Array.from({ length: 6 }, () => testEvent(unique('c')));
      for (const [i, e] of after.entries()) await bus.publish(topic, `k${i}`, e);
      const seen2: string[] = [];
      await join({ topic, groupId, handler: async (m) => void seen2.push(m.event.id) });
      await waitFor(() => after.every((e) => seen2.includes(e.id)), 'the second batch');
      expect(seen2.filter((id) => before.some((e) => e.id === id))).toEqual([]);
    });

    it('loses no acknowledged event across a restart', async () => {
      const topic = unique('restart');
      const groupId = unique('g');
      await bus.ensureTopics([{ topic, partitions: 2, retentionMs: -1 }]);
      const acked: string[] = [];
      const publishMany = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const e = testEvent(unique('p'));
          await bus.publish(topic, `k${i % 5}`, e);
          acked.push(e.id);
        }
      };
      await publishMany(10);
      const seen = new Set<string>();
      if (harness.outage) {
        await join({ topic, groupId, handler: async (m) => void seen.add(m.event.id) });
        await harness.outage.stop();
        try {
          const t0 = Date.now();
          const err = await bus.publish(topic, 'k0', testEvent(unique('down'))).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toMatchObject({ code: 'JIT_ERR_BUS_UNAVAILABLE', retriable: true });
          expect(Date.now() - t0).toBeLessThan(5_000);
          expect(bus.isReady()).toBe(false);
        } finally {
          await harness.outage.start();
        }
        const back = testEvent(unique('back'));
        await vi.waitFor(() => bus.publish(topic, 'k0', back), { timeout: 60_000, interval: 500 });
        acked.push(back.id);
        expect(bus.isReady()).toBe(true);
        await publishMany(10);
      } else {
        await bus.close();
        expect(bus.isReady()).toBe(false);
        bus = await harness.open();
        expect(bus.isReady()).toBe(true);
        await publishMany(10);
        await join({ topic, groupId, handler: async (m) => void seen.add(m.event.id) });
      }
      await waitFor(() => acked.every((id) => seen.has(id)), 'every acknowledged event');
      const replayed: string[] = [];
      await bus.replay(topic, (m) => void replayed.push(m.event.id));
      for (const id of acked) expect(replayed).toContain(id);
    });

    it('a two-member group splits the partitions, rebalances when one leaves and handles every event', async () => {
      const topic = unique('rebalance');
      const groupId = unique('g');
      await bus.ensureTopics([{ topic, partitions: 4 }]);
      const handled = new Set<string>();
      const wrongOwner: string[] = [];
      const member = async (): Promise<{ sub: Subscription; assigned: () => number[] | undefined }> => {
        const ref: { assigned?: () => number[] | undefined } = {};
        const joined = await join({
          topic,
          groupId,
          handler: async (m) => {
            if (!ref.assigned?.()?.includes(m.partition)) wrongOwner.push(`${m.partition}`);
            handled.add(m.event.id);
          },
        });
        ref.assigned = joined.assigned;
        return joined;
      };
      const a = await member();
      const b = await member();
      await waitFor(() => {
        const pa = a.assigned() ?? [];
        const pb = b.assigned() ?? [];
        return pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === '0,1,2,3';
      }, 'both members to share the 4 partitions');
      const ids: string[] = [];
      const publishBatch = async (): Promise<void> => {
        for (let i = 0; i < 40; i++) {
          const e = testEvent(unique('rb'));
          ids.push(e.id);
          await bus.publish(topic, `key-${i % 20}`, e);
        }
      };
      await publishBatch();
      await waitFor(() => ids.every((id) => handled.has(id)), 'the first 40 events');
      await a.sub.stop();
      await waitFor(() => b.assigned()?.join() === '0,1,2,3', 'the survivor to own every partition');
      await publishBatch();
      await waitFor(() => ids.every((id) => handled.has(id)), 'all 80 events');
      expect(wrongOwner).toEqual([]);
    });

    it('dead-letters a message after maxAttempts (or at once for a non-retriable error) and moves on', async () => {
      const topic = unique('dlq');
      const groupId = unique('g');
      await bus.ensureTopics([
        { topic, partitions: 1 },
        { topic: `${topic}.dlq`, partitions: 1 },
      ]);
      const attempts: number[] = [];
      const good: string[] = [];
      const handler = async (m: BusMessage): Promise<void> => {
        if (m.key === 'poison') {
          attempts.push(m.attempt);
          throw new Error('always fails');
        }
        if (m.key === 'fatal') throw InvalidEvent('a handler finds the event unusable: retrying cannot help');
        good.push(m.event.id);
      };
      const dead: BusMessage[] = [];
      await join({ topic: `${topic}.dlq`, groupId: unique('dlqwatch'), handler: async (m) => void dead.push(m) });
      const { sub } = await join({ topic, groupId, maxAttempts: 3, retryBackoffMs: 10, handler });
      const poison = testEvent(unique('poison'));
      const fatal = testEvent(unique('fatal'));
      const fine = testEvent(unique('fine'));
      await bus.publish(topic, 'poison', poison);
      await bus.publish(topic, 'fatal', fatal);
      await bus.publish(topic, 'fine', fine);
      await waitFor(() => good.includes(fine.id) && dead.length >= 2, 'the good event and two dead letters');
      expect(attempts).toEqual([1, 2, 3]);
      const dp = dead.find((m) => m.event.id === poison.id);
      expect(dp?.key).toBe('poison');
      expect(dp?.event).toMatchObject({
        data: poison.data,
        jitdlqtopic: topic,
        jitdlqcode: 'JIT_ERR_BUS_HANDLER_FAILED',
        jitdlqattempts: 3,
        jitdlqoffset: expect.stringMatching(/^\d+$/),
      });
      const df = dead.find((m) => m.event.id === fatal.id);
      expect(df?.event).toMatchObject({ jitdlqcode: 'JIT_ERR_BUS_INVALID_EVENT', jitdlqattempts: 1 });

      // The dead-lettered offsets were committed: the group does not see them again.
      await sub.stop();
      const marker = testEvent(unique('marker'));
      await bus.publish(topic, 'fine', marker);
      const later: string[] = [];
      await join({ topic, groupId, handler: async (m) => void later.push(m.event.id) });
      await waitFor(() => later.includes(marker.id), 'the marker');
      expect(later).toEqual([marker.id]);
    });

    it('replays a topic from its beginning to its end as of the call, in order per partition', async () => {
      const topic = unique('replay');
      await bus.ensureTopics([{ topic, partitions: 3, retentionMs: -1 }]);
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) {
        const e = testEvent(unique('rp'), { i });
        sent.push(e.id);
        await bus.publish(topic, `k${i % 7}`, e);
      }
      const got: BusMessage[] = [];
      const during: Promise<void>[] = [];
      await bus.replay(topic, async (m) => {
        if (got.length === 0) {
          for (let i = 0; i < 5; i++) during.push(bus.publish(topic, `k${i}`, testEvent(unique('late'))));
        }
        got.push(m);
      });
      await Promise.all(during);
      expect(got.map((m) => m.event.id).sort()).toEqual([...sent].sort());
      for (let p = 0; p < 3; p++) {
        const offsets = got.filter((m) => m.partition === p).map((m) => Number(m.offset));
        expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      }
      const onlyOne: BusMessage[] = [];
      await bus.replay(topic, (m) => void onlyOne.push(m), { partitions: [1] });
      expect(onlyOne.every((m) => m.partition === 1)).toBe(true);
      expect(onlyOne.length).toBe(got.filter((m) => m.partition === 1).length + onlyOne.filter((m) => m.event.id.startsWith('late')).length);

      await expect(bus.replay(topic, () => Promise.reject(new Error('handler broke')))).rejects.toThrow('handler broke');
      const empty = unique('empty');
      await bus.ensureTopics([{ topic: empty, partitions: 2 }]);
      await bus.ensureTopics([{ topic: empty, partitions: 2 }]); // idempotent
      const none: BusMessage[] = [];
      await bus.replay(empty, (m) => void none.push(m));
      await bus.replay(unique('never-created'), (m) => void none.push(m));
      expect(none).toEqual([]);
    });

    it("startFrom 'latest' skips what was published before the group existed", async () => {
      const topic = unique('latest');
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      const old = testEvent(unique('old'));
      await bus.publish(topic, 'k', old);
      const seen: string[] = [];
      await join({ topic, groupId: unique('g'), startFrom: 'latest', handler: async (m) => void seen.push(m.event.id) });
      const fresh = testEvent(unique('new'));
      await bus.publish(topic, 'k', fresh);
      await waitFor(() => seen.includes(fresh.id), 'the new event');
      expect(seen).toEqual([fresh.id]);
    });

    it('refuses malformed, oversized and hostile input with clear errors, storing nothing', async () => {
      const topic = unique('input');
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      const ok = testEvent(unique('ok'));
      const code = async (p: Promise<unknown>): Promise<unknown> =>
        p.then(
          () => 'resolved',
          (e: { code?: string; retriable?: boolean }) => `${e.code}/${e.retriable}`,
        );
      expect(await code(bus.publish('../etc/passwd', 'k', ok))).toBe('JIT_ERR_BUS_INVALID_TOPIC/false');
      expect(await code(bus.publish('', 'k', ok))).toBe('JIT_ERR_BUS_INVALID_TOPIC/false');
      expect(await code(bus.publish('t'.repeat(250), 'k', ok))).toBe('JIT_ERR_BUS_INVALID_TOPIC/false');
      expect(await code(bus.publish(topic, '', ok))).toBe('JIT_ERR_BUS_INVALID_KEY/false');
      expect(await code(bus.publish(topic, 42 as unknown as string, ok))).toBe('JIT_ERR_BUS_INVALID_KEY/false');
      expect(await code(bus.publish(topic, 'k'.repeat(2000), ok))).toBe('JIT_ERR_BUS_INVALID_KEY/false');
      const bad: unknown[] = [null, 'not an object', [ok], { ...ok, specversion: '0.3' }, { ...ok, id: '' }, { ...ok, type: 7 }, { ...ok, data: 10n }, { ...ok, toJSON: () => ({ hello: 'world' }) }];
      const circular: Record<string, unknown> = { ...ok };
      circular['self'] = circular;
      bad.push(circular);
      for (const e of bad) {
        expect(await code(bus.publish(topic, 'k', e as CloudEventJson))).toBe('JIT_ERR_BUS_INVALID_EVENT/false');
      }
      const huge = testEvent(unique('huge'), 'x'.repeat(1024 * 1024 + 10));
      expect(await code(bus.publish(topic, 'k', huge))).toBe('JIT_ERR_BUS_EVENT_TOO_LARGE/false');
      const noop = async (): Promise<void> => undefined;
      expect(await code(bus.subscribe({ topic, groupId: '', handler: noop }))).toBe('JIT_ERR_BUS_INVALID_OPTIONS/false');
      expect(await code(bus.subscribe({ topic, groupId: 'g', handler: noop, maxAttempts: 0 }))).toBe('JIT_ERR_BUS_INVALID_OPTIONS/false');
      expect(await code(bus.subscribe({ topic, groupId: 'g', handler: 'nope' as never }))).toBe('JIT_ERR_BUS_INVALID_OPTIONS/false');
      expect(await code(bus.replay(topic, noop, { partitions: [99] }))).toBe('JIT_ERR_BUS_INVALID_OPTIONS/false');

      // A prototype-pollution attempt is stored and delivered as plain data.
      const hostile = JSON.parse(`{"specversion":"1.0","id":"${unique('h')}","source":"x","type":"t","data":{"__proto__":{"polluted":true}}}`) as CloudEventJson;
      await bus.publish(topic, 'k', ok);
      await bus.publish(topic, 'k', hostile);
      const stored: BusMessage[] = [];
      await bus.replay(topic, (m) => void stored.push(m));
      expect(stored.map((m) => m.event.id)).toEqual([ok.id, hostile.id]);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(stored[1]!.event.data, '__proto__')).toBe(true);
    });

    it('treats a consumer group named __proto__ as data', async () => {
      const topic = unique('proto');
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      const e = testEvent(unique('p'));
      await bus.publish(topic, '__proto__', e);
      const seen: BusMessage[] = [];
      const { sub } = await join({ topic, groupId: '__proto__', handler: async (m) => void seen.push(m) });
      await waitFor(() => seen.length === 1, 'the event');
      expect(seen[0]?.key).toBe('__proto__');
      await sub.stop();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, topic)).toBe(false);
      const marker = testEvent(unique('m'));
      await bus.publish(topic, 'k', marker);
      const again: string[] = [];
      await join({ topic, groupId: '__proto__', handler: async (m) => void again.push(m.event.id) });
      await waitFor(() => again.includes(marker.id), 'the marker');
      expect(again).toEqual([marker.id]); // its commit was kept under its own name
    });

    it('tolerates calls out of order: double stop, stop after close; refuses work after close', async () => {
      const topic = unique('order-of-calls');
      const { sub } = await join({ topic, groupId: unique('g'), handler: async () => undefined });
      await Promise.all([sub.stop(), sub.stop()]);
      await sub.stop();
      const { sub: open } = await join({ topic, groupId: unique('g'), handler: async () => undefined });
      await Promise.allSettled(
        subs
          .splice(0)
          .filter((s) => s !== open)
          .map((s) => s.stop()),
      );
      await bus.close(); // stops `open` too
      await open.stop();
      expect(bus.isReady()).toBe(false);
      const closed = { code: 'JIT_ERR_BUS_CLOSED' };
      await expect(bus.publish(topic, 'k', testEvent('x'))).rejects.toMatchObject(closed);
      await expect(bus.subscribe({ topic, groupId: 'g', handler: async () => undefined })).rejects.toMatchObject(closed);
      await expect(bus.replay(topic, () => undefined)).rejects.toMatchObject(closed);
      await expect(bus.ensureTopics([{ topic }])).rejects.toMatchObject(closed);
      await bus.close(); // idempotent
    });
  });
}
