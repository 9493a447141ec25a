import { afterEach, describe, expect, it, vi } from 'vitest';
import { SubstrateUnreachable, type Finding, type Substrate } from '@jit/substrates';
import { createMemorySubstrate } from '@jit/substrates/testing';
import { createRegistry, type Registry } from '@jit/observability';
import type { LoadedPolicy } from '@jit/policy';
import { createPolicyAudit, FINDINGS_METRIC, type PolicyAuditOptions } from './policy-audit';
import { capture, deferred, loadedOf, policyOf, withChecks } from './testing/audit-fixtures';

const POLICY = policyOf({
  'orders-vault': { substrate: 'vault:prod', scopes: { short: { tier: 'semi-destructive', mode: 'database', role: 'short' }, long: { tier: 'semi-destructive', mode: 'database', role: 'long' } } },
  'orders-db': { substrate: 'postgres', scopes: { write: { tier: 'reversible-write', grant: 'INSERT ON ALL TABLES IN SCHEMA public' } } },
});

/** A vault-like substrate: the role's max_ttl comes from `maxTtl`; every call recorded. */
function vaultLike(maxTtl: Record<string, number>, calls: Array<{ scope: unknown; ceiling: number }> = []): Substrate {
  return withChecks('vault:prod', {
    async checkTtl(scope, ceiling) {
      calls.push({ scope, ceiling });
      const role = (scope as { role: string }).role;
      const ttl = maxTtl[role] ?? 0;
      return ttl > ceiling
        ? [{ severity: 'warning', message: `vault:prod: database role ${role} has max_ttl ${ttl}s above the tier ceiling ${ceiling}s` }]
        : [{ severity: 'info', message: `role ${role} within` }];
    },
  });
}

function setup(substrates: Substrate[], extra: Partial<PolicyAuditOptions> = {}) {
  const { logger, lines, warnings } = capture();
  const registry: Registry = createRegistry();
  const audit = createPolicyAudit({ substrates: { list: () => substrates }, logger, registry, ...extra });
  const gauge = async () => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === FINDINGS_METRIC);
    return (m?.values ?? []).map((v): Record<string, string | number | undefined> => ({ ...v.labels, value: v.value }));
  };
  return { audit, lines, warnings, registry, gauge };
}

