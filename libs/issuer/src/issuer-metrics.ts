// The issuer's metrics: grants by outcome, merge-to-granted time, substrate issue durations.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface IssuerMetrics {
  grants: Counter<'outcome' | 'substrate'>;
  mergeToGranted: Histogram;
  issueDuration: Histogram<'substrate'>;
}

export function createIssuerMetrics(registry?: Registry): IssuerMetrics {
  const registers = registry ? [registry] : [];
  return {
    grants: new Counter({
      name: 'jit_grants_total',
      help: 'Grants by outcome (granted, failed, duplicate).',
      labelNames: ['outcome', 'substrate'],
      registers,
    }),
    mergeToGranted: new Histogram({
      name: 'jit_merge_to_granted_seconds',
      help: 'Time from the approved event (merge verified) to the granted event.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    issueDuration: new Histogram({
      name: 'jit_issue_duration_seconds',
      help: 'Duration of substrate.issue calls.',
      labelNames: ['substrate'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
  };
}
