// The policy ratifier's metrics: refused policy changes, bypasses, and whether the default branch's
// policy.yaml is unratified or no policy is in force at all.
import type { Registry } from '@jit/observability';
import { Counter, Gauge } from 'prom-client';

export function createRatifierMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  const refused = new Counter({
    name: 'jit_gate_policy_changes_refused_total',
    help: 'Policy-change MRs merged without passing verification (policyApprovers approvals, content, validity): version refused',
    registers,
  });
  const bypasses = new Counter({
    name: 'jit_gate_policy_bypasses_total',
    help: 'policy.yaml changes on the default branch outside a policy-change MR (direct push, mixed MR, force-push) reported by this gate',
    labelNames: ['how'],
    registers,
  });
  const unratified = new Gauge({
    name: 'jit_gate_policy_unratified',
    help: '1 while policy.yaml on the default branch is a version that is not in force (never ratified) or is missing; the last ratified policy is used meanwhile',
    registers,
  });
  const noPolicy = new Gauge({
    name: 'jit_gate_policy_missing',
    help: '1 while no policy is in force (nothing ratified and nothing pinned, or the ratified version cannot be read): no request is judged',
    registers,
  });
  return { refused, bypasses, unratified, noPolicy };
}
