// jit's own Vault login on a real OpenBao: AppRole (secret id from a file) with short TTLs - renewed
// at a fraction of the TTL, replaced by a new login when Vault caps the renewal at max TTL or no
// longer knows the token - and JWT / Kubernetes-style auth with a key pair made here standing in for
// the cluster's service-account issuer. Issue and revoke work through whatever token jit holds at
// the time; the secret id and the JWT never reach a log line or an error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import vaultFactory from 'node-vault';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRegistry } from '@jit/observability';
import type { JitError } from '@jit/errors';
import type { IssueRequest } from '@jit/substrates';
import { getVault, uniqueName, waitFor } from '@jit/testing';
import type { VaultAuthEvent } from './vault-auth';
import { createVaultSubstrate } from './vault-substrate';
import { adminPolicyHcl, tokenRoleSettings, vaultConfigSchema, type VaultSubstrate } from './vault-config';

const dir = mkdtempSync(join(tmpdir(), 'jit-vault-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every log line of this file, to check no secret reached one. */
const logLines: string[] = [];
const logger = createLogger({
  name: 'vault-auth-int',
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

interface Fixture {
  addr: string;
  root: ReturnType<typeof vaultFactory>;
  tokenRole: string;
  readPolicy: string;
  probePath: string;
}
let f: Fixture;

beforeAll(async () => {
  const { addr, token } = await getVault();
  const root = vaultFactory({ endpoint: addr, token });
  const readPolicy = uniqueName('jit_auth_probe');
  const probePath = `secret/data/${uniqueName('auth_probe')}`;
  await root.write(probePath, { data: { ok: 'yes' } });
  await root.write(`sys/policies/acl/${readPolicy}`, { policy: `path "${probePath}" { capabilities = ["read"] }` });
  const tokenRole = uniqueName('jit_auth').replace(/_/g, '-');
  await root.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([readPolicy]));
  f = { addr, root, tokenRole, readPolicy, probePath };
});

/** The least-privilege admin policy of `instance` (what the README tells operators to install). */
async function adminPolicy(instance: string): Promise<string> {
  const name = uniqueName('jit_admin');
  await f.root.write(`sys/policies/acl/${name}`, { policy: adminPolicyHcl({ tokenRole: f.tokenRole, indexMount: 'secret', databaseMount: 'database' }, instance) });
  return name;
}

function secretFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

const request = (grantId: string, ttlSeconds = 600): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-vault',
  scopeName: 'read',
  scope: { mode: 'token', policies: [f.readPolicy] },
  connection: {},
  ttlSeconds,
});

async function tokenWorks(token: string): Promise<boolean> {
  const r = await fetch(`${f.addr}/v1/${f.probePath}`, { headers: { 'X-Vault-Token': token } });
  await r.arrayBuffer();
  if (r.status === 200) return true;
  if (r.status === 403) return false;
  throw new Error(`unexpected status ${r.status} probing a token`);
}

/** Issue, use, revoke and check: the grant lifecycle through whatever token jit holds now. */
async function lifecycle(substrate: VaultSubstrate): Promise<void> {
  const grant = `gl-9-${Math.floor(Math.random() * 1e6)}-${uniqueName('sha').replace(/_/g, '')}`;
  const issued = await substrate.issue(request(grant));
  expect(await tokenWorks(issued.secret.token!)).toBe(true);
  await substrate.revoke(issued.handle);
  expect(await tokenWorks(issued.secret.token!)).toBe(false);
  expect((await substrate.verifyRevoked(issued.handle)).verified).toBe(true);
}

function make(instance: string, auth: Record<string, unknown>, events: VaultAuthEvent[], registry = createRegistry()): VaultSubstrate {
  return createVaultSubstrate(vaultConfigSchema.parse({ addr: f.addr, auth, tokenRole: f.tokenRole, renewFraction: 0.5 }), {
    logger: logger.child({ substrate: instance }),
    name: instance,
    metrics: registry,
    onAuthEvent: (e) => events.push(e),
  });
}

/** The error a promise rejects with (a fulfilment fails the test). */
const rejection = (p: Promise<unknown>): Promise<JitError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as JitError,
  );
const count = (events: VaultAuthEvent[], type: VaultAuthEvent['type']) => events.filter((e) => e.type === type).length;

