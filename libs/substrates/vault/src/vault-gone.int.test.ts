// "Already gone" on a real OpenBao: a token Vault expired itself, a token that expires between
// the adapter's lookup and its revoke, a lease revoked behind jit's back, a carrier that took its
// lease down at TTL - each revoke succeeds and verifyRevoked reports the credential unusable.
// And the answers that must stay errors, from the same server: a malformed request (400), a
// denial (403), an unknown namespace (404).
// eslint-disable-next-line @nx/enforce-module-boundaries -- the test creates the database the engine issues users in
import pg from 'pg';
import vaultFactory from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { contractGrantId } from '@jit/substrates/testing';
import { getPostgres, getVault, uniqueName, waitFor } from '@jit/testing';
import { createVaultSubstrate } from './vault-substrate';
import { carrierPolicyHcl, tokenRoleSettings, vaultConfigSchema, type VaultClientLike, type VaultSubstrate } from './vault-config';
import { isGoneAnswer } from './vault-answers';

const logger = createLogger({ name: 'vault-gone-int', level: 'silent' });

interface Fixture {
  addr: string;
  token: string;
  mount: string;
  role: string;
  readPolicy: string;
  probePath: string;
  tokenRole: string;
}

let f: Fixture;
let admin: ReturnType<typeof vaultFactory>;
const created: VaultSubstrate[] = [];

/** A raw call to Vault: status and JSON body, whatever they are. */
async function raw(path: string, body: unknown, token = f.token): Promise<{ status: number; body: any }> {
  const r = await fetch(`${f.addr}/v1/${path}`, { method: 'POST', headers: { 'X-Vault-Token': token }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

/** Whether the admin can still look the token up by accessor (false once Vault no longer honours it). */
async function tokenListed(accessor: string): Promise<boolean> {
  const r = await raw('auth/token/lookup-accessor', { accessor });
  if (r.status === 200) return true;
  if ((r.status === 400 && /invalid accessor/.test(String(r.body?.errors))) || (r.status === 403 && String(r.body?.errors) === 'bad token')) return false;
  throw new Error(`unexpected lookup-accessor answer ${r.status} ${JSON.stringify(r.body)}`);
}

async function leaseListed(leaseId: string): Promise<boolean> {
  const r = await raw('sys/leases/lookup', { lease_id: leaseId });
  if (r.status === 200) return true;
  if (r.status === 400 && /invalid lease/.test(String(r.body?.errors))) return false;
  throw new Error(`unexpected sys/leases/lookup answer ${r.status} ${JSON.stringify(r.body)}`);
}

function substrate(extra: Record<string, unknown> = {}, wrap?: (c: VaultClientLike) => VaultClientLike): VaultSubstrate {
  const config = vaultConfigSchema.parse({ addr: f.addr, token: f.token, tokenRole: f.tokenRole, databaseMount: f.mount, carrierPolicies: [`jit-creds-${f.mount}`], ...extra });
  const s = createVaultSubstrate(config, {
    logger,
    name: `vault:${uniqueName('gone').replace(/_/g, '-')}`,
    ...(wrap
      ? {
          clientFactory: (o) =>
            wrap(vaultFactory({ endpoint: o.endpoint, token: o.token, ...(o.namespace ? { namespace: o.namespace } : {}), requestOptions: { timeout: o.timeoutMs } }) as unknown as VaultClientLike),
        }
      : {}),
  });
  created.push(s);
  return s;
}

const request = (scope: Record<string, unknown>, ttlSeconds: number): IssueRequest => ({
  grantId: contractGrantId(),
  elevationId: 'gl-1-1',
  requester: 'alice',
  target: 'vault-gone',
  scopeName: 'rw',
  scope,
  connection: {},
  ttlSeconds,
});

beforeAll(async () => {
  const v = await getVault();
  admin = vaultFactory({ endpoint: v.addr, token: v.token });
  const pgAdmin = await getPostgres();
  const db = uniqueName('vaultgone');
  const c = new pg.Client({ connectionString: pgAdmin });
  await c.connect();
  await c.query(`CREATE DATABASE ${db}`);
  await c.end();
  const dbUrl = new URL(pgAdmin);
  dbUrl.pathname = `/${db}`;
  const mount = uniqueName('dbgone');
  const role = uniqueName('gone_rw');
  await admin.write(`sys/mounts/${mount}`, { type: 'database' });
  await admin.write(`${mount}/config/pg`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${dbUrl.host}${dbUrl.pathname}`,
    username: decodeURIComponent(dbUrl.username),
    password: decodeURIComponent(dbUrl.password),
    allowed_roles: [role],
  });
  await admin.write(`${mount}/roles/${role}`, {
    db_name: 'pg',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`],
    revocation_statements: [`DROP ROLE IF EXISTS "{{name}}"`],
    default_ttl: '1h',
    max_ttl: '1h',
  });
  await admin.write(`sys/policies/acl/jit-creds-${mount}`, { policy: carrierPolicyHcl(mount) });
  const readPolicy = uniqueName('gone_read');
  const probePath = `secret/data/${uniqueName('gone_probe')}`;
  await admin.write(probePath, { data: { ok: 'yes' } });
  await admin.write(`sys/policies/acl/${readPolicy}`, { policy: `path "${probePath}" { capabilities = ["read"] }` });
  const tokenRole = uniqueName('jit_gone').replace(/_/g, '-');
  await admin.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([readPolicy, `jit-creds-${mount}`]));
  f = { addr: v.addr, token: v.token, mount, role, readPolicy, probePath, tokenRole };
});

