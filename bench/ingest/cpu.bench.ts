// Benchmark (not a test): CPU per delivery of the webhook intake, in process, through fastify's
// inject() — no sockets and no load generator competing for the CPU, so the figure moves far less
// with the neighbours' load than the HTTP benchmark's req/s. 50 deliveries in flight, each a new
// delivery id, GitLab's documented Merge Request Hook payload.
//   npx tsx bench/ingest/cpu.bench.ts      (BENCH_CPU_DELIVERIES per round, default 4000; 5 rounds)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import pino from 'pino';
import { createEmbeddedBus, type EventBus } from '@jit/bus';
import { ingestPlugin } from '@jit/ingest';
import { createLogger } from '@jit/observability';

const PAYLOAD = readFileSync(new URL('../../libs/ingest/src/fixtures/merge-request-hook.json', import.meta.url), 'utf8');
const TOKEN = 'bench-token-0123456789';
const PER_ROUND = Number(process.env['BENCH_CPU_DELIVERIES'] ?? 4000);
const ROUNDS = 5;
const IN_FLIGHT = 50;

/** A bus that acknowledges at once: isolates the intake's own cost from the bus's. */
const noopBus: EventBus = {
  kind: 'embedded',
  ensureTopics: async () => undefined,
  publish: async () => undefined,
  subscribe: async () => {
    throw new Error('not used');
  },
  replay: async () => undefined,
  isReady: () => true,
  close: async () => undefined,
};

type Kind = 'bare' | 'ingest, no-op bus' | 'ingest + embedded bus';

async function build(kind: Kind, scratch: string): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const logger = createLogger({ name: 'bench', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) }) as unknown as FastifyInstance;
  let bus: EventBus | undefined;
  if (kind === 'bare') {
    app.post('/webhooks/gitlab', async (request, reply) => reply.code(202).send({ accepted: true, n: Object.keys(request.body as object).length }));
  } else {
    bus = kind === 'ingest, no-op bus' ? noopBus : await createEmbeddedBus({ dir: join(scratch, 'bus'), logger });
    await bus.ensureTopics([{ topic: 'bench.gitlab', partitions: 3 }]);
    await app.register(ingestPlugin, { bus, topic: 'bench.gitlab', auth: { tokens: [TOKEN] }, dedupe: { dir: join(scratch, 'dedupe') }, logger, underPressure: false });
  }
  await app.ready();
  return {
    app,
    close: async () => {
      await app.close();
      await bus?.close();
    },
  };
}

async function deliver(app: FastifyInstance, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < n) {
        const res = await app.inject({
          method: 'POST',
          url: '/webhooks/gitlab',
          payload: PAYLOAD,
          headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': TOKEN, 'idempotency-key': randomUUID() },
        });
        if (res.statusCode !== 202) throw new Error(`answered ${res.statusCode}: ${res.body}`);
      }
    }),
  );
}

/** Median and minimum over the rounds of process CPU (user + system) per delivery, µs. */
async function measure(kind: Kind): Promise<{ median: number; min: number }> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-ingest-cpu-'));
  const { app, close } = await build(kind, scratch);
  try {
    await deliver(app, PER_ROUND); // warm-up: JIT
    const perRound: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const before = process.cpuUsage();
      await deliver(app, PER_ROUND);
      const d = process.cpuUsage(before);
      perRound.push((d.user + d.system) / PER_ROUND);
    }
    perRound.sort((a, b) => a - b);
    return { median: Math.round(perRound[Math.floor(ROUNDS / 2)]!), min: Math.round(perRound[0]!) };
  } finally {
    await close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const start = loadavg();
  const rows: Record<string, { median: number; min: number }> = {};
  for (const kind of ['bare', 'ingest, no-op bus', 'ingest + embedded bus'] as Kind[]) rows[kind] = await measure(kind);
  console.log(`CPU per delivery, in process (inject), ${IN_FLIGHT} in flight, ${ROUNDS} rounds of ${PER_ROUND}: µs median (min)`);
  for (const [kind, r] of Object.entries(rows)) console.log(`  ${kind.padEnd(24)} ${String(r.median).padStart(5)} (${r.min})`);
  const bare = rows['bare']!.median;
  const full = rows['ingest + embedded bus']!.median;
  console.log(`CPU-bound ceiling of ingest+embedded / bare: ${(bare / full).toFixed(2)}x (the HTTP benchmark's goal is 0.5x req/s)`);
  const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(`load average at start: ${fmt(start)}; at the end: ${fmt(loadavg())} on ${availableParallelism()} cores`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
