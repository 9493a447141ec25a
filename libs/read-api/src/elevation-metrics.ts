// SLO counters over the elevation log, kept by whichever process hosts the read model (the issuer
// in distributed mode, apps/jit embedded), so deploy/prometheus/jit-alerts.yaml works in both.
// They count every distinct event of jit.elevations.v1 this process has applied — the history
// replayed at start included — so a bypass published while the process was down still moves the
// counter after its restart. Every replica sees the whole log: aggregate replicas with max(), not sum().
import { Counter, Gauge, type Registry } from 'prom-client';
import { EVENT_TYPES, type CloudEventJson } from '@jit/contracts';
import { ELEVATION_STATES, type Ledger } from '@jit/ledger';

/** Metric names this module registers (the alert-rule drift test reads them). */
export const ELEVATION_METRIC_NAMES = ['jit_elevation_events_total', 'jit_rejections_total', 'jit_bypasses_total', 'jit_policy_bypasses_total', 'jit_elevations'] as const;

export interface ElevationMetrics {
  /** Counts one newly applied (never a duplicate) event. */
  count(event: CloudEventJson): void;
}

const KNOWN_TYPES = new Set<string>(Object.values(EVENT_TYPES));

/** `dev.jit.elevation.bypass.detected.v1` -> `elevation.bypass.detected` (bounded: unknown types are `other`). */
export function eventTypeLabel(type: string): string {
  return KNOWN_TYPES.has(type) ? type.replace(/^dev\.jit\.|\.v1$/g, '') : 'other';
}

function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * Registers (or reuses, when called again on the same registry) the elevation outcome metrics.
 * `ledger`, when given, also backs the `jit_elevations{state}` gauge, read at scrape time.
 */
export function createElevationMetrics(registry: Registry, ledger?: Ledger): ElevationMetrics {
  const events = reuse(
    registry,
    'jit_elevation_events_total',
    () =>
      new Counter({
        name: 'jit_elevation_events_total',
        help: 'Distinct events of jit.elevations.v1 applied by this process (history included), by type.',
        labelNames: ['type'],
        registers: [registry],
      }),
  );
  // Every type is exported from the start, so increase() sees a zero, not a gap.
  for (const type of Object.values(EVENT_TYPES)) events.inc({ type: eventTypeLabel(type) }, 0);
  const rejections = reuse(
    registry,
    'jit_rejections_total',
    () => new Counter({ name: 'jit_rejections_total', help: 'Elevation requests rejected (elevation.rejected events).', registers: [registry] }),
  );
  const bypasses = reuse(
    registry,
    'jit_bypasses_total',
    () =>
      new Counter({
        name: 'jit_bypasses_total',
        help: 'Elevation MRs merged without verified approvals (elevation.bypass.detected events); no credential was issued.',
        registers: [registry],
      }),
  );
  const policyBypasses = reuse(
    registry,
    'jit_policy_bypasses_total',
    () =>
      new Counter({
        name: 'jit_policy_bypasses_total',
        help: 'policy.yaml changes never adopted: pushed or merged outside a verified policy merge (policy.bypass.detected), or merged without passing verification (policy.refused).',
        registers: [registry],
      }),
  );
  if (ledger && !registry.getSingleMetric('jit_elevations')) {
    new Gauge({
      name: 'jit_elevations',
      help: 'Elevations in the read model by current state.',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const byState = ledger.stats().byState;
        for (const state of ELEVATION_STATES) this.set({ state }, byState[state] ?? 0);
      },
    });
  }
  return {
    count(event) {
      events.inc({ type: eventTypeLabel(event.type) });
      if (event.type === EVENT_TYPES.rejected) rejections.inc();
      if (event.type === EVENT_TYPES.bypassDetected) bypasses.inc();
      if (event.type === EVENT_TYPES.policyBypassDetected || event.type === EVENT_TYPES.policyRefused) policyBypasses.inc();
    },
  };
}