describe('vault auth: AppRole (real OpenBao)', () => {
  let mount: string;
  let roleId: string;
  let secretId: string;
  let policy: string;
  const instance = 'vault:approle';

  beforeAll(async () => {
    mount = uniqueName('approle').replace(/_/g, '-');
    await f.root.write(`sys/auth/${mount}`, { type: 'approle' });
    policy = await adminPolicy(instance);
    // Short TTLs: a renewal at half the TTL, Vault caps renewals at the max TTL, then a new login.
    await f.root.write(`auth/${mount}/role/jit`, { token_policies: [policy], token_ttl: '4s', token_max_ttl: '9s', secret_id_num_uses: 0 });
    roleId = (await f.root.read(`auth/${mount}/role/jit/role-id`)).data.role_id;
    secretId = (await f.root.write(`auth/${mount}/role/jit/secret-id`, {})).data.secret_id;
  });

  it('logs in, renews at a fraction of the TTL, logs in again when Vault caps the renewal at max TTL, and issues/revokes throughout', async () => {
    const events: VaultAuthEvent[] = [];
    const registry = createRegistry();
    const substrate = make(instance, { method: 'approle', mount, roleId, secretIdFile: secretFile('secret-id', `${secretId}\n`) }, events, registry);
    try {
      await lifecycle(substrate);
      await waitFor(() => events.some((e) => e.type === 'renewed' && !e.capped), { what: 'a renewal', timeoutMs: 15_000 });
      const gauge = (await registry.getSingleMetric('jit_substrate_auth_expires_seconds')!.get()).values.find((v) => v.labels.substrate === instance);
      expect(gauge?.value).toBeGreaterThan(0);
      expect(gauge?.value).toBeLessThanOrEqual(4);
      await waitFor(() => events.some((e) => e.type === 'renewed' && e.capped), { what: 'a renewal capped at max TTL', timeoutMs: 15_000 });
      await waitFor(() => count(events, 'login') >= 2, { what: 'a new login before max TTL', timeoutMs: 15_000 });
      const logins = events.filter((e): e is Extract<VaultAuthEvent, { type: 'login' }> => e.type === 'login');
      expect(new Set(logins.map((l) => l.accessor)).size).toBe(logins.length);
      // the replaced token is revoked, not left to expire
      await waitFor(
        async () => {
          try {
            await f.root.write('auth/token/lookup-accessor', { accessor: logins[0]!.accessor });
            return false;
          } catch {
            return true;
          }
        },
        { what: 'the replaced login token to be revoked', timeoutMs: 10_000 },
      );
      await lifecycle(substrate);
      expect(count(events, 'login-failed')).toBe(0);
    } finally {
      await substrate.close();
    }
  }, 60_000);

  it('logs in again at once when Vault no longer knows its token (revoked under it), and the call that met the 403 succeeds', async () => {
    const events: VaultAuthEvent[] = [];
    // a long TTL: nothing but the refusal can cause the second login
    const longRole = `${uniqueName('long')}`;
    await f.root.write(`auth/${mount}/role/${longRole}`, { token_policies: [policy], token_ttl: '1h', token_max_ttl: '2h' });
    const longRoleId = (await f.root.read(`auth/${mount}/role/${longRole}/role-id`)).data.role_id;
    const longSecret = (await f.root.write(`auth/${mount}/role/${longRole}/secret-id`, {})).data.secret_id;
    const substrate = make(instance, { method: 'approle', mount, roleId: longRoleId, secretIdFile: secretFile('long-secret-id', longSecret) }, events);
    try {
      await waitFor(() => count(events, 'login') === 1, { what: 'the first login' });
      const first = events.find((e): e is Extract<VaultAuthEvent, { type: 'login' }> => e.type === 'login')!;
      await f.root.write('auth/token/revoke-accessor', { accessor: first.accessor });
      await lifecycle(substrate);
      expect(count(events, 'login')).toBe(2);
    } finally {
      await substrate.close();
    }
  }, 30_000);

  it('a wrong secret id fails with a named error that carries neither it nor the right one; a rotated file is picked up at the next login', async () => {
    const events: VaultAuthEvent[] = [];
    const wrong = `${secretId.slice(0, -6)}abcdef`;
    const file = secretFile('rotating-secret-id', wrong);
    const substrate = make(instance, { method: 'approle', mount, roleId, secretIdFile: file }, events);
    try {
      const err = await rejection(substrate.issue(request('gl-9-1-badsecret')));
      expect(err).toMatchObject({ code: 'JIT_ERR_VAULT_LOGIN_FAILED', retriable: true });
      expect(err.message).toContain(`auth/${mount}`);
      expect(JSON.stringify(err)).not.toContain(wrong);
      expect(JSON.stringify(err)).not.toContain(secretId);
      await waitFor(() => count(events, 'login-failed') >= 1, { what: 'a failed background login' });
      writeFileSync(file, secretId);
      await waitFor(() => count(events, 'login') >= 1, { what: 'a login with the rotated secret id', timeoutMs: 20_000 });
      await lifecycle(substrate);
    } finally {
      await substrate.close();
    }
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) {
      expect(line).not.toContain(secretId);
      expect(line).not.toContain(wrong);
    }
  }, 40_000);

  it('a missing secret-id file names the setting and path', async () => {
    const substrate = make(instance, { method: 'approle', mount, roleId, secretIdFile: join(dir, 'nope') }, []);
    try {
      await expect(substrate.issue(request('gl-9-2-nofile'))).rejects.toMatchObject({ code: 'JIT_ERR_VAULT_AUTH_FILE', retriable: true, message: expect.stringContaining('auth.secretIdFile') });
    } finally {
      await substrate.close();
    }
  });
});

