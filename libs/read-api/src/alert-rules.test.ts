// deploy/prometheus/jit-alerts.yaml cannot drift from the code: every metric an alert expression
// names is registered by this lib (the read model every distributed issuer and the all-in-one
// host) or by a lib listed below, whose distributed app and the all-in-one both compose it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLedger } from '@jit/ledger';
import { createRegistry } from '@jit/observability';
import { REPO_ROOT } from '@jit/testing';
import { createElevationMetrics, ELEVATION_METRIC_NAMES } from './elevation-metrics';

const ALERTS = 'deploy/prometheus/jit-alerts.yaml';

/** Metrics registered by other libs: the file that registers each, and the distributed app that composes it. */
const ELSEWHERE: Record<string, { source: string; lib: string; app: string }> = {
  jit_revocations_failing: { source: 'libs/revoker/src/revoker-metrics.ts', lib: '@jit/revoker', app: 'apps/revoker/src/server.ts' },
  jit_expiry_to_revoked_seconds: { source: 'libs/revoker/src/revoker-metrics.ts', lib: '@jit/revoker', app: 'apps/revoker/src/server.ts' },
  jit_revoker_last_sweep_timestamp_seconds: { source: 'libs/revoker/src/revoker-metrics.ts', lib: '@jit/revoker', app: 'apps/revoker/src/server.ts' },
  jit_merge_to_granted_seconds: { source: 'libs/issuer/src/issuer-metrics.ts', lib: '@jit/issuer', app: 'apps/issuer/src/server.ts' },
  jit_webhook_deliveries_total: { source: 'libs/ingest/src/ingest-metrics.ts', lib: '@jit/ingest', app: 'apps/webhook-ingest/src/main.ts' },
  jit_substrate_findings: { source: 'libs/substrates/wiring/src/policy-audit.ts', lib: '@jit/substrate-wiring', app: 'apps/issuer/src/server.ts' },
  jit_gate_policy_unratified: { source: 'libs/gate/src/policy-ratifier-metrics.ts', lib: '@jit/gate', app: 'apps/approval-gate/src/server.ts' },
  jit_gate_policy_missing: { source: 'libs/gate/src/policy-ratifier-metrics.ts', lib: '@jit/gate', app: 'apps/approval-gate/src/server.ts' },
  // one counter shared by the consumers of a process (issuer, revoker, read model)
  jit_events_refused_total: { source: 'libs/observability/src/metrics.ts', lib: '@jit/issuer', app: 'apps/issuer/src/server.ts' },
};
/** Processes that host the read model with its counters. */
const READ_MODEL_HOSTS = ['apps/issuer/src/server.ts', 'apps/jit/src/server.ts'];
const ALL_IN_ONE = 'apps/jit/src/server.ts';

const PROMQL_WORDS = new Set([
  ...['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group'],
  ...['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'abs', 'absent', 'absent_over_time', 'changes', 'resets'],
  ...['max_over_time', 'min_over_time', 'avg_over_time', 'sum_over_time', 'count_over_time', 'last_over_time', 'clamp_min', 'clamp_max', 'vector', 'scalar', 'time'],
  ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset'],
]);

/** Metric names an expression selects (label matchers, grouping labels, ranges and numbers removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b\d+(\.\d+)?([eE][+-]?\d+)?\b/g, ' ');
  const names = new Set<string>();
  for (const [word] of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (PROMQL_WORDS.has(word)) continue;
    names.add(word.replace(/_(bucket|count|sum)$/, ''));
  }
  return [...names];
}

function read(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

const rules = (parse(read(ALERTS)) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);

describe(ALERTS, () => {
  it('has alert rules with expressions', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(typeof r.expr, r.alert).toBe('string');
  });

  it('the expression parser finds what an expression selects (and only that)', () => {
    expect(metricNames('histogram_quantile(0.99, sum(rate(jit_x_seconds_bucket[15m])) by (le)) > 60')).toEqual(['jit_x_seconds']);
    expect(metricNames('increase(jit_a_total{outcome="unavailable"}[5m]) > 0 and on (instance) up == 1')).toEqual(['jit_a_total', 'up']);
  });

  const registered = (() => {
    const registry = createRegistry();
    createElevationMetrics(registry, createLedger());
    return new Set(registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name));
  })();

  it('registers at runtime every name this lib claims', () => {
    expect([...registered].sort()).toEqual([...ELEVATION_METRIC_NAMES].sort());
  });

  for (const rule of rules) {
    it(`${rule.alert}: every metric is exported by a distributed process and by the all-in-one`, () => {
      const names = metricNames(rule.expr);
      expect(names.length, rule.expr).toBeGreaterThan(0);
      for (const name of names) {
        if (registered.has(name)) {
          // the read model's counters: both hosts start the projection with their registry
          for (const host of READ_MODEL_HOSTS) {
            const call = /startLedgerProjection\(\{[\s\S]*?\}\);/.exec(read(host))?.[0] ?? '';
            expect(call, `${host} must start the ledger projection with its registry (${name})`).toMatch(/\bregistry\b/);
          }
          continue;
        }
        const where = ELSEWHERE[name];
        expect(where, `${name} (alert ${rule.alert}) is registered nowhere jit knows of; add it to a lib and list it here`).toBeDefined();
        // registered by literal name, or through a constant holding it
        const source = read(where!.source);
        expect(source.includes(`name: '${name}'`) || source.includes(`= '${name}';`), `${where!.source} registers ${name}`).toBe(true);
        for (const app of [where!.app, ALL_IN_ONE]) expect(read(app), `${app} composes ${where!.lib}`).toContain(`from '${where!.lib}'`);
      }
    });
  }
});
