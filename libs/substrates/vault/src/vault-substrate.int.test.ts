// The vault adapter on a real OpenBao dev server: the contract suite in both modes (token and
// database, the latter with the database secrets engine pointed at embedded PostgreSQL), plus
// what only a real server shows: the admin client survives issuing, the carrier token's TTL
// bounds the lease, forged handles cannot revoke foreign tokens.
// The test must log in with the DB credential Vault issued; only the test imports pg, never the adapter.
// eslint-disable-next-line @nx/enforce-module-boundaries
import pg from 'pg';
import vaultFactory from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type IssueRequest } from '@jit/substrates';
import { contractGrantId, runSubstrateContractSuite, type Foothold, type GranteeAttacks } from '@jit/substrates/testing';
import { freePort, getPostgres, getVault, uniqueName, waitFor } from '@jit/testing';
import { VAULT_CREDENTIAL } from './credential';
import { POSTGRES_REVOCATION_STATEMENTS } from './revocation-statements';
import { createVaultSubstrate, vaultSubstrate } from './vault-substrate';
import { adminPolicyHcl, carrierPolicyHcl, tokenRoleSettings, vaultConfigSchema, type VaultSubstrate } from './vault-config';

const logger = createLogger({ name: 'vault-int', level: 'warn' });

interface Fixture {
  addr: string;
  token: string;
  mount: string;
  role: string;
  readPolicy: string;
  probePath: string;
  dbUrl: string;
  tokenRole: string;
}

let fixture: Promise<Fixture> | undefined;

/** One database mount, DB role, carrier policy and probe policy for this file (unique names). */
function setupVault(): Promise<Fixture> {
  fixture ??= (async () => {
    const { addr, token } = await getVault();
    const admin = vaultFactory({ endpoint: addr, token });
    const pgAdmin = await getPostgres();
    const db = uniqueName('vaultsub');
    const c = new pg.Client({ connectionString: pgAdmin });
    await c.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.end();
    const dbUrl = new URL(pgAdmin);
    dbUrl.pathname = `/${db}`;
    const d = new pg.Client({ connectionString: dbUrl.toString() });
    await d.connect();
    await d.query('CREATE TABLE public.orders (id int)');
    await d.end();

    const mount = uniqueName('db');
    const role = uniqueName('orders_rw');
    await admin.write(`sys/mounts/${mount}`, { type: 'database' });
    await admin.write(`${mount}/config/orders`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${dbUrl.host}${dbUrl.pathname}`,
      username: decodeURIComponent(dbUrl.username),
      password: decodeURIComponent(dbUrl.password),
      allowed_roles: [role],
    });
    await admin.write(`${mount}/roles/${role}`, {
      db_name: 'orders',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`, `GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO "{{name}}"`],
      revocation_statements: [...POSTGRES_REVOCATION_STATEMENTS],
      default_ttl: '1h',
      max_ttl: '24h',
    });
    await admin.write(`sys/policies/acl/jit-database-creds-${mount}`, { policy: carrierPolicyHcl(mount) });
    const readPolicy = uniqueName('jit_probe_read');
    const probePath = `secret/data/${uniqueName('probe')}`;
    await admin.write(probePath, { data: { ok: 'yes' } });
    await admin.write(`sys/policies/acl/${readPolicy}`, { policy: `path "${probePath}" { capabilities = ["read"] }` });
    const tokenRole = uniqueName('jit_sub').replace(/_/g, '-');
    await admin.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([readPolicy, `jit-database-creds-${mount}`]));
    return { addr, token, mount, role, readPolicy, probePath, dbUrl: dbUrl.toString(), tokenRole };
  })();
  return fixture;
}

const configFor = (f: Fixture, extra: Record<string, unknown> = {}) => ({
  addr: f.addr,
  token: f.token,
  tokenRole: f.tokenRole,
  databaseMount: f.mount,
  carrierPolicies: [`jit-database-creds-${f.mount}`],
  ...extra,
});

const request = (grantId: string, scope: Record<string, unknown>, ttlSeconds = 600): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-vault',
  scopeName: 'rw',
  scope,
  connection: {},
  ttlSeconds,
});

async function tokenWorks(f: Fixture, token: string): Promise<boolean> {
  const r = await fetch(`${f.addr}/v1/${f.probePath}`, { headers: { 'X-Vault-Token': token } });
  if (r.status === 200) return true;
  if (r.status === 403) return false;
  throw new Error(`unexpected status ${r.status} probing a token`);
}

