// Database mode against a private PostgreSQL that goes away: a revoke during the outage is a
// retriable failure that leaves the grant findable, and the retry after recovery ends it.
// eslint-disable-next-line @nx/enforce-module-boundaries -- the test logs in with the issued DB credential
import pg from 'pg';
import vaultFactory from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { contractGrantId } from '@jit/substrates/testing';
import { getVault, startPostgres, uniqueName, type PostgresHandle } from '@jit/testing';
import { createVaultSubstrate } from './vault-substrate';
import { carrierPolicyHcl, tokenRoleSettings, vaultConfigSchema, type VaultSubstrate } from './vault-config';

const logger = createLogger({ name: 'vault-faults', level: 'silent' });

describe('vault database mode when the database goes away', () => {
  let server: PostgresHandle;
  let s: VaultSubstrate;
  let role: string;

  beforeAll(async () => {
    server = await startPostgres();
    const { addr, token } = await getVault();
    const admin = vaultFactory({ endpoint: addr, token });
    const mount = uniqueName('dbf');
    role = uniqueName('r');
    const u = new URL(server.url);
    await admin.write(`sys/mounts/${mount}`, { type: 'database' });
    await admin.write(`${mount}/config/pg`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${u.host}/postgres`,
      username: 'postgres',
      password: decodeURIComponent(u.password),
      allowed_roles: [role],
    });
    await admin.write(`${mount}/roles/${role}`, {
      db_name: 'pg',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`],
      default_ttl: '1h',
      max_ttl: '1h',
    });
    await admin.write(`sys/policies/acl/jit-creds-${mount}`, { policy: carrierPolicyHcl(mount) });
    const tokenRole = uniqueName('jit_faults').replace(/_/g, '-');
    await admin.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([`jit-creds-${mount}`]));
    s = createVaultSubstrate(vaultConfigSchema.parse({ addr, token, tokenRole, databaseMount: mount, carrierPolicies: [`jit-creds-${mount}`] }), {
      logger,
      name: `vault:${uniqueName('f').replace(/_/g, '-')}`,
    });
  });
  afterAll(async () => {
    for (const h of (await s?.listIssued()) ?? []) await s.revoke(h).catch(() => undefined);
    await server?.dispose();
  });

  const canLogin = async (user: string, password: string): Promise<boolean> => {
    const u = new URL(server.url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(password);
    const c = new pg.Client({ connectionString: u.toString() });
    try {
      await c.connect();
      return true;
    } catch (err) {
      if (((err as { code?: string }).code ?? '').startsWith('28')) return false;
      throw err;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  it('a revoke during the outage is retriable; the grant stays listed; the retry ends the credential', async () => {
    const grantId = contractGrantId();
    const { secret, handle } = await s.issue({
      grantId,
      elevationId: 'gl-1-1',
      requester: 'alice',
      target: 'db',
      scopeName: 'rw',
      scope: { mode: 'database', role },
      connection: {},
      ttlSeconds: 600,
    });
    expect(await canLogin(secret.username as string, secret.password as string)).toBe(true);
    await server.stop();
    try {
      const err = await s.revoke(handle).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UPSTREAM', retriable: true });
      expect(JSON.stringify(err) + String(err)).not.toContain(secret.password as string);
      expect((await s.verifyRevoked(handle)).verified).toBe(false);
      expect((await s.listIssued()).map((h) => h.grantId)).toContain(grantId);
    } finally {
      await server.start();
    }
    expect(await canLogin(secret.username as string, secret.password as string)).toBe(true);
    await s.revoke(handle);
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    expect(await canLogin(secret.username as string, secret.password as string)).toBe(false);
  });
});
