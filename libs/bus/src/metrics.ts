// Bus counters on a caller's prom-client registry. Labels are topic, group and error code only:
// never a key or anything from an event.
import { Counter, type Registry } from 'prom-client';
import type { DeliveryOutcome } from './delivery';

export interface BusMetrics {
  published(topic: string, count?: number): void;
  publishFailed(topic: string, code: string): void;
  delivered(topic: string, groupId: string, outcome: DeliveryOutcome['kind'] | 'malformed'): void;
}

const NOOP: BusMetrics = { published: () => undefined, publishFailed: () => undefined, delivered: () => undefined };

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter {
  // Two buses on one registry share the series instead of failing to register twice.
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function createBusMetrics(registry: Registry | undefined, kind: 'kafka' | 'embedded'): BusMetrics {
  if (!registry) return NOOP;
  const published = counter(registry, 'jit_bus_published_total', 'Events acknowledged by the bus.', ['bus', 'topic']);
  const failed = counter(registry, 'jit_bus_publish_failures_total', 'Publishes that were not acknowledged.', ['bus', 'topic', 'code']);
  const delivered = counter(registry, 'jit_bus_deliveries_total', 'Messages taken through a handler: done, dead (dead-lettered), aborted (stopped mid-retry), malformed.', [
    'bus',
    'topic',
    'group',
    'outcome',
  ]);
  return {
    published: (topic, count = 1) => published.inc({ bus: kind, topic }, count),
    publishFailed: (topic, code) => failed.inc({ bus: kind, topic, code }),
    delivered: (topic, group, outcome) => delivered.inc({ bus: kind, topic, group, outcome }),
  };
}