async function dbLoginWorks(f: Fixture, username: string, password: string): Promise<boolean> {
  const u = new URL(f.dbUrl);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(password);
  const c = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('INSERT INTO public.orders VALUES (1)');
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('28') || code === '42501') return false;
    throw err;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** true = Vault let it through (2xx, or 404: past the ACL, nothing there); false = refused (403, or a 4xx on its merits); a server error is a broken attack. */
async function vaultAllows(f: Fixture, token: string, method: string, path: string, body?: unknown): Promise<boolean> {
  const r = await fetch(`${f.addr}/v1/${path}`, { method, headers: { 'X-Vault-Token': token, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  await r.arrayBuffer();
  if (r.status >= 500) throw new Error(`unexpected status ${r.status} for ${method} ${path}`);
  return r.status < 400 || r.status === 404;
}

/** What the holder of a token-mode credential will try (docs/adding-a-substrate.md). */
const tokenAttacks = (f: Fixture): GranteeAttacks => ({
  async tryBeyondScope(secret) {
    const t = secret.token as string;
    const attempts: Array<[string, string, string, unknown?]> = [
      ['write the path it may only read', 'POST', f.probePath, { data: { ok: 'no' } }],
      ['read a path outside its policies', 'GET', `secret/data/${uniqueName('other')}`],
      ['create a child token', 'POST', 'auth/token/create', { policies: [f.readPolicy], ttl: '720h' }],
      ['create an orphan token', 'POST', 'auth/token/create-orphan', { ttl: '720h' }],
      [`create a token through jit's token role`, 'POST', `auth/token/create/${f.tokenRole}`, { ttl: '720h' }],
      ['renew itself past its TTL', 'POST', 'auth/token/renew-self', { increment: '720h' }],
      ['read database credentials', 'GET', `${f.mount}/creds/${f.role}`],
      ['list policies', 'GET', 'sys/policies/acl?list=true'],
      ['write a policy', 'POST', `sys/policies/acl/${uniqueName('attack')}`, { policy: 'path "*" { capabilities = ["sudo"] }' }],
      ["rewrite jit's token role", 'POST', `auth/token/roles/${f.tokenRole}`, { allowed_policies: ['root'] }],
      ['enable an auth method', 'POST', `sys/auth/${uniqueName('attack')}`, { type: 'userpass' }],
      ['list token accessors', 'LIST', 'auth/token/accessors'],
    ];
    const worked: string[] = [];
    for (const [name, method, path, body] of attempts) if (await vaultAllows(f, t, method, path, body)) worked.push(name);
    return worked;
  },
  async tryOutliveRevoke(secret) {
    // Whatever the token can mint that is not tied to it would outlive its revoke.
    const t = secret.token as string;
    const footholds: Foothold[] = [];
    for (const path of ['auth/token/create', 'auth/token/create-orphan', `auth/token/create/${f.tokenRole}`]) {
      const r = await fetch(`${f.addr}/v1/${path}`, { method: 'POST', headers: { 'X-Vault-Token': t }, body: JSON.stringify({ policies: [f.readPolicy], ttl: '720h' }) });
      const child = r.ok ? ((await r.json()) as { auth?: { client_token?: string } }).auth?.client_token : (await r.arrayBuffer(), undefined);
      if (child) footholds.push({ name: `a token minted with ${path}`, works: () => tokenWorks(f, child) });
    }
    return footholds;
  },
});

runSubstrateContractSuite({
  name: 'vault (token mode)',
  credential: VAULT_CREDENTIAL,
  skip: {
    blockRevoke: 'revoke by accessor is one call on Vault with the admin token; a token holds no session, lock or quota jit waits on',
    hijackAdmin: "jit's admin only calls Vault's API; what it reads (roles, policies, its index) the grantee's token cannot write (beyondScope tries)",
  },
  async setup() {
    const f = await setupVault();
    const registry = new SubstrateRegistry({ logger, definitions: [vaultSubstrate] });
    const substrate = registry.configure(`vault:${uniqueName('tok').replace(/_/g, '-')}`, configFor(f));
    return {
      substrate,
      makeRequest: (g) => request(g, { mode: 'token', policies: [f.readPolicy], tier: 'cosmetic' }),
      probe: async (secret) => tokenWorks(f, secret.token as string),
      attacks: tokenAttacks(f),
      teardown: () => registry.closeAll(),
    };
  },
});

runSubstrateContractSuite({
  name: 'vault (database mode)',
  credential: VAULT_CREDENTIAL,
  // The credential is a database login made by Vault's database engine from the operator's
  // creation and revocation statements; the grantee never sees the carrier token. What a login
  // will try is the database's checklist (the postgres suite's attacks), run there.
  skip: Object.fromEntries(
    (['beyondScope', 'outliveRevoke', 'blockRevoke', 'hijackAdmin'] as const).map((c) => [c, "a database login from the operator's role statements: the postgres contract suite attacks a login"]),
  ),
  async setup() {
    const f = await setupVault();
    const registry = new SubstrateRegistry({ logger, definitions: [vaultSubstrate] });
    const substrate = registry.configure(`vault:${uniqueName('db').replace(/_/g, '-')}`, configFor(f));
    const loginUrl = `postgres://${new URL(f.dbUrl).host}${new URL(f.dbUrl).pathname}`;
    return {
      substrate,
      makeRequest: (g) => request(g, { mode: 'database', role: f.role, loginUrl }),
      probe: async (secret) => dbLoginWorks(f, secret.username as string, secret.password as string),
      teardown: () => registry.closeAll(),
    };
  },
});

describe('vault substrate on a real OpenBao', () => {
  let f: Fixture;
  let s: ReturnType<typeof createVaultSubstrate>;
  let admin: ReturnType<typeof vaultFactory>;

  beforeAll(async () => {
    f = await setupVault();
    admin = vaultFactory({ endpoint: f.addr, token: f.token });
    s = createVaultSubstrate(vaultConfigSchema.parse(configFor(f)), { logger, name: `vault:${uniqueName('x').replace(/_/g, '-')}` });
  });
  afterAll(async () => {
    for (const h of await s.listIssued()) await s.revoke(h).catch(() => undefined);
  });

  it('issuing does not replace the admin client token, and the token has the requested shape', async () => {
    const grantId = contractGrantId();
    const { secret, handle } = await s.issue(request(grantId, { mode: 'token', policies: [f.readPolicy] }, 300));
    // our admin client still acts as the admin: a token with only readPolicy could not list accessors
    expect((await s.listIssued()).some((h) => h.grantId === grantId)).toBe(true);
    const self = await admin.write('auth/token/lookup', { token: secret.token });
    expect(self.data).toMatchObject({
      display_name: `token-jit-${grantId}`,
      renewable: false,
      explicit_max_ttl: 300,
      meta: expect.objectContaining({ jit_grant: grantId, jit_mode: 'token' }),
    });
    expect(self.data.policies).toEqual([f.readPolicy]);
    expect(self.data.ttl).toBeLessThanOrEqual(300);
    expect(handle.ref).toEqual({ mode: 'token', accessor: secret.accessor });
    await s.revoke(handle);
  });

  it('never issues the root policy and refuses malformed scopes', async () => {
    expect(s.validateScope({ mode: 'token', policies: ['default', 'root'] })).toEqual([expect.objectContaining({ path: 'scope.policies[1]' })]);
    await expect(s.issue(request(contractGrantId(), { mode: 'token', policies: ['root'] }))).rejects.toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE',
    });
    for (const bad of [{ mode: 'database', role: '../sys/raw' }, { mode: 'database', role: 'r', loginUrl: 'postgres://u:p@h/d' }, { mode: 'x' }, { policies: ['a'] }]) {
      expect(s.validateScope(bad).length, JSON.stringify(bad)).toBeGreaterThan(0);
    }
  });

  it("Vault's backstop for a database credential is the carrier token: at its TTL the lease and the DB role die", async () => {
    // The lease itself keeps the role's default_ttl (1h); the carrier (TTL 2 s) takes it down.
    const { secret, handle } = await s.issue(request(contractGrantId(), { mode: 'database', role: f.role }, 2));
    const lease = await admin.write('sys/leases/lookup', { lease_id: handle.ref.leaseId });
    expect(lease.data.ttl).toBeGreaterThan(60);
    expect(Date.parse(handle.expiresAt) - Date.now()).toBeLessThanOrEqual(2_000);
    expect(await dbLoginWorks(f, secret.username as string, secret.password as string)).toBe(true);
    await waitFor(async () => !(await dbLoginWorks(f, secret.username as string, secret.password as string)), {
      timeoutMs: 20_000,
      what: 'the DB credential to die with its carrier token',
    });
    await waitFor(async () => (await s.verifyRevoked(handle)).verified, { timeoutMs: 10_000, what: 'the lease to be gone' });
  });

  it('Vault expiry is the backstop: an unrevoked token dies at its TTL', async () => {
    const { secret, handle } = await s.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 2));
    expect(await tokenWorks(f, secret.token as string)).toBe(true);
    await waitFor(async () => !(await tokenWorks(f, secret.token as string)), { timeoutMs: 15_000, what: 'the token to expire' });
    // Vault refuses an expired token at once, but its expiration manager reaps it (and its accessor) a
    // moment later; until then verification honestly says "still valid".
    await waitFor(async () => (await s.verifyRevoked(handle)).verified, { timeoutMs: 15_000, what: 'Vault to reap the expired token' });
  });

  it('revoking a grant ends every credential of it: a later issue of the same grant that no `granted` named (an issuer replica that lost its partition mid-issue) is revoked too', async () => {
    const grantId = contractGrantId();
    const announced = await s.issue(request(grantId, { mode: 'token', policies: [f.readPolicy] }, 300));
    // the replica that lost its partition issues the grant again: the announced token is replaced
    const unannounced = await s.issue(request(grantId, { mode: 'token', policies: [f.readPolicy] }, 300));
    expect(await tokenWorks(f, announced.secret.token as string)).toBe(false);
    expect(await tokenWorks(f, unannounced.secret.token as string)).toBe(true);
    await s.revoke(announced.handle); // what the revoker knows of the grant
    expect(await tokenWorks(f, unannounced.secret.token as string)).toBe(false);
    expect((await s.listIssued()).some((h) => h.grantId === grantId)).toBe(false);
  });

  it('a late issue of a grant already revoked (an issuer replica that lost its partition and wakes after the revoke) is refused and leaves no token', async () => {
    const grantId = contractGrantId();
    const announced = await s.issue(request(grantId, { mode: 'token', policies: [f.readPolicy] }, 300));
    await s.revoke(announced.handle); // the revoker, at TTL or on request
    // the paused replica resumes: its ownership check passed before the pause, so it issues now
    const late = await s.issue(request(grantId, { mode: 'token', policies: [f.readPolicy] }, 300)).then(
      async (issued) => `issued a token that ${(await tokenWorks(f, issued.secret['token'] as string)) ? 'works' : 'does not work'} until ${issued.expiresAt}`,
      (err: Error & { code?: string }) => err.code,
    );
    expect(late).toBe('JIT_ERR_VAULT_GRANT_REVOKED');
    expect((await s.listIssued()).some((h) => h.grantId === grantId)).toBe(false);
    // another grant is not affected by the marker
    const other = await s.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 300));
    expect(await tokenWorks(f, other.secret['token'] as string)).toBe(true);
    await s.revoke(other.handle);
  });

  it("refuses a forged handle naming a token that is not this grant's (e.g. the admin's own)", async () => {
    const self = await admin.tokenLookupSelf();
    const forged = { kind: 'vault', instance: s.name, grantId: contractGrantId(), ref: { mode: 'token', accessor: self.data.accessor }, expiresAt: '' };
    await expect(s.revoke(forged)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    expect((await admin.tokenLookupSelf()).data.accessor).toBe(self.data.accessor);
    const otherLease = { ...forged, ref: { mode: 'database', accessor: 'abc', leaseId: 'sys/raw/x', role: f.role } };
    await expect(s.revoke(otherLease)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
  });

  it('instances on one Vault do not see or revoke each other’s credentials', async () => {
    const other = createVaultSubstrate(vaultConfigSchema.parse(configFor(f)), { logger, name: 'vault:other-instance' });
    const { handle } = await s.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }));
    expect((await other.listIssued()).some((h) => h.grantId === handle.grantId)).toBe(false);
    await expect(other.revoke({ ...handle, instance: other.name })).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    await s.revoke(handle);
  });

  it('checkTtl warns when a database role outlives the tier ceiling and flags missing roles/policies', async () => {
    expect(await s.checkTtl({ mode: 'database', role: f.role }, 3600)).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringContaining('86400s') })]);
    expect(await s.checkTtl({ mode: 'database', role: f.role }, 86400)).toEqual([expect.objectContaining({ severity: 'info' })]);
    expect(await s.checkTtl({ mode: 'database', role: 'no-such-role' }, 3600)).toEqual([expect.objectContaining({ severity: 'error' })]);
    expect(await s.checkTtl({ mode: 'token', policies: [f.readPolicy, 'no-such-policy'] }, 3600)).toEqual([
      expect.objectContaining({ severity: 'error', message: expect.stringContaining('no-such-policy') }),
    ]);
  });

  it('a database grantee that leaves a large object in another database is still revoked; checkTtl warns for a bare DROP ROLE, which Vault would roll back with NOLOGIN', async () => {
    const issued = await s.issue(request(contractGrantId(), { mode: 'database', role: f.role }));
    const username = String(issued.secret.username);
    const password = String(issued.secret.password);
    const elsewhere = uniqueName('vaultelsewhere');
    const pgAdmin = new pg.Client({ connectionString: await getPostgres() });
    await pgAdmin.connect();
    try {
      await pgAdmin.query(`CREATE DATABASE ${elsewhere}`); // PUBLIC may connect, as by default
      const there = new URL(f.dbUrl);
      there.username = encodeURIComponent(username);
      there.password = encodeURIComponent(password);
      there.pathname = `/${elsewhere}`;
      const c = new pg.Client({ connectionString: there.toString() });
      await c.connect();
      await c.query('SELECT lo_create(0)');
      await c.end();
      await s.revoke(issued.handle);
      expect(await dbLoginWorks(f, username, password)).toBe(false);

      const bare = uniqueName('bare_drop');
      await admin.write(`${f.mount}/roles/${bare}`, {
        db_name: 'orders',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`],
        revocation_statements: [`ALTER ROLE "{{name}}" NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'`, `DROP ROLE IF EXISTS "{{name}}"`],
        max_ttl: '1h',
      });
      expect(await s.checkTtl({ mode: 'database', role: bare }, 3600)).toContainEqual(
        expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/bare DROP ROLE.*rollback undoes NOLOGIN/) }),
      );
      await admin.delete(`${f.mount}/roles/${bare}`);
    } finally {
      await pgAdmin.query(`DROP DATABASE IF EXISTS ${elsewhere} WITH (FORCE)`).catch(() => undefined);
      await pgAdmin.end();
    }
  });

  it('refuses a scope whose policy may write auth/token/create/* (through jit’s own orphan role the grantee minted a 32-day token with another scope’s policy that outlived the revoke)', async () => {
    const minter = uniqueName('jit_minter');
    const crown = uniqueName('jit_crown');
    const tokenRole = uniqueName('jit_reach').replace(/_/g, '-');
    await admin.write(`sys/policies/acl/${minter}`, { policy: 'path "auth/token/create/*" { capabilities = ["update"] }' });
    await admin.write(`sys/policies/acl/${crown}`, { policy: `path "${f.probePath}" { capabilities = ["read"] }` });
    await admin.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([minter, crown]));
    const s2 = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { tokenRole })), { logger, name: `vault:${uniqueName('reach').replace(/_/g, '-')}` });
    const req = request(contractGrantId(), { mode: 'token', policies: [minter] });
    const minted: string[] = [];
    try {
      const outcome = await s2.issue(req).then(
        async (issued) => {
          // what the grantee does with it: mint through jit's role, then let jit revoke the grant
          const r = await fetch(`${f.addr}/v1/auth/token/create/${tokenRole}`, {
            method: 'POST',
            headers: { 'X-Vault-Token': String(issued.secret.token) },
            body: JSON.stringify({ policies: [crown], ttl: '768h' }),
          });
          const token = ((await r.json()) as { auth?: { client_token?: string } }).auth?.client_token;
          if (token) minted.push(token);
          await s2.revoke(issued.handle);
          return { issued: true, mintedTokenWorksAfterRevoke: token ? await tokenWorks(f, token) : false };
        },
        (err: unknown) => err,
      );
      expect(outcome).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE', message: expect.stringMatching(/auth\/token\/create\/\*.*mint orphan tokens through jit's token role/) });
      expect(await s2.checkTtl(req.scope, 3600)).toContainEqual(expect.objectContaining({ severity: 'error', message: expect.stringContaining('mint orphan tokens') }));
      expect(await s2.listIssued()).toEqual([]);
    } finally {
      for (const t of minted) await admin.write('auth/token/revoke', { token: t }).catch(() => undefined);
      await admin.delete(`auth/token/roles/${tokenRole}`).catch(() => undefined);
      for (const p of [minter, crown]) await admin.delete(`sys/policies/acl/${p}`).catch(() => undefined);
    }
  });

  it('an unreachable Vault is retriable; a bad admin token is a non-retriable denial; neither leaks the token', async () => {
    const port = await freePort();
    const down = createVaultSubstrate(vaultConfigSchema.parse({ ...configFor(f), addr: `http://127.0.0.1:${port}`, token: 'Adm1n-t0ken-secret' }), {
      logger,
      name: 'vault',
    });
    const e1 = await down.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] })).catch((e: unknown) => e);
    expect(e1).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    const denied = createVaultSubstrate(vaultConfigSchema.parse({ ...configFor(f), token: 'Adm1n-t0ken-secret' }), { logger, name: 'vault' });
    const e2 = await denied.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] })).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_DENIED', retriable: false });
    for (const e of [e1, e2]) {
      const texts = [JSON.stringify(e), String(e), (e as Error).stack, JSON.stringify((e as Error).cause), String((e as Error).cause)];
      for (const t of texts) {
        expect(t).not.toContain('Adm1n-t0ken-secret');
        expect(t).not.toContain(f.token);
      }
    }
  });
});

