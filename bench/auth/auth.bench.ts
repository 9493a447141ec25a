// Benchmark (not a test): what API authentication adds to a read (issue 12: under 5 % of the
// unauthenticated request's CPU on a cache hit). In process through fastify's inject() — no
// sockets, no load generator competing for the CPU — one GET /v1/elevations/:id shaped answer,
// 50 requests in flight:
//   - bare: the route alone;
//   - cache hit: the auth plugin with jit's caller resolver (a GitLab token, GitLab's answer about
//     it cached as in production, JIT_AUTH_CACHE_TTL_MS) and the caller's view under the example
//     policy (eligible approver groups from the cached group resolver), as the read API decides it;
//   - cold: a token never seen before on every request (GitLab's GET /user asked each time) and
//     the view worked out afresh (group members asked again). GitLab's answers come from an in-process transport shaped as GitLab's
//     documented GET /user and group members, so the figure is jit's own CPU, not GitLab's or the
//     network's.
//   npx tsx bench/auth/auth.bench.ts      (BENCH_AUTH_REQUESTS per round, default 4000; 5 rounds)
// Then bare and cache hit side by side in BENCH_AUTH_PAIRS (default 15) adjacent rounds, order
// alternating: the 5 % goal is judged on the median of the pairs' ratios, since the machine's load
// moves the bare figure more between runs than authentication adds.
import { availableParallelism, loadavg } from 'node:os';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import pino from 'pino';
import { parse } from 'yaml';
import { authPlugin, createCallerResolver } from '@jit/identity';
import type { Caller } from '@jit/identity-contract';
import { createLogger } from '@jit/observability';
import { cachedGroupResolver, compilePolicy, createElevationAccess, type LoadedPolicy } from '@jit/policy';
import { EXAMPLE_POLICY_YAML } from '@jit/policy/testing';

const PER_ROUND = Number(process.env['BENCH_AUTH_REQUESTS'] ?? 4000);
const ROUNDS = 5;
const PAIRS = Number(process.env['BENCH_AUTH_PAIRS'] ?? 15);
const IN_FLIGHT = 50;
const TOKEN = 'glpat-bench-0123456789abcdef';
const GITLAB = 'http://gitlab.bench.invalid';

const ELEVATION = {
  id: 'gl-7-42',
  state: 'granted',
  requester: 'dev',
  target: 'orders-db',
  scope: 'write',
  tier: 'reversible-write',
  breakGlass: false,
  justification: 'backfill order totals after INC-4411'.repeat(4),
  mrUrl: 'https://gitlab.example.com/ops/elevations/-/merge_requests/42',
  approvers: ['carol', 'erin'],
  expiresAt: '2026-12-07T12:00:00.000Z',
};

type Kind = 'bare' | 'auth, cache hit' | 'auth, cold';

/** GitLab as jit's transport sees it: GET /user for the token, group members for the policy's groups. */
const gitlab = async (input: Request | string | URL): Promise<Response> => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  if (url.pathname === '/api/v4/user') return json({ id: 17, username: 'carol', name: 'Carol', state: 'active', bot: false, email: 'carol@example.com' });
  return new Response('{"message":"404 Not Found"}', { status: 404, headers: { 'content-type': 'application/json' } });
};
const members: Record<string, Array<{ username: string }>> = {
  platform: [{ username: 'carol' }, { username: 'deploy-agent' }],
  'platform-leads': [{ username: 'erin' }],
  oncall: [{ username: 'olga' }],
  security: [{ username: 'sam' }],
};

async function build(kind: Kind): Promise<FastifyInstance> {
  const logger = createLogger({ name: 'bench', destination: pino.destination({ dest: '/dev/null', sync: false }) });
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) }) as unknown as FastifyInstance;
  if (kind === 'bare') {
    app.get<{ Params: { id: string } }>('/v1/elevations/:id', async (req, reply) => (req.params.id === ELEVATION.id ? ELEVATION : reply.code(404).send({ code: 'NOT_FOUND' })));
  } else {
    const hit = kind === 'auth, cache hit';
    const resolver = createCallerResolver({ gitlabUrl: GITLAB, cacheTtlMs: 60_000, fetch: gitlab as never, logger });
    const policy = compilePolicy(parse(EXAMPLE_POLICY_YAML)).policy!;
    const store = { peek: () => ({ policy, version: 'bench' }) as unknown as LoadedPolicy };
    const groups = async (g: string) => members[g] ?? [];
    const access = createElevationAccess({ store, resolveGroup: hit ? cachedGroupResolver(groups, { ttlMs: 60_000 }) : groups, botUsername: 'jit-bot', viewTtlMs: hit ? 5000 : 0 });
    await app.register(authPlugin, { resolver });
    app.get<{ Params: { id: string } }>('/v1/elevations/:id', async (req, reply) => {
      const caller = (req as { caller?: Caller }).caller!;
      const view = await access.viewOf(caller);
      return req.params.id === ELEVATION.id && view.sees(ELEVATION) ? ELEVATION : reply.code(404).send({ code: 'NOT_FOUND' });
    });
  }
  await app.ready();
  return app;
}

