import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@jit/observability';
import { freePort, startKafka, waitFor, type KafkaHandle } from '@jit/testing';
import type { BusMessage } from './event-bus';
import { createKafkaBus } from './kafka-bus';
import { runBusContractSuite, testEvent } from './testing/contract-suite';

const logger = createLogger({ name: 'bus-test', level: 'silent' });
// A private broker: the suite stops and restarts it, which must not disturb other suites.
let kafka: Promise<KafkaHandle> | undefined;
const broker = (): Promise<KafkaHandle> => (kafka ??= startKafka());
afterAll(async () => {
  await (await kafka)?.dispose();
});

let clients = 0;
runBusContractSuite('kafka', async () => {
  const k = await broker();
  return {
    open: () => createKafkaBus({ brokers: k.brokers, clientId: `bus-contract-${++clients}`, logger }),
    outage: { stop: () => k.stop(), start: () => k.start() },
    waitMs: 60_000,
  };
});

describe('kafka bus specifics', () => {
  const id = (p: string): string => `${p}-${randomUUID().slice(0, 8)}`;

  it('dead-letters foreign records that are not CloudEvents byte for byte, with headers, and carries on', async () => {
    const k = await broker();
    const bus = await createKafkaBus({ brokers: k.brokers, clientId: id('foreign'), logger });
    const raw = new kafkajs.Kafka({ brokers: k.brokers, clientId: id('raw'), logLevel: kafkajs.logLevel.NOTHING });
    const producer = raw.producer();
    const watcher = raw.consumer({ groupId: id('watch') });
    try {
      const topic = id('foreign');
      await bus.ensureTopics([
        { topic, partitions: 1 },
        { topic: `${topic}.dlq`, partitions: 1 },
      ]);
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { key: 'a', value: 'not json at all \u0000\u00ff' },
          { key: 'b', value: '{"specversion":"0.3","id":"x"}' },
          { key: null, value: null },
        ],
      });
      const good = testEvent(id('good'));
      await bus.publish(topic, 'c', good);
      const dead: { value: string; headers: Record<string, string> }[] = [];
      await watcher.connect();
      await watcher.subscribe({ topics: [`${topic}.dlq`], fromBeginning: true });
      await watcher.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([h, v]) => [h, String(v)]));
          dead.push({ value: message.value?.toString('utf8') ?? '', headers });
        },
      });
      const handled: BusMessage[] = [];
      const sub = await bus.subscribe({ topic, groupId: id('g'), handler: async (m) => void handled.push(m) });
      await vi.waitFor(() => expect(handled.map((m) => m.event.id)).toEqual([good.id]), { timeout: 60_000 });
      await vi.waitFor(() => expect(dead).toHaveLength(3), { timeout: 60_000 });
      expect(dead[0]).toEqual({
        value: 'not json at all \u0000\u00ff',
        headers: expect.objectContaining({
          'jit-dlq-code': 'JIT_ERR_BUS_MALFORMED_MESSAGE',
          'jit-dlq-topic': topic,
          'jit-dlq-offset': '0',
          'jit-dlq-attempts': '0',
        }),
      });
      expect(dead[1]!.value).toBe('{"specversion":"0.3","id":"x"}');
      expect(dead[2]!.headers['jit-dlq-offset']).toBe('2');
      await sub.stop();
    } finally {
      await Promise.allSettled([producer.disconnect(), watcher.disconnect()]);
      await bus.close();
    }
  });

  it('creates topics with the asked retention and repairs the retention of an existing topic', async () => {
    const k = await broker();
    const bus = await createKafkaBus({ brokers: k.brokers, clientId: id('retention'), logger });
    const admin = new kafkajs.Kafka({ brokers: k.brokers, clientId: id('admin'), logLevel: kafkajs.logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      const fresh = id('fresh');
      const drifted = id('drifted');
      // A loaded broker may not know a just-created topic for a moment (UNKNOWN_TOPIC_OR_PARTITION)
      // and applies config changes asynchronously: the admin's own calls are retried until they hold.
      const eventually = <T>(fn: () => Promise<T>) => vi.waitFor(fn, { timeout: 30_000, interval: 200 });
      const retention = async (name: string) =>
        (
          await admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] }],
          })
        ).resources[0]?.configEntries[0]?.configValue;
      await eventually(() =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: drifted, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '604800000' }] }],
        }),
      );
      await bus.ensureTopics([
        { topic: fresh, partitions: 3, retentionMs: -1 },
        { topic: drifted, partitions: 5, retentionMs: -1 },
      ]);
      for (const name of [fresh, drifted]) await eventually(async () => expect(await retention(name)).toBe('-1'));
      const meta = await admin.fetchTopicMetadata({ topics: [fresh, drifted] });
      expect(meta.topics.find((t) => t.name === fresh)?.partitions).toHaveLength(3);
      expect(meta.topics.find((t) => t.name === drifted)?.partitions).toHaveLength(2); // never repartitioned
      // without retentionMs an existing topic's retention is left alone
      const weekly = id('weekly');
      await eventually(() =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: weekly, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '604800000' }] }],
        }),
      );
      await eventually(async () => expect(await retention(weekly)).toBe('604800000'));
      await bus.ensureTopics([{ topic: weekly, partitions: 1 }]);
      expect(await retention(weekly)).toBe('604800000');
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  });

  it('an ephemeral consumer group is deleted when its subscription stops (also via close); a durable one stays', async () => {
    const k = await broker();
    const bus = await createKafkaBus({ brokers: k.brokers, clientId: id('ephemeral'), logger });
    const admin = new kafkajs.Kafka({ brokers: k.brokers, clientId: id('admin'), logLevel: kafkajs.logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      const topic = id('eph');
      await bus.ensureTopics([{ topic, partitions: 2 }]);
      await bus.publish(topic, 'k', testEvent(id('e')));
      const [durable, stopped, closed] = [id('durable'), id('stopped'), id('closed')];
      const subs = [];
      for (const [groupId, ephemeral] of [
        [durable, false],
        [stopped, true],
        [closed, true],
      ] as const) {
        let got = 0;
        subs.push(await bus.subscribe({ topic, groupId, ephemeral, handler: async () => void got++ }));
        await vi.waitFor(() => expect(got).toBe(1), { timeout: 60_000, interval: 100 });
      }
      const groups = async () => (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(await groups()).toEqual(expect.arrayContaining([durable, stopped, closed]));
      await subs[1]!.stop();
      await vi.waitFor(async () => expect(await groups()).not.toContain(stopped), { timeout: 30_000, interval: 200 });
      await bus.close(); // stops the other two
      await vi.waitFor(async () => expect(await groups()).not.toContain(closed), { timeout: 30_000, interval: 200 });
      expect(await groups()).toContain(durable);
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  });

  it('a topic the broker refuses fails only its own publishes, non-retriably', async () => {
    const k = await broker();
    const bus = await createKafkaBus({ brokers: k.brokers, clientId: id('refused'), logger });
    const admin = new kafkajs.Kafka({ brokers: k.brokers, clientId: id('admin'), logLevel: kafkajs.logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      const small = id('small');
      const fine = id('fine');
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: small, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1000' }] },
          { topic: fine, numPartitions: 1 },
        ],
      });
      const [refused, accepted] = await Promise.allSettled([bus.publish(small, 'k', testEvent(id('big'), 'x'.repeat(5000))), bus.publish(fine, 'k', testEvent(id('ok'), 'x'.repeat(5000)))]);
      expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'JIT_ERR_BUS_REJECTED', retriable: false } });
      expect(accepted.status).toBe('fulfilled');
      expect(bus.isReady()).toBe(true);
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  });

  it('fails fast and retriably when no broker listens, and refuses bad options', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(createKafkaBus({ brokers: [`127.0.0.1:${port}`], clientId: 'nobody', logger })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_UNAVAILABLE',
      retriable: true,
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(createKafkaBus({ brokers: [], clientId: 'x' })).rejects.toMatchObject({ code: 'JIT_ERR_BUS_INVALID_OPTIONS' });
    await expect(createKafkaBus({ brokers: ['127.0.0.1:1'], clientId: 'bad\nid' })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_INVALID_OPTIONS',
    });
  });

  it('a handler busy for longer than the session keeps its partition: the message is not handed to another member meanwhile (issue 17)', async () => {
    const k = await broker();
    const topic = id('slow');
    const groupId = id('slow-group');
    const SESSION_MS = 6_000; // the broker's group.min.session.timeout.ms
    const buses = await Promise.all([1, 2].map((n) => createKafkaBus({ brokers: k.brokers, clientId: id(`slow-${n}`), logger, sessionTimeoutMs: SESSION_MS })));
    const deliveries: { member: number; event: string }[] = [];
    const assigned = new Map<number, number[]>();
    const subs = [];
    try {
      await buses[0]!.ensureTopics([{ topic, partitions: 1 }]);
      for (const [i, bus] of buses.entries()) {
        subs.push(
          await bus.subscribe({
            topic,
            groupId,
            onAssignment: (partitions) => void assigned.set(i, partitions),
            handler: async (m) => {
              deliveries.push({ member: i, event: m.event.id });
              // an issuer retrying through a substrate outage: well past the session timeout
              if (m.event.id.startsWith('slow-')) await new Promise((r) => setTimeout(r, SESSION_MS * 2.5));
            },
          }),
        );
      }
      await waitFor(() => assigned.size === 2 && [...assigned.values()].flat().length === 1, { timeoutMs: 60_000, what: 'both members in the group, one holding the partition' });
      const slow = testEvent(id('slow'));
      await buses[0]!.publish(topic, 'k', slow);
      await waitFor(() => deliveries.length > 0, { timeoutMs: 30_000, what: 'the slow message delivered' });
      // the next message of the partition comes after the slow one, to whoever holds the partition by then
      const next = testEvent(id('next'));
      await buses[0]!.publish(topic, 'k', next);
      const handedOver = () => deliveries.filter((d) => d.event === slow.id).length > 1;
      await waitFor(() => deliveries.some((d) => d.event === next.id) || handedOver(), { timeoutMs: 90_000, what: 'the next message handled (or the slow one handed to the other member)' });
      expect(deliveries.filter((d) => d.event === slow.id)).toHaveLength(1);
      expect(new Set(deliveries.map((d) => d.member)).size).toBe(1);
    } finally {
      await Promise.all(subs.map((s) => s.stop()));
      await Promise.all(buses.map((b) => b.close()));
    }
  });
});