/** jit logged in through AppRole (its token then belongs to an identity entity) with the least-privilege admin policy. */
async function appRoleLogin(f: Fixture, admin: ReturnType<typeof vaultFactory>, instance: string, tokenRole: string) {
  const path = uniqueName('approle').replace(/_/g, '-');
  const adminPolicy = uniqueName('jit_admin');
  await admin.write(`sys/auth/${path}`, { type: 'approle' });
  await admin.write(`sys/policies/acl/${adminPolicy}`, { policy: adminPolicyHcl({ tokenRole, indexMount: 'secret', databaseMount: f.mount }, instance) });
  await admin.write(`auth/${path}/role/jit`, { token_policies: [adminPolicy], token_ttl: '1h' });
  const roleId = (await admin.read(`auth/${path}/role/jit/role-id`)).data.role_id as string;
  const login = async () => {
    const secretId = (await admin.write(`auth/${path}/role/jit/secret-id`, {})).data.secret_id as string;
    const r = await fetch(`${f.addr}/v1/auth/${path}/login`, { method: 'POST', body: JSON.stringify({ role_id: roleId, secret_id: secretId }) });
    const auth = ((await r.json()) as { auth: { client_token: string; entity_id: string } }).auth as { client_token: string; entity_id: string };
    return { token: auth.client_token, entityId: auth.entity_id };
  };
  return { login };
}

