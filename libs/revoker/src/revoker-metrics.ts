// The revoker's metrics: revocations by outcome, failing and live grants, lateness, the sweep
// heartbeat, and refused events.
import { refusedEventsCounter } from '@jit/observability';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LiveGrant } from './revoker-types';

export interface RevokerMetrics {
  refused: ReturnType<typeof refusedEventsCounter>;
  revocations: Counter<'outcome' | 'substrate'>;
  lateness: Histogram;
  lastSweep: Gauge;
  failing: Gauge;
  liveGrants: Gauge;
}

export function createRevokerMetrics(registry: Registry | undefined, live: ReadonlyMap<string, LiveGrant>): RevokerMetrics {
  const registers = registry ? [registry] : [];
  const refused = refusedEventsCounter(registry);
  const revocations = new Counter({
    name: 'jit_revocations_total',
    help: 'Revocations by outcome (revoked, expired, failed, orphan).',
    labelNames: ['outcome', 'substrate'],
    registers,
  });
  const failing = new Gauge({
    name: 'jit_revocations_failing',
    help: 'Grants whose revocation is failing and being retried.',
    registers,
    collect() {
      let n = 0;
      for (const g of live.values()) if (g.attempt > 0) n++;
      this.set(n);
    },
  });
  const liveGrants = new Gauge({
    name: 'jit_live_grants',
    help: 'Live grants scheduled for revocation on this replica.',
    registers,
    collect() {
      this.set(live.size);
    },
  });
  const lateness = new Histogram({
    name: 'jit_expiry_to_revoked_seconds',
    help: 'Revocation lateness: revoked time minus the time it was due (expiry or request).',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
    registers,
  });
  // The heartbeat: the alert JitRevokerDown fires when no revoker has completed a sweep for a
  // while. Only a completed sweep (reconciliation fired, orphans looked for) moves it, so a revoker
  // that is up but cannot reconcile (bus or substrate registry unreachable) also stops moving it.
  const lastSweep = new Gauge({
    name: 'jit_revoker_last_sweep_timestamp_seconds',
    help: 'Unix time of the last completed reconciliation + orphan sweep (every JIT_SWEEP_INTERVAL_MS). 0 until the first.',
    registers,
  });
  return { refused, revocations, lateness, lastSweep, failing, liveGrants };
}