describe('vault auth: JWT / Kubernetes service-account token (real OpenBao, key pair made here)', () => {
  let mount: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const instance = 'vault:k8s';
  const sub = 'system:serviceaccount:jit:jit-issuer';

  const jwt = (key: typeof privateKey, subject = sub) =>
    new SignJWT({ 'kubernetes.io': { namespace: 'jit', serviceaccount: { name: 'jit-issuer' } } })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('https://kubernetes.default.svc.cluster.local')
      .setSubject(subject)
      .setAudience('vault')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    mount = uniqueName('jwt').replace(/_/g, '-');
    await f.root.write(`sys/auth/${mount}`, { type: 'jwt' });
    // The cluster's service-account issuer key, as `jwt_validation_pubkeys` (Vault's documented
    // alternative to OIDC discovery for Kubernetes).
    await f.root.write(`auth/${mount}/config`, { jwt_validation_pubkeys: [await exportSPKI(pair.publicKey)] });
    await f.root.write(`auth/${mount}/role/jit-issuer`, {
      role_type: 'jwt',
      bound_audiences: ['vault'],
      bound_subject: sub,
      user_claim: 'sub',
      token_policies: [await adminPolicy(instance)],
      token_ttl: '1h',
    });
  });

  it('logs in with the service-account token file (method kubernetes on a jwt mount: the same login call) and runs a grant lifecycle', async () => {
    const events: VaultAuthEvent[] = [];
    const token = await jwt(privateKey);
    const substrate = make(instance, { method: 'kubernetes', mount, role: 'jit-issuer', jwtFile: secretFile('sa-token', token) }, events);
    try {
      await lifecycle(substrate);
      expect(events.filter((e) => e.type === 'login')).toHaveLength(1);
    } finally {
      await substrate.close();
    }
    for (const line of logLines) expect(line).not.toContain(token);
  });

  it('a JWT signed by another key is refused with a named error carrying no part of the JWT', async () => {
    const other = await generateKeyPair('RS256');
    const forged = await jwt(other.privateKey);
    const events: VaultAuthEvent[] = [];
    const substrate = make(instance, { method: 'jwt', mount, role: 'jit-issuer', jwtFile: secretFile('forged-token', forged) }, events);
    try {
      const err = await rejection(substrate.issue(request('gl-9-3-forged')));
      expect(err).toMatchObject({ code: 'JIT_ERR_VAULT_LOGIN_FAILED', retriable: true });
      const [, payload, signature] = forged.split('.');
      expect(JSON.stringify({ message: err.message, cause: String(err.cause) })).not.toContain(payload!);
      expect(err.message).not.toContain(signature!);
    } finally {
      await substrate.close();
    }
    for (const line of logLines) expect(line).not.toContain(forged.split('.')[1]!);
  });
});
