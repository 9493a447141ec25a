// Metrics of the notifier and the sink. Labels carry channel names (from the policy) and error
// codes, never a URL or event content. One instance per registry (the all-in-one shares one).
import { Counter, Gauge, type Registry } from 'prom-client';

function single<T>(registry: Registry | undefined, name: string, make: (registers: Registry[]) => T): T {
  const existing = registry?.getSingleMetric(name);
  return (existing as T | undefined) ?? make(registry ? [registry] : []);
}

export interface DeliveryMetrics {
  /** `outcome`: delivered | dead | duplicate. */
  deliveries: Counter<'consumer' | 'channel' | 'outcome'>;
  /** Each failed attempt, by error code. */
  failures: Counter<'consumer' | 'channel' | 'code'>;
  /** Seconds between an event's time and when this consumer finished with it. */
  lag: Gauge<'consumer'>;
}

export function deliveryMetrics(registry: Registry | undefined): DeliveryMetrics {
  return {
    deliveries: single(
      registry,
      'jit_notify_deliveries_total',
      (registers) =>
        new Counter({
          name: 'jit_notify_deliveries_total',
          help: 'Messages the notifier (consumer=notifier) or the HTTP sink (consumer=sink) delivered, dead-lettered or skipped as already delivered',
          labelNames: ['consumer', 'channel', 'outcome'],
          registers,
        }),
    ),
    failures: single(
      registry,
      'jit_notify_failures_total',
      (registers) => new Counter({ name: 'jit_notify_failures_total', help: 'Failed delivery attempts by error code (each retry counts)', labelNames: ['consumer', 'channel', 'code'], registers }),
    ),
    lag: single(
      registry,
      'jit_notify_lag_seconds',
      (registers) => new Gauge({ name: 'jit_notify_lag_seconds', help: 'Age of the last event the consumer finished with (its time to now), seconds', labelNames: ['consumer'], registers }),
    ),
  };
}

/** Seconds since a CloudEvent's time (0 when it has none). */
export function ageSeconds(time: unknown, now = Date.now()): number {
  const t = typeof time === 'string' ? Date.parse(time) : NaN;
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : 0;
}
