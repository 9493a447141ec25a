// Benchmark (not a test): POST /webhooks/gitlab with GitLab's documented Merge Request Hook payload,
// each request a distinct delivery id, against a bare fastify route in the same run.
//   npx tsx bench/ingest/ingest.bench.ts            (KAFKA_BROKERS=host:port to use a running broker)
// Goals: ingest + embedded bus >= 0.5x the bare route's req/s; p99 <= 5 ms at 500 req/s on Kafka.
// Each server runs in its own child process so the load generator does not share its event loop.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { ingestPlugin } from '@jit/ingest';
import { createLogger } from '@jit/observability';

const SELF = fileURLToPath(import.meta.url);
const PAYLOAD = readFileSync(new URL('../../libs/ingest/src/fixtures/merge-request-hook.json', import.meta.url), 'utf8');
const TOKEN = 'bench-token-0123456789';
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
/** A directory: each server child runs under `node --cpu-prof` and leaves its profile there. */
const CPU_PROF_DIR = process.env['BENCH_CPU_PROF'];
/**
 * Paired rounds of bare and embedded (order alternating), BENCH_DURATION_S each, on servers started
 * once: on a box shared with other work the load moves within seconds, so a ratio of two adjacent
 * slices, taken many times, says more than one ratio of two 10 s runs a minute apart. Default 1.
 */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 1);
/**
 * Warm-up, in requests (not seconds): the JIT tiers code up by how often it ran, so a fixed 2 s warmed
 * the bare route (~10 k requests) far more than the intake (~1 k on a loaded box) and measured its JIT
 * compiles. Each server takes this many requests before it is measured. Default 10 000.
 */
const WARMUP_REQUESTS = Number(process.env['BENCH_WARMUP_REQUESTS'] ?? 10_000);

type Kind = 'bare' | 'embedded' | 'kafka';

async function serve(kind: Kind): Promise<void> {
  // Production logging (one line per delivery) written to /dev/null: its cost is counted, its output not kept.
  const logger = createLogger({ name: 'bench', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) });
  const scratch = mkdtempSync(join(tmpdir(), `bench-ingest-${kind}-`));
  // In-server time of every answered request (request received → answer written), kept apart from
  // the client's figures, which on a shared box include the load generator's own queueing.
  const elapsed: number[] = [];
  app.addHook('onResponse', (_request, reply, done) => {
    elapsed.push(reply.elapsedTime);
    done();
  });
  let bus: EventBus | undefined;
  if (kind === 'bare') {
    // The same work minus ours: parse the JSON body, answer 202.
    app.post('/webhooks/gitlab', async (request, reply) => reply.code(202).send({ accepted: true, n: Object.keys(request.body as object).length }));
  } else {
    const topic = `bench.gitlab.${randomUUID()}`;
    bus =
      kind === 'embedded'
        ? await createEmbeddedBus({ dir: join(scratch, 'bus'), logger })
        : await createKafkaBus({ brokers: process.env['BENCH_KAFKA_BROKERS']!.split(','), clientId: 'bench-ingest', logger });
    await bus.ensureTopics([{ topic, partitions: 3 }]);
    await app.register(ingestPlugin, { bus, topic, auth: { tokens: [TOKEN] }, dedupe: { dir: join(scratch, 'data') }, logger });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  process.send!({ port });
  let mark = process.cpuUsage();
  process.on('message', async (m) => {
    if (m === 'mark') {
      mark = process.cpuUsage();
      elapsed.length = 0;
      return;
    }
    if (m === 'cpu') {
      const d = process.cpuUsage(mark);
      const sorted = Float64Array.from(elapsed).sort();
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      process.send!({ cpuUs: d.user + d.system, sysUs: d.system, serverP50: at(0.5), serverP99: at(0.99) });
      return;
    }
    await app.close();
    await bus?.close();
    rmSync(scratch, { recursive: true, force: true });
    process.exit(0);
  });
}

function startServer(kind: Kind, env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  const execArgv = ['--import', 'tsx', ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [])];
  const child = fork(SELF, ['serve', kind], { execArgv, env: { ...process.env, ...env }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ port: (m as { port: number }).port, child }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
}

interface ServerFigures {
  /** Server CPU time (user + system, µs) since the last 'mark'. */
  cpuUs: number;
  /** Of which system time (writes, fsync, sockets). */
  sysUs: number;
  /** Exact in-server latency percentiles (ms) of the requests answered since the last 'mark'. */
  serverP50: number;
  serverP99: number;
}

function serverFigures(child: ChildProcess): Promise<ServerFigures> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as ServerFigures));
    child.send('cpu');
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.send('stop');
  await exited;
}