describe('vault: issued tokens do not inherit jit’s identity (jit logged in through AppRole)', () => {
  let f: Fixture;
  let admin: ReturnType<typeof vaultFactory>;
  beforeAll(async () => {
    f = await setupVault();
    admin = vaultFactory({ endpoint: f.addr, token: f.token });
  });

  it('the token is an orphan without jit’s entity or identity policies; revoking jit’s token leaves it; revoke by accessor still works', async () => {
    const instance = `vault:${uniqueName('ar').replace(/_/g, '-')}`;
    const { login } = await appRoleLogin(f, admin, instance, f.tokenRole);
    const jit = await login();
    expect(jit.entityId).not.toBe('');
    // an identity policy on jit's entity that the grantee must not get
    const entitySecret = `secret/data/${uniqueName('entity_only')}`;
    const entityPolicy = uniqueName('jit_entity');
    await admin.write(entitySecret, { data: { only: 'jit' } });
    await admin.write(`sys/policies/acl/${entityPolicy}`, { policy: `path "${entitySecret}" { capabilities = ["read"] }` });
    await admin.write(`identity/entity/id/${jit.entityId}`, { policies: [entityPolicy] });

    const s = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { token: jit.token })), { logger, name: instance });
    const { secret, handle } = await s.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 300));
    const issued = (await admin.write('auth/token/lookup', { token: secret.token })).data;
    expect(issued).toMatchObject({ orphan: true, entity_id: '', policies: [f.readPolicy], role: f.tokenRole });
    expect(issued.identity_policies ?? []).toEqual([]);
    const entityRead = await fetch(`${f.addr}/v1/${entitySecret}`, { headers: { 'X-Vault-Token': secret.token as string } });
    expect(entityRead.status, 'the grantee cannot use the policies of jit’s entity').toBe(403);
    expect(await tokenWorks(f, secret.token as string)).toBe(true);

    // jit's own token goes away (rotation, revocation): the grantee's token is not its child
    await fetch(`${f.addr}/v1/auth/token/revoke-self`, { method: 'POST', headers: { 'X-Vault-Token': jit.token } });
    expect(await tokenWorks(f, secret.token as string)).toBe(true);

    // a fresh login (the next jit process) still finds and revokes it by accessor
    const next = await login();
    const s2 = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { token: next.token })), { logger, name: instance });
    expect((await s2.listIssued()).map((h) => h.ref.accessor)).toEqual([secret.accessor]);
    await s2.revoke(handle);
    expect(await tokenWorks(f, secret.token as string)).toBe(false);
    expect((await s2.verifyRevoked(handle)).verified).toBe(true);
    expect(await s2.listIssued()).toEqual([]);
  });

  it('the setup check warns when jit’s token has an entity, is an error when the role is not orphan, and is quiet for an orphan role and no entity', async () => {
    const instance = `vault:${uniqueName('as').replace(/_/g, '-')}`;
    const { login } = await appRoleLogin(f, admin, instance, f.tokenRole);
    const jit = await login();
    const viaAppRole = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { token: jit.token })), { logger, name: instance });
    expect(await viaAppRole.checkSetup()).toEqual([{ severity: 'warning', message: expect.stringMatching(new RegExp(`identity entity ${jit.entityId}.*must stay orphan=true \\(it is\\)`)) }]);
    const viaRoot = createVaultSubstrate(vaultConfigSchema.parse(configFor(f)), { logger, name: instance });
    expect((await viaRoot.checkSetup()).map((x) => x.severity)).toEqual(['info']);

    const childRole = uniqueName('jit_child').replace(/_/g, '-');
    await admin.write(`auth/token/roles/${childRole}`, { ...tokenRoleSettings([f.readPolicy]), orphan: false });
    const children = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { tokenRole: childRole })), { logger, name: instance });
    expect(await children.checkSetup()).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringContaining('orphan=false') })]);
    // and it refuses to hand out the child token the role made
    await expect(children.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 60))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    expect(await children.listIssued()).toEqual([]);

    const missing = createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { tokenRole: uniqueName('nope').replace(/_/g, '-') })), { logger, name: instance });
    expect(await missing.checkSetup()).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringContaining('does not exist') })]);
    expect(await viaRoot.checkTtl({ mode: 'token', policies: [f.readPolicy, 'default'] }, 3600)).toEqual([
      expect.objectContaining({ severity: 'error', message: expect.stringContaining('does not allow default') }),
    ]);
  });
});

