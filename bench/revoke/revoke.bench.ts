// Benchmark (not a test): how late the revoker revokes, and how fast it rebuilds its schedule.
//   npx tsx bench/revoke/revoke.bench.ts
// Env: BENCH_GRANTS (default 10000), BENCH_WINDOW_S (default 20), BENCH_REBUILD_EVENTS (default
// 100000), BENCH_PG_GRANTS (default 50; 0 skips the PostgreSQL run).
//  1. lateness: BENCH_GRANTS live grants on the in-memory substrate, expiring uniformly over
//     BENCH_WINDOW_S, embedded bus; lateness = revoked time - expiry, from the revoked events.
//  2. rebuild: start() of a revoker over a log of BENCH_REBUILD_EVENTS granted events.
//  3. the same as 1 with BENCH_PG_GRANTS real roles on embedded PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEmbeddedBus, createSigningBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createElevationEvent, createEventSigner, generateSigningKeyPem, grantId as grantIdOf, parseElevationEvent, producerTrust } from '@jit/contracts';

/** One key plays issuer and revoker, as in the all-in-one: granted events are signed as the revoker requires. */
const SIGNER = createEventSigner(generateSigningKeyPem());
const TRUST = producerTrust({}, { key: SIGNER.publicKey, roles: ['gate', 'issuer', 'revoker'] });
import { createLogger } from '@jit/observability';
import { createRevoker } from '@jit/revoker';
import { createChainHeads } from '@jit/ledger';
import type { RevocationHandle, Substrate } from '@jit/substrates';
import { createMemorySubstrate } from '@jit/substrates/testing';
import { createPostgresSubstrate, postgresConfigSchema } from '@jit/substrate-postgres';
import { startPostgres, waitFor } from '@jit/testing';

const GRANTS = Number(process.env['BENCH_GRANTS'] ?? 10_000);
const WINDOW_S = Number(process.env['BENCH_WINDOW_S'] ?? 20);
const REBUILD_EVENTS = Number(process.env['BENCH_REBUILD_EVENTS'] ?? 100_000);
const PG_GRANTS = Number(process.env['BENCH_PG_GRANTS'] ?? 50);
/** Time between the start of loading and the first expiry: loading must finish within it. */
const LEAD_S = Number(process.env['BENCH_LEAD_S'] ?? 10);
const SHA = 'c0ffee0000000000000000000000000000c0ffee';
const logger = createLogger({ name: 'bench', level: 'error' });
const dirs: string[] = [];

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

async function freshBus(): Promise<EventBus> {
  const dir = mkdtempSync(join(tmpdir(), 'jit-bench-revoke-'));
  dirs.push(dir);
  // batched fsync only to load the log quickly; the revoker's own publishes are what is measured
  const bus = await createEmbeddedBus({ dir, fsync: { batchMs: 5 }, logger, defaultPartitions: 12 });
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  // as apps/revoker composes it: signed and chained (ADR 0010), so the rebuild pays for hashing each event
  return createSigningBus(bus, SIGNER, [TOPIC_ELEVATIONS], createChainHeads());
}

function grantedEvent(handle: RevocationHandle, expiresAt: string, substrate: string) {
  const elevationId = handle.grantId.slice(0, -(SHA.length + 1));
  return createElevationEvent(
    EVENT_TYPES.granted,
    {
      elevationId,
      grantId: handle.grantId,
      target: 'orders-db',
      scope: 'write',
      substrate,
      handle: { ...handle, expiresAt } as never,
      sealedCredential: '-----BEGIN AGE ENCRYPTED FILE-----\nYmVuY2g=\n-----END AGE ENCRYPTED FILE-----',
      issuedAt: new Date().toISOString(),
      expiresAt,
      requester: 'carol',
    },
    { source: '/jit/bench', idKey: handle.grantId },
  );
}

/** Publishes in parallel batches (the embedded bus group-commits them). */
async function publishAll(bus: EventBus, events: ReturnType<typeof grantedEvent>[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    await Promise.all(events.slice(i, i + 1000).map((e) => bus.publish(TOPIC_ELEVATIONS, e.elevationid ?? e.subject ?? '', e)));
  }
}