function load(port: number, opts: { connections: number; durationS: number; overallRate?: number; amount?: number }) {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: opts.connections,
    duration: opts.durationS,
    ...(opts.amount ? { amount: opts.amount } : {}),
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': TOKEN },
        body: PAYLOAD,
        // Every request a distinct delivery: nothing is answered from the dedupe window.
        setupRequest: (req: any) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }),
      },
    ],
  });
}

interface Row {
  scenario: string;
  reqPerSec: number;
  /** Client-side latency (autocannon), ms. */
  p50: number;
  p99: number;
  /** In-server latency, ms: request received → answer written, without the client's queueing. */
  srvP50: number;
  srvP99: number;
  /** Server process CPU per request (user + system), µs: what the work costs, whatever the neighbours do. */
  cpuUsPerReq: number;
  /** Of which system time, µs. */
  sysUsPerReq: number;
  non2xx: number;
  errors: number;
}

type Opts = { connections: number; overallRate?: number };

/** Warm-up (JIT, connections, producer metadata): WARMUP_REQUESTS requests (at a fixed rate: 2 s). */
function warmUp(port: number, opts: Opts) {
  if (opts.overallRate) return load(port, { ...opts, durationS: 2 });
  return load(port, { ...opts, durationS: 60, amount: WARMUP_REQUESTS });
}