describe('vault: two deployments with the same instance name on one Vault', () => {
  it('neither sees the other’s tokens, so neither orphan sweep revokes them', async () => {
    const f = await setupVault();
    const admin = vaultFactory({ endpoint: f.addr, token: f.token });
    const instance = `vault:${uniqueName('prod').replace(/_/g, '-')}`;
    const deployments = await Promise.all(
      ['blue', 'green'].map(async (colour) => {
        const tokenRole = uniqueName(`jit_${colour}`).replace(/_/g, '-');
        await admin.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([f.readPolicy]));
        return createVaultSubstrate(vaultConfigSchema.parse(configFor(f, { tokenRole })), { logger, name: instance });
      }),
    );
    const [blue, green] = deployments as [VaultSubstrate, VaultSubstrate];
    const a = await blue.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 300));
    const b = await green.issue(request(contractGrantId(), { mode: 'token', policies: [f.readPolicy] }, 300));

    // Each deployment's log knows only its own grant; the sweep revokes whatever else listIssued shows.
    const sweep = async (s: VaultSubstrate, known: string) => {
      for (const h of await s.listIssued()) if (h.grantId !== known) await s.revoke(h);
    };
    await sweep(blue, a.handle.grantId);
    await sweep(green, b.handle.grantId);
    expect(await tokenWorks(f, a.secret.token as string)).toBe(true);
    expect(await tokenWorks(f, b.secret.token as string)).toBe(true);
    expect((await blue.listIssued()).map((h) => h.grantId)).toEqual([a.handle.grantId]);
    // nor can a handle of the other deployment be revoked through this one
    await expect(blue.revoke(b.handle)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    expect(await tokenWorks(f, b.secret.token as string)).toBe(true);
    await blue.revoke(a.handle);
    await green.revoke(b.handle);
  });
});
