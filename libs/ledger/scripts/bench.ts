// Throughput of the fold: npx tsx --tsconfig tsconfig.base.json libs/ledger/scripts/bench.ts [events]
// Prints events/s for validation alone and for ledger.apply (validation + fold), and replay memory.
import { EVENT_TYPES, parseElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createLedger } from '../src/ledger';

const total = Number(process.argv[2] ?? 40_000);
const events: AnyElevationEvent[] = [];
for (let i = 1; events.length < total; i++) {
  const elevationId = `gl-1-${i}`;
  const grantId = `${elevationId}-abcdef0`;
  const handle = { kind: 'postgres', grantId, ref: { role: `jit_${i}` }, expiresAt: '2026-01-01T00:30:00.000Z' };
  const base = { elevationId, projectId: 1, mrIid: i };
  events.push(
    sampleEvent(EVENT_TYPES.requested, base),
    sampleEvent(EVENT_TYPES.approvalRecorded, base),
    sampleEvent(EVENT_TYPES.approved, { ...base, grantId }),
    sampleEvent(EVENT_TYPES.granted, { elevationId, grantId, handle }),
    sampleEvent(EVENT_TYPES.revoked, { elevationId, grantId, handle }),
  );
}
const wire = events.map((e) => JSON.parse(JSON.stringify(e)) as AnyElevationEvent);

let t = performance.now();
for (const e of wire) parseElevationEvent(e);
const parseMs = performance.now() - t;

const heap0 = process.memoryUsage().heapUsed;
const ledger = createLedger();
t = performance.now();
for (const e of wire) ledger.apply(e);
const applyMs = performance.now() - t;
const heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;

const rate = (ms: number) => Math.round((wire.length / ms) * 1000);
console.log(`${wire.length} events, ${ledger.stats().elevations} elevations`);
console.log(`parseElevationEvent: ${rate(parseMs)} events/s`);
console.log(`ledger.apply:        ${rate(applyMs)} events/s (heap +${heapMiB.toFixed(0)} MiB)`);