/** One measured slice of load on a warm server. */
async function slice(scenario: string, port: number, child: ChildProcess, opts: Opts): Promise<Row> {
  child.send('mark');
  const r = await load(port, { ...opts, durationS: DURATION_S });
  const srv = await serverFigures(child);
  const per = (us: number) => Math.round(us / Math.max(1, r.requests.total));
  return {
    scenario,
    reqPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    srvP50: Math.round(srv.serverP50 * 100) / 100,
    srvP99: Math.round(srv.serverP99 * 100) / 100,
    cpuUsPerReq: per(srv.cpuUs),
    sysUsPerReq: per(srv.sysUs),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

async function measure(scenario: string, kind: Kind, env: Record<string, string>, opts: Opts): Promise<Row> {
  const { port, child } = await startServer(kind, env);
  try {
    await warmUp(port, opts);
    return await slice(scenario, port, child, opts);
  } finally {
    await stopServer(child);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** BENCH_ROUNDS > 1: bare and embedded servers both up, measured in adjacent slices, order alternating. */
async function pairedRounds(): Promise<void> {
  const opts = { connections: CONNECTIONS };
  const servers = { bare: await startServer('bare', {}), embedded: await startServer('embedded', {}) };
  const rows: { bare: Row; embedded: Row; load: number }[] = [];
  try {
    for (const s of Object.values(servers)) await warmUp(s.port, opts);
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? (['bare', 'embedded'] as const) : (['embedded', 'bare'] as const);
      const got: Partial<Record<'bare' | 'embedded', Row>> = {};
      for (const k of order) got[k] = await slice(SCENARIOS[k].title, servers[k].port, servers[k].child, opts);
      rows.push({ bare: got.bare!, embedded: got.embedded!, load: loadavg()[0]! });
    }
  } finally {
    for (const s of Object.values(servers)) await stopServer(s.child);
  }
  console.table(
    rows.map((r, i) => ({
      round: i + 1,
      load1: r.load.toFixed(1),
      bareReqPerSec: r.bare.reqPerSec,
      embeddedReqPerSec: r.embedded.reqPerSec,
      ratio: Number((r.embedded.reqPerSec / r.bare.reqPerSec).toFixed(2)),
      bareCpuUs: r.bare.cpuUsPerReq,
      embeddedCpuUs: r.embedded.cpuUsPerReq,
      embeddedSrvP99: r.embedded.srvP99,
      failed: r.bare.non2xx + r.bare.errors + r.embedded.non2xx + r.embedded.errors,
    })),
  );
  const ratios = rows.map((r) => r.embedded.reqPerSec / r.bare.reqPerSec);
  const m = median(ratios);
  console.log(
    `ingest+embedded / bare over ${ROUNDS} paired rounds of ${DURATION_S} s: median ${m.toFixed(2)}x req/s (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}; goal >= 0.5x): ${m >= 0.5 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `median req/s: bare ${median(rows.map((r) => r.bare.reqPerSec))}, ingest+embedded ${median(rows.map((r) => r.embedded.reqPerSec))}; median CPU per request: bare ${median(rows.map((r) => r.bare.cpuUsPerReq))} µs, ingest+embedded ${median(rows.map((r) => r.embedded.cpuUsPerReq))} µs`,
  );
}

/** CPU per publish of an event of the intake's size on the embedded bus alone: the floor under scenario 2. */
async function busPublishCpuUs(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-bus-'));
  const bus = await createEmbeddedBus({ dir, logger: createLogger({ name: 'bench', level: 'silent' }) });
  try {
    const payload = JSON.parse(PAYLOAD) as unknown;
    const event = () => ({
      specversion: '1.0' as const,
      id: randomUUID(),
      source: '/bench',
      type: 'dev.jit.gitlab.webhook.v1',
      datacontenttype: 'application/json',
      data: { kind: 'merge_request', payload },
    });
    const batch = () => Promise.all(Array.from({ length: 50 }, () => bus.publish('bench.bus', '1!1', event())));
    for (let i = 0; i < 20; i++) await batch();
    const before = process.cpuUsage();
    for (let i = 0; i < 100; i++) await batch();
    const d = process.cpuUsage(before);
    return Math.round((d.user + d.system) / 5000);
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const SCENARIOS = {
  bare: { title: 'bare fastify route (JSON parse, 202)', kind: 'bare', kafka: false, rate: undefined, connections: CONNECTIONS },
  embedded: { title: 'ingest + embedded bus (fsync per batch)', kind: 'embedded', kafka: false, rate: undefined, connections: CONNECTIONS },
  kafka500: { title: 'ingest + Kafka, fixed 500 req/s', kind: 'kafka', kafka: true, rate: 500, connections: 20 },
  kafka: { title: 'ingest + Kafka, max throughput', kind: 'kafka', kafka: true, rate: undefined, connections: CONNECTIONS },
} as const;
type ScenarioName = keyof typeof SCENARIOS;

async function main(): Promise<void> {
  if (ROUNDS > 1) {
    const startLoad = loadavg();
    await pairedRounds();
    const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
    console.log(`load average at start: ${fmt(startLoad)}; at the end: ${fmt(loadavg())} on ${availableParallelism()} cores`);
    return;
  }
  // BENCH_SCENARIOS=bare,embedded runs a subset (e.g. to profile one); default all, in this order.
  const names = (process.env['BENCH_SCENARIOS'] ?? Object.keys(SCENARIOS).join(',')).split(',') as ScenarioName[];
  for (const n of names) if (!(n in SCENARIOS)) throw new Error(`unknown scenario ${n}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  let brokers = process.env['KAFKA_BROKERS'];
  let disposeKafka: (() => Promise<void>) | undefined;
  if (!brokers && names.some((n) => SCENARIOS[n].kafka)) {
    const { startKafka } = await import('@jit/testing');
    const kafka = await startKafka();
    brokers = kafka.brokers.join(',');
    disposeKafka = () => kafka.dispose();
  }
  const startLoad = loadavg();
  const rows = new Map<ScenarioName, Row>();
  try {
    for (const n of names) {
      const s = SCENARIOS[n];
      const env: Record<string, string> = s.kafka ? { BENCH_KAFKA_BROKERS: brokers! } : {};
      rows.set(n, await measure(s.title, s.kind, env, { connections: s.connections, ...(s.rate ? { overallRate: s.rate } : {}) }));
    }
  } finally {
    await disposeKafka?.();
  }
  console.table([...rows.values()]);
  const bare = rows.get('bare');
  const embedded = rows.get('embedded');
  const kafka500 = rows.get('kafka500');
  if (bare && embedded) {
    const ratio = embedded.reqPerSec / bare.reqPerSec;
    console.log(`ingest+embedded / bare = ${ratio.toFixed(2)}x req/s (goal >= 0.5x): ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
    console.log(`server CPU per request: bare ${bare.cpuUsPerReq} µs, ingest+embedded ${embedded.cpuUsPerReq} µs (CPU-bound ceiling ratio ${(bare.cpuUsPerReq / embedded.cpuUsPerReq).toFixed(2)}x)`);
  }
  if (embedded) console.log(`embedded bus publish alone (same event, no HTTP): ${await busPublishCpuUs()} µs CPU per event`);
  const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  console.log(`load average at start: ${fmt(startLoad)}; at the end: ${fmt(loadavg())} on ${availableParallelism()} cores`);
  if (kafka500) {
    console.log(`p99 at 500 req/s on Kafka = ${kafka500.p99} ms client-side, ${kafka500.srvP99} ms in-server (goal <= 5 ms): ${kafka500.p99 <= 5 ? 'met' : 'NOT met'}`);
  }
  if ([...rows.values()].some((r) => r.errors > 0 || r.non2xx > 0)) console.log('note: some requests failed or were not 2xx — see the table');
}

if (process.argv[2] === 'serve') void serve(process.argv[3] as Kind);
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