afterAll(async () => {
  for (const s of created) for (const h of await s.listIssued().catch(() => [])) await s.revoke(h).catch(() => undefined);
  if (f) await fetch(`${f.addr}/v1/sys/mounts/${f.mount}`, { method: 'DELETE', headers: { 'X-Vault-Token': f.token } }).catch(() => undefined);
});

describe('vault revoke on a real OpenBao: already gone is success', () => {
  it('a token Vault expired itself: revoke by accessor succeeds, verifyRevoked says unusable', async () => {
    const s = substrate();
    const { handle } = await s.issue(request({ mode: 'token', policies: [f.readPolicy] }, 1));
    const accessor = String(handle.ref.accessor);
    await waitFor(async () => !(await tokenListed(accessor)), { timeoutMs: 30_000, what: 'Vault to expire the 1 s token' });
    await expect(s.revoke(handle)).resolves.toBeUndefined();
    await expect(s.revoke(handle)).resolves.toBeUndefined(); // and again: idempotent
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    // What the server itself answers to a revoke-accessor of a gone token, pinned: success with a
    // warning on OpenBao 2.x, or one of the 400s the adapter counts as gone on other versions.
    const r = await raw('auth/token/revoke-accessor', { accessor });
    expect(r.status === 200 ? r.body.warnings : isGoneAnswer('revoke accessor', { response: { statusCode: r.status, body: r.body } })).toBeTruthy();
  });

  it("a token that expires between the adapter's ownership lookup and its revoke-accessor call", async () => {
    const seen: string[] = [];
    const s = substrate({}, (real) => ({
      read: (p, o) => real.read(p, o),
      list: (p) => real.list(p),
      delete: (p) => real.delete(p),
      async write(p, data, o) {
        if (p === 'auth/token/lookup-accessor') {
          const out = await real.write(p, data, o);
          seen.push('lookup: live');
          return out;
        }
        if (p === 'auth/token/revoke-accessor') {
          const accessor = String((data as { accessor: string }).accessor);
          await waitFor(async () => !(await tokenListed(accessor)), { timeoutMs: 30_000, what: 'Vault to expire the token mid-revoke' });
          seen.push('revoke-accessor after expiry');
        }
        return real.write(p, data, o);
      },
    }));
    const { handle } = await s.issue(request({ mode: 'token', policies: [f.readPolicy] }, 4));
    seen.length = 0; // the issue-time scan looked tokens up too
    await expect(s.revoke(handle)).resolves.toBeUndefined();
    expect(seen).toEqual(['lookup: live', 'revoke-accessor after expiry']);
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
  });

  it("a database lease revoked behind jit's back: revoke succeeds, the carrier goes too, verifyRevoked says unusable", async () => {
    const s = substrate();
    const { handle } = await s.issue(request({ mode: 'database', role: f.role }, 600));
    const leaseId = String(handle.ref.leaseId);
    expect(await leaseListed(leaseId)).toBe(true);
    expect((await raw('sys/leases/revoke', { lease_id: leaseId })).status).toBe(204);
    await waitFor(async () => !(await leaseListed(leaseId)), { timeoutMs: 30_000, what: 'the lease to be gone' });
    // OpenBao's own answer to revoking a gone lease, pinned
    expect((await raw('sys/leases/revoke', { lease_id: leaseId })).status).toBe(204);
    expect(await tokenListed(String(handle.ref.accessor))).toBe(true);
    await expect(s.revoke(handle)).resolves.toBeUndefined();
    expect(await tokenListed(String(handle.ref.accessor))).toBe(false);
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
  });

  it('a carrier that Vault expired together with its lease: revoke succeeds', async () => {
    const s = substrate();
    const { handle } = await s.issue(request({ mode: 'database', role: f.role }, 1));
    await waitFor(async () => !(await tokenListed(String(handle.ref.accessor))) && !(await leaseListed(String(handle.ref.leaseId))), {
      timeoutMs: 30_000,
      what: 'the carrier and its lease to expire',
    });
    await expect(s.revoke(handle)).resolves.toBeUndefined();
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
  });
});

