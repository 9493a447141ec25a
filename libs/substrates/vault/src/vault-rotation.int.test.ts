// jit's static admin token rotated on a real OpenBao while it comes from a file (`tokenRef: file:`,
// a kubelet-style secret volume): the secret manager revokes the old token before the mounted file
// shows the new one. A call in that gap is refused retriably (JIT_ERR_VAULT_CREDENTIAL_REFUSED, warned),
// never as final as a denial; once the file holds the new token the next call uses it; no token
// reaches a log line or an error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import vaultFactory from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JitError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { readSecretFile } from '@jit/service';
import { atomicSecretDir } from '@jit/service/testing';
import type { IssueRequest } from '@jit/substrates';
import { getVault, uniqueName } from '@jit/testing';
import { adminPolicyHcl, createVaultSubstrate, tokenRoleSettings, vaultConfigSchema, type VaultSubstrate } from './vault-substrate';

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

describe('vault: jit’s static token rotated in its file (tokenRef: file:), the server first', () => {
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
});
