// prom-client metrics of the webhook intake: one counter by outcome and one latency histogram.
import { Counter, Histogram, type Registry } from 'prom-client';

export const DELIVERY_OUTCOMES = ['accepted', 'duplicate', 'ignored', 'unauthorized', 'malformed', 'too_large', 'unsupported_media_type', 'unavailable'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

export interface IngestMetrics {
  deliveries: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
}

/** Registers (or reuses, when the plugin is registered again on the same registry) the ingest metrics. */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  const deliveries =
    (registry.getSingleMetric('jit_webhook_deliveries_total') as Counter<'outcome'> | undefined) ??
    new Counter({
      name: 'jit_webhook_deliveries_total',
      help: 'GitLab webhook deliveries by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric('jit_webhook_duration_seconds') as Histogram<'outcome'> | undefined) ??
    new Histogram({
      name: 'jit_webhook_duration_seconds',
      help: 'Time from request to answer for GitLab webhook deliveries',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  // Every outcome is exported from the start, so alerts on rate() see a zero, not a gap.
  for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0);
  return { deliveries, duration };
}
