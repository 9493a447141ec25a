// Benchmark (not a test): publish→consume latency and end-to-end throughput of the EventBus
// implementations, in one run on the same machine.
//   npx tsx bench/bus/bus.bench.ts     (KAFKA_BROKERS=host:port to use a running broker, else a private one)
// Env: BENCH_LATENCY_EVENTS (default 1000), BENCH_THROUGHPUT_EVENTS (default 10000), BENCH_IN_FLIGHT (default 256).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEmbeddedBus, createKafkaBus, type CloudEventJson, type EventBus } from '@jit/bus';
import { createLogger } from '@jit/observability';
import { getKafka } from '@jit/testing';

const LATENCY_EVENTS = Number(process.env['BENCH_LATENCY_EVENTS'] ?? 1000);
const THROUGHPUT_EVENTS = Number(process.env['BENCH_THROUGHPUT_EVENTS'] ?? 10_000);
const IN_FLIGHT = Number(process.env['BENCH_IN_FLIGHT'] ?? 256);
const PARTITIONS = 4;
const KEYS = 64;
const logger = createLogger({ name: 'bench', level: 'error' });

interface Row {
  impl: string;
  ackP50: number;
  ackP99: number;
  e2eP50: number;
  e2eP99: number;
  publishPerS: number;
  e2ePerS: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A realistic event: the size of an elevation.approved CloudEvent (~600 bytes). */
function event(id: string, n: number): CloudEventJson {
  return {
    specversion: '1.0',
    id,
    source: 'urn:jit:bench',
    type: 'dev.jit.elevation.approved.v1',
    subject: `gl-42-${n % KEYS}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      elevationId: `gl-42-${n % KEYS}`,
      target: 'orders-db',
      scope: 'write',
      tier: 'reversible-write',
      ttlSeconds: 1800,
      approvers: ['alice', 'bob'],
      mergeSha: 'a'.repeat(40),
      justification: 'backfill order totals after INC-4411, reviewed by the platform team',
      n,
    },
  };
}

async function measure(impl: string, bus: EventBus): Promise<Row> {
  const topic = `bench-${impl.replace(/[^a-z0-9]/gi, '')}-${randomUUID().slice(0, 8)}`;
  await bus.ensureTopics([{ topic, partitions: PARTITIONS, retentionMs: 3_600_000 }]);
  const sentAt = new Map<string, number>();
  const e2e: number[] = [];
  let received = 0;
  let onReceived: (() => void) | undefined;
  let assigned!: () => void;
  const joined = new Promise<void>((r) => (assigned = r));
  const sub = await bus.subscribe({
    topic,
    groupId: `${topic}-g`,
    onAssignment: () => assigned(),
    handler: async (m) => {
      const t0 = sentAt.get(m.event.id);
      if (t0 !== undefined) {
        e2e.push(performance.now() - t0);
        sentAt.delete(m.event.id);
      }
      received++;
      onReceived?.();
    },
  });
  await joined;
  const until = (count: number): Promise<void> =>
    new Promise((resolve) => {
      onReceived = () => {
        if (received >= count) resolve();
      };
      onReceived();
    });

  // 1. latency: one event at a time, so neither number includes queueing behind other events
  const acks: number[] = [];
  for (let n = 0; n < LATENCY_EVENTS; n++) {
    const id = `lat-${n}`;
    const t0 = performance.now();
    sentAt.set(id, t0);
    await bus.publish(topic, `gl-42-${n % KEYS}`, event(id, n));
    acks.push(performance.now() - t0);
    await until(n + 1);
  }

  // 2. throughput: IN_FLIGHT publishes outstanding, until every event has been handled
  const base = received;
  const t0 = performance.now();
  let published = 0;
  let publishDone = 0;
  await new Promise<void>((resolve, reject) => {
    const next = (): void => {
      while (published < THROUGHPUT_EVENTS && published - publishDone < IN_FLIGHT) {
        const n = published++;
        bus.publish(topic, `gl-42-${n % KEYS}`, event(`tp-${n}`, n)).then(() => {
          publishDone++;
          if (publishDone === THROUGHPUT_EVENTS) resolve();
          else next();
        }, reject);
      }
    };
    next();
  });
  const tPublished = performance.now();
  await until(base + THROUGHPUT_EVENTS);
  const tConsumed = performance.now();
  await sub.stop();

  acks.sort((a, b) => a - b);
  e2e.sort((a, b) => a - b);
  return {
    impl,
    ackP50: quantile(acks, 0.5),
    ackP99: quantile(acks, 0.99),
    e2eP50: quantile(e2e, 0.5),
    e2eP99: quantile(e2e, 0.99),
    publishPerS: THROUGHPUT_EVENTS / ((tPublished - t0) / 1000),
    e2ePerS: THROUGHPUT_EVENTS / ((tConsumed - t0) / 1000),
  };
}

async function withEmbedded(impl: string, fsync: 'always' | { batchMs: number }): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'jit-bus-bench-'));
  const bus = await createEmbeddedBus({ dir, fsync, logger });
  try {
    return await measure(impl, bus);
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withKafka(): Promise<Row> {
  const fromEnv = process.env['KAFKA_BROKERS'];
  const brokers = fromEnv ? fromEnv.split(',') : await getKafka();
  const bus = await createKafkaBus({ brokers, clientId: 'bus-bench', logger, partitionsConsumedConcurrently: PARTITIONS });
  try {
    return await measure('kafka', bus);
  } finally {
    await bus.close();
  }
}

const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

const rows: Row[] = [];
rows.push(await withEmbedded('embedded (fsync always)', 'always'));
rows.push(await withEmbedded('embedded (batchMs 5)', { batchMs: 5 }));
rows.push(await withKafka());

console.log(
  `\nEventBus benchmark — ${LATENCY_EVENTS} sequential events for latency, ${THROUGHPUT_EVENTS} with ${IN_FLIGHT} in flight for throughput,` +
    ` ${PARTITIONS} partitions, ${KEYS} keys; ${availableParallelism()} CPUs, load avg ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
);
console.log('| implementation | publish ack p50 / p99 (ms) | publish→handler p50 / p99 (ms) | publish (events/s) | end-to-end (events/s) |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.impl} | ${fmt(r.ackP50)} / ${fmt(r.ackP99)} | ${fmt(r.e2eP50)} / ${fmt(r.e2eP99)} | ${fmt(r.publishPerS, 0)} | ${fmt(r.e2ePerS, 0)} |`);
}
process.exit(0);
