// Fixtures shared by the wiring lib's unit tests (not exported): policies, substrates with checks,
// a log capture and hand-settled promises.
import { Writable } from 'node:stream';
import { createLogger } from '@jit/observability';
import type { LoadedPolicy, PolicyModel } from '@jit/policy';
import type { Substrate } from '@jit/substrates';
import { createMemorySubstrate } from '@jit/substrates/testing';

/** A promise the test settles by hand. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

export function capture() {
  const lines: Array<Record<string, any>> = [];
  const logger = createLogger({ name: 't', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  return { logger, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

type Checks = Partial<Pick<Substrate, 'checkTtl' | 'checkDefaultIsReadOnly' | 'checkSetup'>>;
export const withChecks = (name: string, checks: Checks): Substrate => ({ ...createMemorySubstrate({ kind: name.split(':')[0], name }), ...checks });

export function policyOf(targets: Record<string, { substrate: string; scopes: Record<string, { tier: string; [k: string]: unknown }> }>): PolicyModel {
  return {
    tiers: [
      { name: 'reversible-write', rank: 0, ttlMaxSeconds: 7200, approvals: 1, approvers: { anyHuman: true, groups: [], users: [] }, requireRollbackPlan: false },
      { name: 'semi-destructive', rank: 1, ttlMaxSeconds: 3600, approvals: 2, approvers: { anyHuman: true, groups: [], users: [] }, requireRollbackPlan: true },
    ],
    agents: [],
    auditors: { groups: [], users: [] },
    recipients: {},
    policyApprovers: { anyHuman: false, groups: ['security'], users: [], approvals: 2 },
    targets: Object.fromEntries(
      Object.entries(targets).map(([name, t]) => [
        name,
        {
          name,
          substrate: t.substrate,
          connection: {},
          scopes: Object.fromEntries(Object.entries(t.scopes).map(([sn, raw]) => [sn, { name: sn, tier: raw.tier, raw }])),
        },
      ]),
    ),
  };
}

export const loadedOf = (policy: PolicyModel, version: string): LoadedPolicy => ({ policy, version, commitId: 'c'.repeat(40), loadedAt: '2026-01-01T00:00:00Z' });
