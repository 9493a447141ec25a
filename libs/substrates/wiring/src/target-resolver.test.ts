import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import type { LoadedPolicy, PolicyModel } from '@jit/policy';
import { createRegistry } from '@jit/observability';
import type { Finding } from '@jit/substrates';
import { FINDINGS_METRIC } from './policy-audit';
import { createSubstrates } from './substrate-settings';
import { createPolicyTargetResolver } from './target-resolver';
import { capture, deferred, loadedOf, policyOf, withChecks } from './testing/audit-fixtures';
import { FIXTURE_RECIPIENT } from '@jit/contracts/testing';

const Unavailable = defineError<[]>('JIT_ERR_TEST_UNAVAILABLE', 'gitlab down', { retriable: true });
const Missing = defineError<[]>('JIT_ERR_TEST_MISSING', 'no policy.yaml at that commit');

const policy = {
  tiers: [],
  agents: [],
  recipients: { dev: [FIXTURE_RECIPIENT] },
  policyApprovers: { approvals: 2 },
  targets: {
    'orders-db': {
      name: 'orders-db',
      substrate: 'postgres:orders',
      connection: { secretRef: 'env:ORDERS_DB_ADMIN_URL', sslmode: 'require' },
      scopes: { write: { name: 'write', tier: 'reversible-write', raw: { tier: 'reversible-write', grant: 'INSERT ON TABLE orders' } } },
    },
  },
} as unknown as PolicyModel;