interface LatenessResult {
  grants: number;
  p50: number;
  p99: number;
  max: number;
  revokedPerS: number;
}

/** Grants on `substrate` expiring uniformly over the window from `leadMs` from now; the revoker revokes them. */
async function lateness(substrate: Substrate, n: number, windowMs: number, scope: Record<string, unknown>, issueParallel = 50): Promise<LatenessResult> {
  const bus = await freshBus();
  const issued: RevocationHandle[] = [];
  for (let i = 0; i < n; i += issueParallel) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(issueParallel, n - i) }, (_, k) => {
        const elevationId = `gl-7-${i + k}`;
        return substrate.issue({ grantId: grantIdOf(elevationId, SHA), elevationId, requester: 'carol', target: 'orders-db', scopeName: 'write', scope, connection: {}, ttlSeconds: 3600 });
      }),
    );
    issued.push(...batch.map((b) => b.handle));
  }
  const leadMs = LEAD_S * 1000;
  const start = Date.now() + leadMs;
  const expiries = issued.map((_, i) => new Date(start + Math.floor((i / n) * windowMs)).toISOString());
  const revoker = createRevoker({
    bus,
    trust: TRUST,
    substrates: { forHandle: () => substrate, list: () => [] },
    logger,
    sweepIntervalMs: 0,
    retry: { baseMs: 100, maxMs: 1000 },
  });
  await revoker.start();
  const latenesses: number[] = [];
  const byQuarter: number[][] = [[], [], [], []];
  const order = new Map(issued.map((h, i) => [h.grantId, i]));
  const seen = new Set<string>();
  const sub = await bus.subscribe({
    topic: TOPIC_ELEVATIONS,
    groupId: 'bench-observer',
    handler: async (m) => {
      const p = parseElevationEvent(m.event);
      if (p.ok && p.event.type === EVENT_TYPES.revoked) {
        const d = p.event.data as { grantId: string; latenessMs: number };
        if (!seen.has(d.grantId)) {
          latenesses.push(d.latenessMs);
          const quarter = Math.min(3, Math.floor(((order.get(d.grantId) ?? 0) / n) * 4));
          byQuarter[quarter]!.push(d.latenessMs);
        }
        seen.add(d.grantId);
      }
    },
  });
  const events = issued.map((h, i) => grantedEvent(h, expiries[i]!, substrate.name));
  await publishAll(bus, events);
  if (Date.now() > start) console.warn(`  (loading ${n} grants took longer than the ${leadMs} ms lead; early expiries are late by that)`);
  await waitFor(() => seen.size >= n, { timeoutMs: windowMs + 120_000, intervalMs: 100, what: `${n} revocations` });
  const elapsed = (Date.now() - start) / 1000;
  await sub.stop();
  await revoker.stop();
  await bus.close();
  latenesses.sort((a, b) => a - b);
  const quarters = byQuarter.map((l) =>
    q(
      l.sort((a, b) => a - b),
      0.99,
    ),
  );
  console.log(`  (${substrate.name}: lateness p99 by quarter of the expiry window: ${quarters.join(' / ')} ms)`);
  return { grants: n, p50: q(latenesses, 0.5), p99: q(latenesses, 0.99), max: latenesses[latenesses.length - 1]!, revokedPerS: n / elapsed };
}

