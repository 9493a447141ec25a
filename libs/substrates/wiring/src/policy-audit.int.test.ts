// The policy audit on real servers, wired as the apps wire it (createSubstrates + the target
// resolver, same logger): a Vault/OpenBao database role whose max_ttl outlives the tier ceiling is
// one warning, one within it none; an embedded-PostgreSQL default role that can INSERT is a
// finding, a read-only one is not. No credential reaches a log line or the metric.
// The test creates the roles and databases it audits; only the test imports pg, never the lib.
// eslint-disable-next-line @nx/enforce-module-boundaries
import pg from 'pg';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRegistry } from '@jit/observability';
import { tokenRoleSettings } from '@jit/substrate-vault';
import { getPostgres, getVault, uniqueName } from '@jit/testing';
import { FINDINGS_METRIC } from './policy-audit';
import { createSubstrates } from './substrate-settings';
import { createPolicyTargetResolver } from './target-resolver';
import { loadedOf, policyOf } from './testing/audit-fixtures';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const raw: string[] = [];
  const logger = createLogger({
    name: 'audit-int',
    level: 'info',
    destination: new Writable({ write: (c, _e, cb) => (raw.push(String(c)), lines.push(JSON.parse(String(c))), cb()) }),
  });
  return { logger, lines, raw };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** One Vault/OpenBao HTTP call with the root token; throws with the status on failure. */
async function vaultCall(addr: string, token: string, method: string, path: string, body?: unknown): Promise<void> {
  const r = await fetch(`${addr}/v1/${path}`, { method, headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok) throw new Error(`vault ${method} ${path}: HTTP ${r.status} ${await r.text()}`);
}

const metricValues = async (registry: ReturnType<typeof createRegistry>) =>
  ((await registry.getMetricsAsJSON()).find((m) => m.name === FINDINGS_METRIC)?.values ?? []).map((v): Record<string, string | number | undefined> => ({ ...v.labels, value: v.value }));

describe('policy audit on OpenBao: a database role max_ttl against the tier ceiling', () => {
  let vault: { addr: string; token: string };
  let mount: string;
  let longRole: string;
  let shortRole: string;
  let tokenRole: string;

  beforeAll(async () => {
    vault = await getVault();
    const pgAdmin = new URL(await getPostgres());
    mount = uniqueName('auditdb');
    longRole = uniqueName('long');
    shortRole = uniqueName('short');
    await vaultCall(vault.addr, vault.token, 'POST', `sys/mounts/${mount}`, { type: 'database' });
    tokenRole = `jit-${mount}`;
    await vaultCall(vault.addr, vault.token, 'POST', `auth/token/roles/${tokenRole}`, tokenRoleSettings(['jit-database-creds']));
    await vaultCall(vault.addr, vault.token, 'POST', `${mount}/config/orders`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${pgAdmin.host}${pgAdmin.pathname}`,
      username: decodeURIComponent(pgAdmin.username),
      password: decodeURIComponent(pgAdmin.password),
      allowed_roles: [longRole, shortRole],
    });
    for (const [role, maxTtl] of [
      [longRole, '24h'],
      [shortRole, '30m'],
    ] as const) {
      await vaultCall(vault.addr, vault.token, 'POST', `${mount}/roles/${role}`, {
        db_name: 'orders',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`],
        default_ttl: '10m',
        max_ttl: maxTtl,
      });
    }
  });

  afterAll(async () => {
    if (mount) await vaultCall(vault.addr, vault.token, 'DELETE', `sys/mounts/${mount}`).catch(() => undefined);
  });

  it('max_ttl 24h under a 1h tier is one warning (log line and gauge); max_ttl 30m is none; an issue on the long role is logged with its grant id', async () => {
    const { logger, lines, raw } = capture();
    const registry = createRegistry();
    const substrates = createSubstrates({ 'vault:int': { addr: vault.addr, token: vault.token, tokenRole, databaseMount: mount } }, logger);
    try {
      // tier semi-destructive: ttlMax 1h
      const policy = policyOf({
        'orders-vault': {
          substrate: 'vault:int',
          scopes: {
            long: { tier: 'semi-destructive', mode: 'database', role: longRole },
            short: { tier: 'semi-destructive', mode: 'database', role: shortRole },
          },
        },
      });
      const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(policy, 'v1') }, env: {}, logger, registry });
      const mergeSha = 'b'.repeat(40);
      const input = { target: 'orders-vault', scope: 'long', policyVersion: 'v1', mergeSha, grantId: `gl-1-2-${mergeSha}` };
      expect(await resolver.resolve(input)).toMatchObject({ substrate: 'vault:int', scope: { mode: 'database', role: longRole } });
      await resolver.auditIdle();

      const findings = resolver.lastAudit()!.findings;
      const problems = findings.filter((f) => f.severity !== 'info');
      expect(problems).toEqual([
        expect.objectContaining({
          substrate: 'vault:int',
          target: 'orders-vault',
          scope: 'long',
          check: 'ttl',
          severity: 'warning',
          message: expect.stringContaining(`database role ${longRole} has max_ttl 86400s above the tier ceiling 3600s`),
        }),
      ]);
      expect(findings.filter((f) => f.scope === 'short').map((f) => f.severity)).toEqual(['info']);
      const warned = lines.filter((l) => l.level === 40 && l.check === 'ttl');
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ substrate: 'vault:int', target: 'orders-vault', scope: 'long', policyVersion: 'v1' });
      expect(await metricValues(registry)).toEqual(expect.arrayContaining([{ substrate: 'vault:int', target: 'orders-vault', check: 'ttl', severity: 'warning', value: 1 }]));

      // the next issue on the long role is warned about at issue time, with its grant id
      await resolver.resolve(input);
      expect(lines.filter((l) => /issuing on a scope whose backend expiry outlives/.test(l.msg))).toEqual([expect.objectContaining({ grantId: input.grantId, scope: 'long' })]);
      expect(await resolver.resolve({ ...input, scope: 'short' })).toBeDefined();
      expect(lines.filter((l) => /issuing on a scope whose backend expiry outlives/.test(l.msg))).toHaveLength(1);

      const text = raw.join('') + (await registry.metrics());
      expect(text).not.toContain(vault.token);
    } finally {
      await substrates.closeAll();
    }
  });
});