describe('vault revoke on a real OpenBao: real failures stay failures', () => {
  it('a malformed revoke-accessor request (400 "missing accessor") is a non-retriable rejection', async () => {
    const s = substrate({}, (real) => ({
      read: (p, o) => real.read(p, o),
      list: (p) => real.list(p),
      delete: (p) => real.delete(p),
      write: (p, data, o) => (p === 'auth/token/revoke-accessor' ? real.write(p, {}, o) : real.write(p, data, o)),
    }));
    const { handle, secret } = await s.issue(request({ mode: 'token', policies: [f.readPolicy] }, 600));
    const err = await s.revoke(handle).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', retriable: false });
    expect(await tokenListed(String(handle.ref.accessor))).toBe(true);
    expect(JSON.stringify(err) + String(err) + String((err as Error).cause)).not.toContain(String(secret.token));
    await substrate()
      .revoke(handle)
      .catch(() => undefined);
  });

  it('an admin token that may look up but not revoke (403) is a non-retriable denial; the token stays live', async () => {
    const s = substrate();
    const { handle } = await s.issue(request({ mode: 'token', policies: [f.readPolicy] }, 600));
    const policy = uniqueName('gone_lookup_only');
    await admin.write(`sys/policies/acl/${policy}`, { policy: 'path "auth/token/lookup-accessor" { capabilities = ["update"] }' });
    const limited = await raw('auth/token/create', { policies: [policy], ttl: '10m', no_default_policy: true });
    const limitedToken = String(limited.body.auth.client_token);
    const weak = substrate({ token: limitedToken });
    const err = await weak.revoke({ ...handle, instance: weak.name }).catch((e: unknown) => e);
    // the weak instance's name differs, so the ownership check refuses before any revoke...
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    // ...so use an instance of the same name with the weak token
    const same = createVaultSubstrate(vaultConfigSchema.parse({ addr: f.addr, token: limitedToken, tokenRole: f.tokenRole }), { logger, name: s.name });
    const denied = await same.revoke(handle).catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_DENIED', retriable: false });
    expect(await tokenListed(String(handle.ref.accessor))).toBe(true);
    for (const t of [JSON.stringify(denied), String(denied), String((denied as Error).cause)]) expect(t).not.toContain(limitedToken);
    await s.revoke(handle);
    await raw('auth/token/revoke-accessor', { accessor: limited.body.auth.accessor });
  });

  it('an unknown namespace (404) is never counted as revoked', async () => {
    const s = substrate();
    const { handle } = await s.issue(request({ mode: 'token', policies: [f.readPolicy] }, 600));
    const lost = createVaultSubstrate(vaultConfigSchema.parse({ addr: f.addr, token: f.token, tokenRole: f.tokenRole, namespace: uniqueName('nosuchns') }), { logger, name: s.name });
    const err = await lost.revoke(handle).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_VAULT_NOT_FOUND', retriable: false });
    await expect(lost.verifyRevoked(handle)).rejects.toMatchObject({ code: 'JIT_ERR_VAULT_NOT_FOUND' });
    expect(await tokenListed(String(handle.ref.accessor))).toBe(true);
    await s.revoke(handle);
    expect(await tokenListed(String(handle.ref.accessor))).toBe(false);
  });
});