async function rebuild(n: number): Promise<{ events: number; loadS: number; startMs: number; rebuildMs: number; rebuildCpuMs: number; confirmedMs: number; live: number }> {
  const bus = await freshBus();
  const far = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, n - i) }, (_, k) => {
      const elevationId = `gl-9-${i + k}`;
      const handle: RevocationHandle = { kind: 'memory', grantId: grantIdOf(elevationId, SHA), ref: { credentialId: `mem-${i + k}` }, expiresAt: far };
      return grantedEvent(handle, far, 'memory');
    });
    await publishAll(bus, chunk);
  }
  const loadS = (performance.now() - t0) / 1000;
  await bus.close();
  // A fresh process view: reopen the log, as a restarted revoker would.
  const reopened = createSigningBus(await createEmbeddedBus({ dir: dirs[dirs.length - 1]!, logger }), SIGNER, [TOPIC_ELEVATIONS], createChainHeads());
  const substrate = createMemorySubstrate();
  // The first replay the revoker runs is the schedule rebuild; time it on its own.
  let rebuiltAt: number | undefined;
  let rebuildCpuMs = NaN;
  const timed: EventBus = Object.create(reopened) as EventBus;
  timed.replay = async (...args) => {
    const cpu = process.cpuUsage();
    await reopened.replay(...args);
    if (rebuiltAt === undefined) {
      rebuiltAt = performance.now();
      // CPU of this process during the replay: moves far less with the neighbours' load than the wall time
      const used = process.cpuUsage(cpu);
      rebuildCpuMs = (used.user + used.system) / 1000;
    }
  };
  const revoker = createRevoker({ bus: timed, trust: TRUST, substrates: { forHandle: () => substrate, list: () => [substrate] }, logger, sweepIntervalMs: 0 });
  const t1 = performance.now();
  await revoker.start(); // rebuild from the log + the initial reconciliation/orphan sweep
  const startMs = performance.now() - t1;
  const rebuildMs = (rebuiltAt ?? NaN) - t1;
  // every signature the rebuild left for later checked (revoker.confirmed(); before it, every one was checked during the replay)
  await revoker.confirmed?.();
  const confirmedMs = performance.now() - t1;
  const live = revoker.live().size;
  await revoker.stop();
  await reopened.close();
  return { events: n, loadS, startMs, rebuildMs, rebuildCpuMs, confirmedMs, live };
}

async function main(): Promise<void> {
  console.log(
    `revoke bench — node ${process.version}, ${availableParallelism()} cpus, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const rows: Array<Record<string, string | number>> = [];

  const mem = createMemorySubstrate();
  const m = await lateness(mem, GRANTS, WINDOW_S * 1000, { access: 'write' });
  const print = (n = 1) => console.table(rows.slice(-n));
  rows.push({ run: `memory, ${m.grants} grants over ${WINDOW_S} s`, 'lateness p50 ms': m.p50, 'p99 ms': m.p99, 'max ms': m.max, goal: 'p99 ≤ 250 ms', met: m.p99 <= 250 ? 'yes' : 'NO' });

  print();
  const r = await rebuild(REBUILD_EVENTS);
  rows.push({
    run: `rebuild schedule from ${r.events} granted events`,
    'lateness p50 ms': '-',
    'p99 ms': '-',
    'max ms': Math.round(r.rebuildMs),
    goal: '≤ 5000 ms',
    met: r.rebuildMs <= 5000 && r.live === r.events ? 'yes' : 'NO',
  });
  rows.push({ run: `  its CPU time (user + system)`, 'lateness p50 ms': '-', 'p99 ms': '-', 'max ms': Math.round(r.rebuildCpuMs), goal: '-', met: '-' });
  rows.push({ run: `start() over ${r.events} events (rebuild + initial sweep)`, 'lateness p50 ms': '-', 'p99 ms': '-', 'max ms': Math.round(r.startMs), goal: '-', met: '-' });
  rows.push({ run: `every signature checked (revoker.confirmed())`, 'lateness p50 ms': '-', 'p99 ms': '-', 'max ms': Math.round(r.confirmedMs), goal: '-', met: '-' });
  print(4);
  console.log(`  (log of ${r.events} events written in ${r.loadS.toFixed(1)} s; ${r.live} live grants after start)`);

  if (PG_GRANTS > 0) {
    const server = await startPostgres();
    try {
      const dbUrl = await server.createDatabase('bench_revoke');
      const pgSub = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl: dbUrl }), { logger, name: 'postgres' });
      try {
        // issued one at a time: concurrent GRANTs on one object can fail (SQLSTATE XX000) in the adapter
        const p = await lateness(pgSub, PG_GRANTS, 10_000, { grant: 'CONNECT ON DATABASE bench_revoke' }, 1);
        rows.push({ run: `postgres, ${p.grants} roles over 10 s`, 'lateness p50 ms': p.p50, 'p99 ms': p.p99, 'max ms': p.max, goal: '-', met: '-' });
        print();
      } finally {
        await pgSub.close?.();
      }
    } finally {
      await server.dispose();
    }
  }
  console.table(rows);
  console.log(
    `load after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