describe('policy audit', () => {
  it('runs checkTtl for every scope with its tier ceiling and checkDefaultIsReadOnly once per instance; reports findings as warnings and as the gauge', async () => {
    const calls: Array<{ scope: unknown; ceiling: number }> = [];
    let readOnlyCalls = 0;
    const pg = withChecks('postgres', {
      async checkDefaultIsReadOnly() {
        readOnlyCalls++;
        return [{ severity: 'error', message: 'db:5432/orders: default credential can insert into public.orders' }];
      },
    });
    const policy = policyOf({
      'orders-vault': { substrate: 'vault:prod', scopes: { short: { tier: 'semi-destructive', mode: 'database', role: 'short' }, long: { tier: 'semi-destructive', mode: 'database', role: 'long' } } },
      'orders-db': { substrate: 'postgres', scopes: { write: { tier: 'reversible-write', grant: 'INSERT ON TABLE orders' } } },
      'orders-db-2': { substrate: 'postgres', scopes: { ddl: { tier: 'semi-destructive', grant: 'CREATE ON SCHEMA public' } } },
    });
    const { audit, warnings, gauge } = setup([vaultLike({ short: 1800, long: 86400 }, calls), pg]);
    audit.schedule(loadedOf(policy, 'v1'));
    await audit.idle();

    // the substrate gets the scope without policy's `tier`, and the scope's tier ceiling
    expect(calls).toEqual([
      { scope: { mode: 'database', role: 'short' }, ceiling: 3600 },
      { scope: { mode: 'database', role: 'long' }, ceiling: 3600 },
    ]);
    expect(readOnlyCalls).toBe(1); // two targets on one instance: one probe
    const result = audit.lastAudit()!;
    expect(result).toMatchObject({ policyVersion: 'v1', checks: 3 });
    expect(result.findings).toEqual([
      { substrate: 'vault:prod', target: 'orders-vault', scope: 'short', check: 'ttl', severity: 'info', message: 'role short within' },
      { substrate: 'vault:prod', target: 'orders-vault', scope: 'long', check: 'ttl', severity: 'warning', message: expect.stringContaining('max_ttl 86400s') },
      { substrate: 'postgres', target: '*', check: 'default-read-only', severity: 'error', message: expect.stringContaining('can insert') },
    ]);
    const w = warnings();
    expect(w).toHaveLength(2);
    expect(w[0]).toMatchObject({
      substrate: 'vault:prod',
      target: 'orders-vault',
      scope: 'long',
      check: 'ttl',
      severity: 'warning',
      policyVersion: 'v1',
      msg: expect.stringContaining('max_ttl 86400s above the tier ceiling 3600s'),
    });
    expect(w[1]).toMatchObject({ substrate: 'postgres', target: '*', check: 'default-read-only', severity: 'error' });
    expect(await gauge()).toEqual(
      expect.arrayContaining([
        { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'warning', value: 1 },
        { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'info', value: 1 },
        { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'error', value: 0 },
        { substrate: 'postgres', target: '*', check: 'default-read-only', severity: 'error', value: 1 },
        { substrate: 'postgres', target: '*', check: 'default-read-only', severity: 'warning', value: 0 },
      ]),
    );
    expect(await gauge()).toHaveLength(6);
  });

  it("runs checkSetup once per instance a target uses (e.g. jit's Vault token has an entity) and reports it instance-wide", async () => {
    let setupCalls = 0;
    const vault = {
      ...vaultLike({ short: 1800, long: 3600 }),
      async checkSetup() {
        setupCalls++;
        return [{ severity: 'warning' as const, message: "vault:prod: jit's admin token belongs to identity entity e-1" }];
      },
    };
    const unused = withChecks('vault:stage', { checkSetup: async () => [{ severity: 'error', message: 'never asked' }] });
    const { audit, warnings, gauge } = setup([vault, unused]);
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    expect(setupCalls).toBe(1);
    expect(audit.lastAudit()!.findings.filter((f) => f.check === 'setup')).toEqual([
      { substrate: 'vault:prod', target: '*', check: 'setup', severity: 'warning', message: expect.stringContaining('identity entity e-1') },
    ]);
    expect(warnings().filter((w) => w.check === 'setup')).toEqual([expect.objectContaining({ substrate: 'vault:prod', target: '*', check: 'setup', severity: 'warning' })]);
    expect(await gauge()).toEqual(expect.arrayContaining([{ substrate: 'vault:prod', target: '*', check: 'setup', severity: 'warning', value: 1 }]));
  });

  it('a role within the ceiling is no warning and a substrate without checks is not called', async () => {
    const plain = createMemorySubstrate({ name: 'postgres', kind: 'postgres' });
    const { audit, warnings, gauge } = setup([vaultLike({ short: 1800, long: 3600 }), plain]);
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    expect(warnings()).toEqual([]);
    expect(audit.lastAudit()!.findings.map((f) => f.severity)).toEqual(['info', 'info']);
    expect((await gauge()).filter((g) => g.severity === 'warning').map((g) => g.value)).toEqual([0]);
    expect(plain.calls).toEqual([]);
  });

  it('a check that throws becomes an error finding naming the check, never a thrown error; foreign messages are not copied', async () => {
    const s = withChecks('vault:prod', {
      async checkTtl(scope) {
        if ((scope as { role: string }).role === 'short') throw SubstrateUnreachable('vault:prod', 'read database role');
        throw Object.assign(new Error('connect to postgres://admin:hunter2-secret@db/orders failed'), { code: 'ECONNREFUSED' });
      },
    });
    const { audit, lines } = setup([s, withChecks('postgres', {})]);
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    const [a, b] = audit.lastAudit()!.findings;
    expect(a).toMatchObject({ severity: 'error', check: 'ttl', scope: 'short', message: expect.stringMatching(/ttl check of orders-vault\/short failed: JIT_ERR_SUBSTRATE_UNREACHABLE/) });
    expect(b).toMatchObject({ severity: 'error', check: 'ttl', scope: 'long', message: 'vault:prod ttl check of orders-vault/long failed: Error ECONNREFUSED' });
    expect(JSON.stringify(lines)).not.toContain('hunter2-secret');
  });

  it('a check that hangs is abandoned at its timeout and becomes a finding; the next check still runs', async () => {
    const never = new Promise<Finding[]>(() => undefined);
    const s = withChecks('vault:prod', { checkTtl: async (scope) => ((scope as { role: string }).role === 'short' ? never : [{ severity: 'info', message: 'ok' }]) });
    const pg = withChecks('postgres', { checkDefaultIsReadOnly: () => never });
    const { audit, gauge } = setup([s, pg], { checkTimeoutMs: 50 });
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    expect(audit.lastAudit()!.findings).toEqual([
      expect.objectContaining({ scope: 'short', severity: 'error', message: expect.stringContaining('did not answer within 50 ms') }),
      expect.objectContaining({ scope: 'long', severity: 'info', message: 'ok' }),
      expect.objectContaining({ check: 'default-read-only', severity: 'error', message: expect.stringContaining('did not answer within 50 ms') }),
    ]);
    expect(await gauge()).toEqual(expect.arrayContaining([{ substrate: 'postgres', target: '*', check: 'default-read-only', severity: 'error', value: 1 }]));
  });

  it('runs once per policy version, one audit at a time; a version queued behind a running one is superseded by a newer one', async () => {
    const gates: Array<ReturnType<typeof deferred<Finding[]>>> = [];
    const seen: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const s = withChecks('vault:prod', {
      async checkTtl(scope) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        seen.push((scope as { role: string }).role);
        const d = deferred<Finding[]>();
        gates.push(d);
        try {
          return await d.promise;
        } finally {
          running--;
        }
      },
    });
    const policy = policyOf({ t: { substrate: 'vault:prod', scopes: { a: { tier: 'semi-destructive', mode: 'database', role: 'r' } } } });
    const { audit } = setup([s]);
    const release = async (n: number) => {
      await expect.poll(() => gates.length, { timeout: 10_000 }).toBe(n);
      gates[n - 1]!.resolve([{ severity: 'warning', message: `done ${n}` }]);
    };
    audit.schedule(loadedOf(policy, 'v1'));
    audit.schedule(loadedOf(policy, 'v1'));
    audit.schedule(loadedOf(policy, 'v2')); // queued behind v1
    audit.schedule(loadedOf(policy, 'v3')); // supersedes v2
    await release(1);
    await release(2);
    await audit.idle();
    expect(gates).toHaveLength(2);
    expect(maxRunning).toBe(1);
    expect(audit.resultFor('v1')?.findings[0]?.message).toBe('done 1');
    expect(audit.resultFor('v2')).toBeUndefined();
    expect(audit.lastAudit()).toMatchObject({ policyVersion: 'v3' });
    // seen versions are not audited again; the superseded one is, when it shows up again
    audit.schedule(loadedOf(policy, 'v1'));
    audit.schedule(loadedOf(policy, 'v3'));
    audit.schedule(loadedOf(policy, 'v2'));
    await release(3);
    await audit.idle();
    expect(gates).toHaveLength(3);
    expect(audit.lastAudit()).toMatchObject({ policyVersion: 'v2' });
  });

  it('the gauge shows the last audit only', async () => {
    const maxTtl: Record<string, number> = { short: 1800, long: 86400 };
    const { audit, gauge } = setup([vaultLike(maxTtl), withChecks('postgres', {})]);
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    expect((await gauge()).find((g) => g.severity === 'warning')?.value).toBe(1);
    const fixed = policyOf({ 'orders-vault': { substrate: 'vault:prod', scopes: { short: { tier: 'semi-destructive', mode: 'database', role: 'short' } } } });
    audit.schedule(loadedOf(fixed, 'v2'));
    await audit.idle();
    expect(await gauge()).toEqual(
      expect.arrayContaining([
        { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'warning', value: 0 },
        { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'info', value: 1 },
      ]),
    );
    expect((await gauge()).some((g) => g.target === 'orders-db')).toBe(false);
  });

  it('a target on an instance this process lacks is an error finding; hostile findings are bounded and scrubbed', async () => {
    const s = withChecks('vault:prod', {
      checkTtl: async () =>
        [
          { severity: 'critical', message: 'see postgres://jit:s3cr3t-pw@db:5432/orders\nnext line' },
          { severity: 'warning' },
          ...Array.from({ length: 100 }, () => ({ severity: 'info', message: 'x'.repeat(10_000) })),
        ] as unknown as Finding[],
    });
    const weird = withChecks('postgres', { checkDefaultIsReadOnly: async () => 'yes' as unknown as Finding[] });
    const policy = policyOf({
      v: { substrate: 'vault:prod', scopes: { a: { tier: 'semi-destructive', mode: 'database', role: 'r' } } },
      p: { substrate: 'postgres', scopes: { w: { tier: 'reversible-write', grant: 'INSERT ON TABLE t' } } },
      g: { substrate: 'gcp-iam:prod', scopes: { r: { tier: 'reversible-write', serviceAccount: 'x' } } },
    });
    const { audit, lines } = setup([s, weird]);
    audit.schedule(loadedOf(policy, 'v1'));
    await audit.idle();
    const f = audit.lastAudit()!.findings;
    const ttl = f.filter((x) => x.check === 'ttl');
    expect(ttl).toHaveLength(51);
    expect(ttl[0]).toMatchObject({ severity: 'error', message: 'see postgres://jit:[redacted]@db:5432/orders next line' });
    expect(ttl[1]).toMatchObject({ severity: 'warning', message: expect.stringContaining('without a message') });
    expect(ttl[2]!.message.length).toBeLessThanOrEqual(501);
    expect(ttl[50]).toMatchObject({ severity: 'warning', message: expect.stringContaining('answered 102 findings') });
    expect(f.find((x) => x.check === 'default-read-only')).toMatchObject({ severity: 'error', message: expect.stringContaining('not a list of findings') });
    expect(f.find((x) => x.check === 'instance')).toMatchObject({ substrate: 'gcp-iam:prod', target: 'g', severity: 'error', message: expect.stringContaining('does not configure') });
    expect(JSON.stringify(lines)).not.toContain('s3cr3t-pw');
  });

  it('without a registry it only logs; without substrates it waits for them; malformed schedule calls are ignored; close stops it', async () => {
    const { logger, warnings } = capture();
    const link: { lookup?: { list(): Substrate[] } } = {};
    const audit = createPolicyAudit({ substrates: () => link.lookup, logger });
    audit.schedule(loadedOf(POLICY, 'v1'));
    await audit.idle();
    expect(audit.lastAudit()).toBeUndefined();
    audit.schedule(undefined as unknown as LoadedPolicy);
    audit.schedule({ version: 42 } as unknown as LoadedPolicy);
    await audit.idle();
    expect(audit.lastAudit()).toBeUndefined();
    const instances = [vaultLike({ long: 86400 }), withChecks('postgres', {})];
    link.lookup = { list: () => instances };
    audit.schedule(loadedOf(POLICY, 'v1')); // not audited before (there was nothing to audit with)
    await audit.idle();
    expect(warnings().map((w) => w.scope)).toEqual(['long']);
    // a policy object without targets (never from the store, but) is logged, never thrown
    audit.schedule({ version: 'broken', policy: {} } as unknown as LoadedPolicy);
    await audit.idle();
    expect(warnings().at(-1)).toMatchObject({ policyVersion: 'broken', err: 'TypeError', msg: 'substrate audit failed' });
    expect(audit.lastAudit()).toMatchObject({ policyVersion: 'v1' });
    audit.close();
    audit.schedule(loadedOf(POLICY, 'v9'));
    await audit.idle();
    expect(audit.lastAudit()).toMatchObject({ policyVersion: 'v1' });
  });

  it('stops when its substrates are closed under it (the process is stopping): no further check, no result', async () => {
    const first = deferred<Finding[]>();
    const roles: string[] = [];
    const s = withChecks('vault:prod', {
      checkTtl: (scope) => {
        roles.push((scope as { role: string }).role);
        return first.promise;
      },
    });
    const open = [s];
    const { logger, warnings } = capture();
    const stoppable = createPolicyAudit({ substrates: { list: () => open }, logger });
    stoppable.schedule(loadedOf(POLICY, 'v1'));
    await expect.poll(() => roles.length, { timeout: 10_000 }).toBe(1);
    open.length = 0; // registry.closeAll() empties it
    first.resolve([]);
    await stoppable.idle();
    expect(roles).toEqual(['short']);
    expect(stoppable.lastAudit()).toBeUndefined();
    expect(warnings()).toEqual([]);
  });
  describe('looks again later (a finding can appear without a new policy: an IAM quota filling up)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('re-audits the version in force every repeatEveryMs and the gauge follows what the substrate says now', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      let maxTtl = 1800;
      const s = withChecks('vault:prod', {
        async checkTtl(_scope, ceiling) {
          return maxTtl > ceiling ? [{ severity: 'warning', message: `max_ttl ${maxTtl}s above ${ceiling}s` }] : [];
        },
      });
      const { audit, gauge } = setup([s], { repeatEveryMs: 60_000 });
      audit.schedule(loadedOf(POLICY, 'v1'));
      await audit.idle();
      const ttl = () =>
        audit
          .lastAudit()!
          .findings.filter((f) => f.check === 'ttl')
          .map((f) => f.severity);
      expect(ttl()).toEqual([]);

      maxTtl = 86_400; // someone raised the role's max_ttl; the policy did not change
      vi.advanceTimersByTime(60_000);
      await audit.idle();
      expect(audit.lastAudit()).toMatchObject({ policyVersion: 'v1' });
      expect(ttl()).toEqual(['warning', 'warning']);
      expect(await gauge()).toEqual(expect.arrayContaining([{ substrate: 'vault:prod', target: 'orders-vault', check: 'ttl', severity: 'warning', value: 2 }]));
      audit.close();
    });

    it('stops looking once closed', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      let calls = 0;
      const s = withChecks('vault:prod', {
        async checkTtl() {
          calls++;
          return [];
        },
      });
      const { audit } = setup([s], { repeatEveryMs: 60_000 });
      audit.schedule(loadedOf(POLICY, 'v1'));
      await audit.idle();
      expect(calls).toBe(2);
      audit.close();
      vi.advanceTimersByTime(10 * 60_000);
      await audit.idle();
      expect(calls).toBe(2);
    });
  });
});