describe('policy audit on embedded PostgreSQL: the default credential must not write', () => {
  let adminUrl: string;
  let dbUrl: string;
  let db: string;
  const ro = uniqueName('audit_ro');
  const rw = uniqueName('audit_rw');
  const pw = `Audit-default-pw-${uniqueName('x')}`;
  const urlFor = (user: string) => {
    const u = new URL(dbUrl);
    u.username = user;
    u.password = pw;
    return u.toString();
  };

  beforeAll(async () => {
    adminUrl = await getPostgres();
    db = uniqueName('auditpg');
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${db}`));
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    dbUrl = u.toString();
    await withClient(dbUrl, async (c) => {
      await c.query('CREATE TABLE public.orders (id int, total int)');
      await c.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      await c.query(`CREATE ROLE ${ro} LOGIN PASSWORD '${pw}'`);
      await c.query(`GRANT SELECT ON public.orders TO ${ro}`);
      await c.query(`CREATE ROLE ${rw} LOGIN PASSWORD '${pw}'`);
      await c.query(`GRANT SELECT, INSERT ON public.orders TO ${rw}`);
    });
  });

  afterAll(async () => {
    if (!db) return;
    await withClient(adminUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${ro}`);
      await c.query(`DROP ROLE IF EXISTS ${rw}`);
    }).catch(() => undefined);
  });

  it('a default role that can INSERT is a finding; a read-only one is none; each instance probed once; no password logged', async () => {
    const { logger, lines, raw } = capture();
    const registry = createRegistry();
    const substrates = createSubstrates(
      {
        'postgres:rw': { adminUrl: dbUrl, defaultUrl: urlFor(rw) },
        'postgres:ro': { adminUrl: dbUrl, defaultUrl: urlFor(ro) },
      },
      logger,
    );
    try {
      const policy = policyOf({
        'orders-rw': { substrate: 'postgres:rw', scopes: { write: { tier: 'reversible-write', grant: 'INSERT ON ALL TABLES IN SCHEMA public' } } },
        'orders-rw-2': { substrate: 'postgres:rw', scopes: { write: { tier: 'reversible-write', grant: 'UPDATE ON ALL TABLES IN SCHEMA public' } } },
        'orders-ro': { substrate: 'postgres:ro', scopes: { write: { tier: 'reversible-write', grant: 'INSERT ON ALL TABLES IN SCHEMA public' } } },
      });
      const resolver = createPolicyTargetResolver({ policyStore: { atVersion: async () => loadedOf(policy, 'p1') }, env: {}, logger, registry });
      await resolver.resolve({ target: 'orders-ro', scope: 'write', policyVersion: 'p1', mergeSha: 'c'.repeat(40) });
      await resolver.auditIdle();

      const result = resolver.lastAudit()!;
      expect(result.checks).toBe(4); // per instance, not per target: one read-only probe and one setup check
      const byInstance = (name: string) => result.findings.filter((f) => f.substrate === name && f.check === 'default-read-only');
      // the test server's admin is a superuser: the setup check says so, for each instance
      for (const name of ['postgres:rw', 'postgres:ro']) {
        expect(result.findings).toContainEqual(expect.objectContaining({ substrate: name, target: '*', check: 'setup', severity: 'warning', message: expect.stringContaining('is a superuser') }));
      }
      expect(byInstance('postgres:rw').filter((f) => f.severity === 'error')).toEqual(
        expect.arrayContaining([expect.objectContaining({ target: '*', check: 'default-read-only', message: expect.stringContaining('public.orders') })]),
      );
      expect(byInstance('postgres:ro').filter((f) => f.severity !== 'info')).toEqual([]);
      expect(byInstance('postgres:ro').map((f) => f.message)).toEqual([expect.stringMatching(new RegExp(`default credential ${ro} was refused every write tried`))]);
      const values = await metricValues(registry);
      expect(values.find((v) => v.substrate === 'postgres:rw' && v.severity === 'error')?.value).toBeGreaterThanOrEqual(1);
      expect(values.find((v) => v.substrate === 'postgres:ro' && v.severity === 'error')?.value).toBe(0);
      expect(lines.filter((l) => l.level === 40 && l.substrate === 'postgres:ro' && l.check === 'default-read-only')).toEqual([]);
      expect(lines.filter((l) => l.level === 40 && l.substrate === 'postgres:rw').length).toBeGreaterThanOrEqual(1);
      const text = raw.join('') + (await registry.metrics());
      expect(text).not.toContain(pw);
      // the probe wrote nothing
      const rows = await withClient(dbUrl, (c) => c.query('SELECT count(*)::int AS n FROM public.orders'));
      expect(rows.rows[0].n).toBe(0);
    } finally {
      await substrates.closeAll();
    }
  });
});