function setup(answers: Array<LoadedPolicy | Error>, env: Record<string, string | undefined> = { ORDERS_DB_ADMIN_URL: 'postgres://admin:s3cret-admin-pw@db/orders' }) {
  const refs: string[] = [];
  const lines: string[] = [];
  const logger = createLogger({ name: 't', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
  const resolver = createPolicyTargetResolver({
    policyStore: {
      async atVersion(version) {
        refs.push(version);
        const next = answers.shift();
        if (!next) throw new Error('no more answers');
        if (next instanceof Error) throw next;
        return next;
      },
    },
    env,
    logger,
    baseMs: 1,
  });
  return { resolver, refs, lines };
}

const loaded = (version: string): LoadedPolicy => ({ policy, version, commitId: 'c'.repeat(40), loadedAt: '2026-01-01T00:00:00Z' });
const input = { target: 'orders-db', scope: 'write', policyVersion: 'v1', mergeSha: 'm'.repeat(40) };

describe('policy target resolver', () => {
  it('reads the ratified version approved against (never the merge commit) and returns the instance, the scope without its tier and the resolved connection', async () => {
    const { resolver, refs, lines } = setup([loaded('v1')]);
    expect(await resolver.resolve(input)).toEqual({
      substrate: 'postgres:orders',
      scope: { grant: 'INSERT ON TABLE orders' },
      connection: { url: 'postgres://admin:s3cret-admin-pw@db/orders', sslmode: 'require' },
      recipients: { dev: [FIXTURE_RECIPIENT] },
    });
    expect(refs).toEqual([input.policyVersion]);
    expect(lines.join('')).not.toContain('s3cret-admin-pw');
  });

  it('refuses when the policy read is not the version approved against', async () => {
    const { resolver, lines } = setup([loaded('v2')]);
    expect(await resolver.resolve(input)).toBeUndefined();
    expect(lines.join('')).toMatch(/not the version approved against/);
  });

  it('refuses unknown targets and scopes', async () => {
    const { resolver } = setup([loaded('v1'), loaded('v1')]);
    expect(await resolver.resolve({ ...input, target: 'nope' })).toBeUndefined();
    expect(await resolver.resolve({ ...input, scope: 'ddl' })).toBeUndefined();
  });

  it('retries a retriable policy read, but not a permanent one', async () => {
    const { resolver, refs } = setup([Unavailable(), Unavailable(), loaded('v1')]);
    expect(await resolver.resolve(input)).toBeDefined();
    expect(refs).toHaveLength(3);
    const permanent = setup([Missing(), loaded('v1')]);
    await expect(permanent.resolver.resolve(input)).rejects.toMatchObject({ code: 'JIT_ERR_TEST_MISSING' });
    expect(permanent.refs).toHaveLength(1);
    const down = setup([Unavailable(), Unavailable(), Unavailable(), loaded('v1')]);
    await expect(down.resolver.resolve(input)).rejects.toMatchObject({ code: 'JIT_ERR_TEST_UNAVAILABLE' });
  });

  it('an unset secret reference is an error naming the variable, not a value', async () => {
    const { resolver } = setup([loaded('v1')], {});
    await expect(resolver.resolve(input)).rejects.toThrow(/connection.secretRef names env:ORDERS_DB_ADMIN_URL, which is not set/);
  });
});

describe('policy target resolver: the background substrate audit', () => {
  const vaultPolicy = policyOf({
    'orders-vault': {
      substrate: 'vault:prod',
      scopes: { rw: { tier: 'semi-destructive', mode: 'database', role: 'orders_rw' }, ro: { tier: 'semi-destructive', mode: 'database', role: 'orders_ro' } },
    },
  });
  const vaultInput = { target: 'orders-vault', scope: 'rw', policyVersion: 'v1', mergeSha: 'a'.repeat(40), grantId: `gl-7-3-${'a'.repeat(40)}`, elevationId: 'gl-7-3' };

  it('an issue resolves while the audit it started is still pending; the audit then reports', async () => {
    const check = deferred<Finding[]>();
    let started = 0;
    const vault = withChecks('vault:prod', {
      checkTtl: () => {
        started++;
        return check.promise;
      },
    });
    const { logger, warnings } = capture();
    const registry = createRegistry();
    const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') }, env: {}, logger, substrates: { list: () => [vault] }, registry });
    const resolved = await resolver.resolve(vaultInput);
    expect(resolved).toEqual({ substrate: 'vault:prod', scope: { mode: 'database', role: 'orders_rw' }, connection: {}, recipients: {} });
    await expect.poll(() => started, { timeout: 10_000 }).toBe(1);
    expect(resolver.lastAudit()).toBeUndefined(); // the check is still pending, the issue went ahead
    // a second issue while the audit runs starts no second audit of the same version
    expect(await resolver.resolve({ ...vaultInput, scope: 'ro' })).toBeDefined();
    check.resolve([{ severity: 'warning', message: 'vault:prod: database role orders_rw has max_ttl 86400s above the tier ceiling 3600s' }]);
    await resolver.auditIdle();
    expect(started).toBe(2); // rw and ro, once each
    expect(resolver.lastAudit()).toMatchObject({ policyVersion: 'v1', checks: 2 });
    expect(
      warnings()
        .filter((w) => w.check === 'ttl')
        .map((w) => w.scope),
    ).toEqual(['rw', 'ro']);
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === FINDINGS_METRIC);
    expect(metric?.values.find((v) => v.labels.severity === 'warning')).toMatchObject({ value: 2, labels: { substrate: 'vault:prod', target: 'orders-vault', check: 'ttl' } });
  });

  it('at issue time, a scope whose role max_ttl is known to exceed the ceiling is logged with the grant id; the issue is not blocked', async () => {
    const vault = withChecks('vault:prod', {
      checkTtl: async (scope) =>
        (scope as { role: string }).role === 'orders_rw'
          ? [{ severity: 'warning', message: 'database role orders_rw has max_ttl 86400s above the tier ceiling 3600s' }]
          : [{ severity: 'info', message: 'within' }],
    });
    const { logger, lines } = capture();
    const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') }, env: {}, logger, substrates: { list: () => [vault] } });
    await resolver.resolve(vaultInput); // first sight of v1: nothing known yet
    await resolver.auditIdle();
    const atIssue = () => lines.filter((l) => /issuing on a scope whose backend expiry outlives/.test(l.msg));
    expect(atIssue()).toEqual([]);
    expect(await resolver.resolve(vaultInput)).toBeDefined();
    expect(atIssue()).toEqual([
      expect.objectContaining({
        level: 40,
        grantId: vaultInput.grantId,
        elevationId: 'gl-7-3',
        target: 'orders-vault',
        scope: 'rw',
        substrate: 'vault:prod',
        policyVersion: 'v1',
        msg: expect.stringContaining('max_ttl 86400s'),
      }),
    ]);
    expect(await resolver.resolve({ ...vaultInput, scope: 'ro' })).toBeDefined();
    expect(atIssue()).toHaveLength(1);
    // the issuer's call shape today (no grant id): still warned, named by merge sha
    await resolver.resolve({ target: 'orders-vault', scope: 'rw', policyVersion: 'v1', mergeSha: vaultInput.mergeSha });
    expect(atIssue()[1]).toMatchObject({ mergeSha: vaultInput.mergeSha, target: 'orders-vault' });
    expect(atIssue()[1]!.grantId).toBeUndefined();
  });

  it('a policy version refused at the merge commit is still audited; a throwing check never reaches the issue', async () => {
    const vault = withChecks('vault:prod', {
      checkTtl: async () => {
        throw new Error('boom');
      },
    });
    const { logger } = capture();
    const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v2') }, env: {}, logger, substrates: { list: () => [vault] } });
    expect(await resolver.resolve(vaultInput)).toBeUndefined();
    await resolver.auditIdle();
    expect(resolver.lastAudit()).toMatchObject({ policyVersion: 'v2', findings: [expect.objectContaining({ severity: 'error' }), expect.objectContaining({ severity: 'error' })] });
  });

  it("finds the instances createSubstrates built with the same logger (the apps pass nothing more) and runs the vault adapter's own checkTtl", async () => {
    const { logger, warnings } = capture();
    const reads: string[] = [];
    const fakeVault = {
      async read(path: string) {
        reads.push(path);
        if (path === 'database/roles/orders_rw') return { data: { max_ttl: 86400 } };
        if (path === 'database/roles/orders_ro') return { data: { max_ttl: 1800 } };
        if (path === 'auth/token/roles/jit') return { data: { orphan: true, allowed_policies: ['jit-database-creds'] } };
        if (path === 'auth/token/lookup-self') return { data: { entity_id: '' } };
        throw Object.assign(new Error('not found'), { response: { statusCode: 404 } });
      },
      write: async () => ({}),
      list: async () => ({ data: { keys: [] } }),
      delete: async () => ({}),
    };
    const substrates = createSubstrates({ 'vault:prod': { addr: 'http://127.0.0.1:1', token: 'hvs.admin-token-never-logged', tokenRole: 'jit' } }, logger, {
      'vault:prod': { clientFactory: () => fakeVault },
    });
    const other = createSubstrates({ 'vault:prod': { addr: 'http://127.0.0.1:1', token: 't', tokenRole: 'jit' } }, capture().logger, {
      'vault:prod': { clientFactory: () => ({ ...fakeVault, read: async () => ({ data: { max_ttl: 1 } }) }) },
    });
    try {
      const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') }, env: {}, logger });
      await resolver.resolve(vaultInput);
      await resolver.auditIdle();
      expect(reads.filter((r) => r.startsWith('database/'))).toEqual(['database/roles/orders_rw', 'database/roles/orders_ro']);
      expect(warnings().map((w) => [w.scope, w.severity])).toEqual([['rw', 'warning']]);
      expect(warnings()[0]!.msg).toMatch(/orders_rw has max_ttl 86400s above the tier ceiling 3600s/);
      expect(JSON.stringify(warnings())).not.toContain('hvs.admin-token-never-logged');
    } finally {
      await substrates.closeAll();
      await other.closeAll();
    }
    // a closed registry is not audited any more
    const after = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') }, env: {}, logger });
    await after.resolve(vaultInput);
    await after.auditIdle();
    expect(after.lastAudit()).toBeUndefined();
  });

  it('auditPolicy audits a version before any issue; an issue on it later starts no second audit', async () => {
    let calls = 0;
    const vault = withChecks('vault:prod', { checkTtl: async () => (calls++, [{ severity: 'warning', message: 'max_ttl above' }]) });
    const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') }, env: {}, logger: capture().logger, substrates: { list: () => [vault] } });
    resolver.auditPolicy(loadedOf(vaultPolicy, 'v1'));
    await resolver.auditIdle();
    expect(calls).toBe(2);
    expect(resolver.lastAudit()).toMatchObject({ policyVersion: 'v1' });
    await resolver.resolve(vaultInput);
    await resolver.auditIdle();
    expect(calls).toBe(2);
  });

  it('audit: false switches it off', async () => {
    let calls = 0;
    const vault = withChecks('vault:prod', { checkTtl: async () => (calls++, []) });
    const resolver = createPolicyTargetResolver({
      policyStore: { atVersion: async () => loadedOf(vaultPolicy, 'v1') },
      env: {},
      logger: capture().logger,
      substrates: { list: () => [vault] },
      audit: false,
    });
    await resolver.resolve(vaultInput);
    await resolver.auditIdle();
    expect(calls).toBe(0);
    expect(resolver.lastAudit()).toBeUndefined();
  });
});

describe('policy target resolver with the real policy store (only ratified versions)', () => {
  it('a policy rewritten on the default branch to point a target at another host never gets the admin secret', async () => {
    const { createFakeGitlab } = await import('@jit/gitlab/testing');
    const { createPolicyStore, policyBlobSha } = await import('@jit/policy');
    const { EXAMPLE_POLICY_YAML, fakeSubstrates } = await import('@jit/policy/testing');
    const gl = createFakeGitlab({ botUsername: 'jit-bot' });
    gl.addProject({ id: 5, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
    const store = createPolicyStore({ gitlab: gl.client(), projectId: 5, substrates: fakeSubstrates(), pin: policyBlobSha(EXAMPLE_POLICY_YAML) });
    await store.refresh();
    const ratified = store.current().version;
    // A maintainer pushes straight to main: the same secret reference, another host.
    const rewritten = EXAMPLE_POLICY_YAML.replace('connection: { secretRef: env:ORDERS_DB_ADMIN_URL }', 'connection: { secretRef: env:ORDERS_DB_ADMIN_URL, host: evil.example.com }');
    expect(rewritten).not.toBe(EXAMPLE_POLICY_YAML);
    const pushed = gl.push(5, 'main', { 'policy.yaml': rewritten });
    await store.refresh();
    const { logger } = capture();
    const resolver = createPolicyTargetResolver({ policyStore: store, env: { ORDERS_DB_ADMIN_URL: 'postgres://admin:s3cret-admin-pw@db/orders' }, logger, audit: false, baseMs: 1, attempts: 1 });
    // An approval naming the rewritten version (what a gate that adopted the default branch emitted): refused.
    await expect(resolver.resolve({ target: 'orders-db', scope: 'write', policyVersion: policyBlobSha(rewritten), mergeSha: pushed })).rejects.toMatchObject({
      code: 'JIT_ERR_POLICY_VERSION_UNKNOWN',
    });
    // An approval under the ratified version merged after the push: the ratified connection, not the merge commit's.
    const target = await resolver.resolve({ target: 'orders-db', scope: 'write', policyVersion: ratified, mergeSha: pushed });
    expect(JSON.stringify(target?.connection)).not.toContain('evil');
    expect(target?.connection).toMatchObject({ url: 'postgres://admin:s3cret-admin-pw@db/orders' });
  });
});
