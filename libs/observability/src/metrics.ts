// One prom-client registry per process (tests create their own); default Node metrics on request.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(options: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: options.prefix });
  return registry;
}

export { Registry };

/**
 * `jit_events_refused_total{consumer,type,reason}`: events a consumer would not act on because they
 * were not signed by a producer it trusts. One counter per registry, shared by the consumers of an
 * all-in-one process (each names itself in `consumer`).
 */
export function refusedEventsCounter(registry: Registry | undefined): Counter<'consumer' | 'type' | 'reason'> {
  const name = 'jit_events_refused_total';
  const existing = registry?.getSingleMetric(name);
  if (existing) return existing as Counter<'consumer' | 'type' | 'reason'>;
  return new Counter({
    name,
    help: 'Events refused because no trusted producer signed them (unsigned, untrusted key, bad signature), by consumer, type and reason.',
    labelNames: ['consumer', 'type', 'reason'],
    registers: registry ? [registry] : [],
  });
}
