// jit's static admin token rotated on a real OpenBao while it comes from a file (`tokenRef: file:`,
// a kubelet-style secret volume): the secret manager revokes the old token before the mounted file
// shows the new one. A call in that gap is refused retriably (JIT_ERR_VAULT_CREDENTIAL_REFUSED, warned),
// never as final as a denial; once the file holds the new token the next call uses it; no token
// reaches a log line or an error. The same for AppRole: the secret id destroyed on the server before
// the mounted file shows the new one, with a login needed in that gap (jit's token revoked).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import vaultFactory from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VaultAuthEvent } from './vault-auth';
import type { JitError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { readSecretFile } from '@jit/service';
import { atomicSecretDir } from '@jit/service/testing';
import type { IssueRequest } from '@jit/substrates';
import { getVault, uniqueName, waitFor } from '@jit/testing';
import { createVaultSubstrate } from './vault-substrate';
import { adminPolicyHcl, tokenRoleSettings, vaultConfigSchema, type VaultSubstrate } from './vault-config';

const lines: string[] = [];
const logger = createLogger({ name: 'vault-rotation', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
const dir = mkdtempSync(join(tmpdir(), 'jit-vault-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rejection = (p: Promise<unknown>): Promise<JitError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as JitError,
  );

describe('vault: jit’s own credential rotated in its file (tokenRef: file:, AppRole secretIdFile), the server first', () => {
  const instance = 'vault:rotation';
  let addr: string;
  let root: ReturnType<typeof vaultFactory>;
  let tokenRole: string;
  let adminPolicy: string;
  let readPolicy: string;
  let probePath: string;
  let s: VaultSubstrate | undefined;

  beforeAll(async () => {
    const v = await getVault();
    addr = v.addr;
    root = vaultFactory({ endpoint: addr, token: v.token });
    readPolicy = uniqueName('jit_rot_probe');
    probePath = `secret/data/${uniqueName('rot_probe')}`;
    await root.write(probePath, { data: { ok: 'yes' } });
    await root.write(`sys/policies/acl/${readPolicy}`, { policy: `path "${probePath}" { capabilities = ["read"] }` });
    tokenRole = uniqueName('jit_rot').replace(/_/g, '-');
    await root.write(`auth/token/roles/${tokenRole}`, tokenRoleSettings([readPolicy]));
    adminPolicy = uniqueName('jit_rot_admin');
    await root.write(`sys/policies/acl/${adminPolicy}`, { policy: adminPolicyHcl({ tokenRole, indexMount: 'secret', databaseMount: 'database' }, instance) });
  });
  afterAll(async () => {
    await s?.close();
  });

  const adminToken = async (): Promise<string> => (await root.write('auth/token/create-orphan', { policies: [adminPolicy], ttl: '10m' })).auth.client_token;
  const request = (grantId: string): IssueRequest => ({
    grantId,
    elevationId: grantId.split('-').slice(0, 3).join('-'),
    requester: 'alice',
    target: 'orders-vault',
    scopeName: 'read',
    scope: { mode: 'token', policies: [readPolicy] },
    connection: {},
    ttlSeconds: 600,
  });
  const grant = (n: number) => `gl-9-${n}-${uniqueName('sha').replace(/_/g, '')}`;
  const tokenWorks = async (token: string): Promise<boolean> => {
    const r = await fetch(`${addr}/v1/${probePath}`, { headers: { 'X-Vault-Token': token } });
    await r.arrayBuffer();
    return r.status === 200;
  };

  it('refuses retriably in the gap, then issues and revokes with the file’s new token', async () => {
    const first = await adminToken();
    const vol = atomicSecretDir(join(dir, 'vault'), { token: first });
    s = createVaultSubstrate(vaultConfigSchema.parse({ addr, token: readSecretFile(vol.path('token')), tokenRole }), {
      logger,
      name: instance,
      live: { token: () => readSecretFile(vol.path('token')) },
    });
    const before = await s.issue(request(grant(1)));
    expect(await tokenWorks(before.secret.token!)).toBe(true);

    // The secret manager's rotation: a new token, the old one revoked; the mounted file not yet synced.
    const second = await adminToken();
    await root.write('auth/token/revoke-orphan', { token: first });

    const issueInGap = await rejection(s.issue(request(grant(2))));
    expect(issueInGap).toMatchObject({ code: 'JIT_ERR_VAULT_CREDENTIAL_REFUSED', retriable: true });
    const revokeInGap = await rejection(s.revoke(before.handle));
    expect(revokeInGap).toMatchObject({ code: 'JIT_ERR_VAULT_CREDENTIAL_REFUSED', retriable: true });
    expect(lines.join('')).toContain("vault refused jit's token read from its file; retried");
    expect(await tokenWorks(before.secret.token!)).toBe(true);

    // kubelet syncs the volume: the next calls use the new token.
    vol.write({ token: second });
    const after = await s.issue(request(grant(3)));
    expect(await tokenWorks(after.secret.token!)).toBe(true);
    await s.revoke(before.handle);
    await s.revoke(after.handle);
    expect(await tokenWorks(before.secret.token!)).toBe(false);
    expect(await tokenWorks(after.secret.token!)).toBe(false);
    expect((await s.verifyRevoked(before.handle)).verified).toBe(true);
    expect(lines.join('')).toContain('the new one is used from now on');

    const seen = JSON.stringify({ lines, issueInGap: { m: issueInGap.message, c: String(issueInGap.cause) }, revokeInGap: { m: revokeInGap.message, c: String(revokeInGap.cause) } });
    for (const secret of [first, second]) expect(seen).not.toContain(secret);
  }, 60_000);

  it('an AppRole login refused in the gap (secret id destroyed, file not synced) is retriable; the file’s new secret id logs in', async () => {
    const mount = uniqueName('rot-approle').replace(/_/g, '-');
    await root.write(`sys/auth/${mount}`, { type: 'approle' });
    await root.write(`auth/${mount}/role/jit`, { token_policies: [adminPolicy], token_ttl: '1h', token_max_ttl: '2h', secret_id_num_uses: 0 });
    const roleId = (await root.read(`auth/${mount}/role/jit/role-id`)).data.role_id;
    const first = (await root.write(`auth/${mount}/role/jit/secret-id`, {})).data.secret_id;
    const vol = atomicSecretDir(join(dir, 'approle'), { 'secret-id': first });
    const events: VaultAuthEvent[] = [];
    const approle = createVaultSubstrate(vaultConfigSchema.parse({ addr, tokenRole, auth: { method: 'approle', mount, roleId, secretIdFile: vol.path('secret-id') } }), {
      logger,
      name: instance,
      onAuthEvent: (e) => events.push(e),
    });
    try {
      const before = await approle.issue(request(grant(4)));
      const login = events.find((e): e is Extract<VaultAuthEvent, { type: 'login' }> => e.type === 'login')!;
      // The rotation, server first: a new secret id, the old one destroyed; and jit's token ends, so it must log in.
      const second = (await root.write(`auth/${mount}/role/jit/secret-id`, {})).data.secret_id;
      await root.write(`auth/${mount}/role/jit/secret-id/destroy`, { secret_id: first });
      await root.write('auth/token/revoke-accessor', { accessor: login.accessor });

      const inGap = await rejection(approle.issue(request(grant(5))));
      expect(inGap).toMatchObject({ code: 'JIT_ERR_VAULT_LOGIN_FAILED', retriable: true });
      expect(lines.join('')).toContain('vault refused the login credential read from its file; retried');

      vol.write({ 'secret-id': second });
      const after = await approle.issue(request(grant(6)));
      expect(await tokenWorks(after.secret.token!)).toBe(true);
      await approle.revoke(before.handle);
      await approle.revoke(after.handle);
      await waitFor(() => events.filter((e) => e.type === 'login').length >= 2, { what: 'a login with the new secret id' });
      const seen = JSON.stringify({ lines, m: inGap.message, c: String(inGap.cause) });
      for (const secret of [first, second]) expect(seen).not.toContain(secret);
    } finally {
      await approle.close();
    }
  }, 60_000);
});