let sequence = 0;
async function read(app: FastifyInstance, n: number, kind: Kind): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < n) {
        const res = await app.inject({ method: 'GET', url: `/v1/elevations/${ELEVATION.id}`, headers: { authorization: `Bearer ${kind === 'auth, cold' ? `${TOKEN}-${sequence++}` : TOKEN}` } });
        if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${res.body}`);
      }
    }),
  );
}

/** Process CPU (user + system) per read over one round of `n` reads, µs. */
async function cpuPerRead(app: FastifyInstance, n: number, kind: Kind): Promise<number> {
  const before = process.cpuUsage();
  await read(app, n, kind);
  const d = process.cpuUsage(before);
  return (d.user + d.system) / n;
}

/** Bare and cache hit in adjacent rounds (order alternating): each pair's cache hit / bare ratio. */
async function paired(): Promise<{ ratios: number[]; bare: number[]; hit: number[] }> {
  const bareApp = await build('bare');
  const hitApp = await build('auth, cache hit');
  try {
    await read(bareApp, PER_ROUND, 'bare');
    await read(hitApp, PER_ROUND, 'auth, cache hit');
    const out = { ratios: [] as number[], bare: [] as number[], hit: [] as number[] };
    for (let i = 0; i < PAIRS; i++) {
      const first = i % 2 === 0 ? 'bare' : 'auth, cache hit';
      const a = await cpuPerRead(first === 'bare' ? bareApp : hitApp, PER_ROUND, first);
      const second = first === 'bare' ? 'auth, cache hit' : 'bare';
      const b = await cpuPerRead(second === 'bare' ? bareApp : hitApp, PER_ROUND, second);
      const [bare, hit] = first === 'bare' ? [a, b] : [b, a];
      out.bare.push(bare);
      out.hit.push(hit);
      out.ratios.push(hit / bare);
    }
    return out;
  } finally {
    await bareApp.close();
    await hitApp.close();
  }
}

/** Median and minimum over the rounds of process CPU (user + system) per read, µs. */
async function measure(kind: Kind): Promise<{ median: number; min: number }> {
  const app = await build(kind);
  try {
    await read(app, PER_ROUND, kind); // warm-up: JIT, and the caches filled
    const perRound: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const before = process.cpuUsage();
      await read(app, PER_ROUND, kind);
      const d = process.cpuUsage(before);
      perRound.push((d.user + d.system) / PER_ROUND);
    }
    perRound.sort((a, b) => a - b);
    return { median: perRound[Math.floor(ROUNDS / 2)]!, min: perRound[0]! };
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const start = loadavg();
  const rows: Partial<Record<Kind, { median: number; min: number }>> = {};
  // bare twice (first and last) so a drift in the machine's load shows
  const only = process.env['BENCH_AUTH_ONLY'];
  const order: Kind[] = (['bare', 'auth, cache hit', 'auth, cold', 'bare'] as Kind[]).filter((k) => !only || k === 'bare' || k === only);
  const bareRuns: number[] = [];
  for (const kind of order) {
    const r = await measure(kind);
    if (kind === 'bare') bareRuns.push(r.median);
    rows[kind] = kind === 'bare' ? { median: Math.min(...bareRuns), min: Math.min(r.min, rows.bare?.min ?? Infinity) } : r;
  }
  console.log(`CPU per authenticated read, in process (inject), ${IN_FLIGHT} in flight, ${ROUNDS} rounds of ${PER_ROUND}: µs median (min)`);
  for (const [kind, r] of Object.entries(rows)) console.log(`  ${kind.padEnd(18)} ${r!.median.toFixed(1).padStart(7)} (${r!.min.toFixed(1)})`);
  console.log(`  bare, first and last run: ${bareRuns.map((x) => x.toFixed(1)).join(' / ')}`);
  const bare = rows.bare!.median;
  const pct = (k: Kind) => (((rows[k]!.median - bare) / bare) * 100).toFixed(1);
  if (rows['auth, cache hit']) console.log(`added by authentication on a cache hit: +${pct('auth, cache hit')} % (goal < 5 %)`);
  if (rows['auth, cold']) console.log(`added by authentication, cold: +${pct('auth, cold')} %`);
  const fmt = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  if (PAIRS > 0 && (!only || only === 'auth, cache hit')) {
    const p = await paired();
    const med = (l: number[]) => [...l].sort((a, b) => a - b)[Math.floor(l.length / 2)]!;
    const sorted = [...p.ratios].sort((a, b) => a - b);
    console.log(`paired rounds (${PAIRS}): bare ${med(p.bare).toFixed(1)} µs, cache hit ${med(p.hit).toFixed(1)} µs (medians)`);
    console.log(
      `  cache hit / bare per pair: median +${((med(p.ratios) - 1) * 100).toFixed(1)} % (min ${((sorted[0]! - 1) * 100).toFixed(1)} %, max +${((sorted[sorted.length - 1]! - 1) * 100).toFixed(1)} %; goal < 5 %)`,
    );
  }
  console.log(`load average at start: ${fmt(start)}; at the end: ${fmt(loadavg())} on ${availableParallelism()} cores`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
