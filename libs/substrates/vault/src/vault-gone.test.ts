// "Already gone" is success, everything else stays an error: the mapping of Vault's answers on
// the revoke path (unit, fake client). The real answers are pinned in vault-gone.int.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { VAULT_ERRORS } from './errors';
import { createVaultSubstrate } from './vault-substrate';
import { vaultConfigSchema, type VaultClientLike } from './vault-config';
import { isGoneAnswer, type VaultGoneOperation } from './vault-answers';

type Call = { op: 'read' | 'write' | 'list' | 'delete'; path: string; data?: any };

function fakeClient(respond: (c: Call) => any) {
  const calls: Call[] = [];
  const run = async (c: Call) => {
    calls.push(c);
    const r = respond(c);
    if (r instanceof Error) throw r;
    return r;
  };
  const client: VaultClientLike = {
    read: (path) => run({ op: 'read', path }),
    write: (path, data) => run({ op: 'write', path, data }),
    list: (path) => run({ op: 'list', path }),
    delete: (path) => run({ op: 'delete', path }),
  };
  return { calls, client };
}

/** The shape node-vault rejects with: the status and Vault's JSON body. */
const vaultError = (status: number, errors: unknown = []) => Object.assign(new Error(`Status ${status}`), { response: { statusCode: status, body: { errors } } });
const logger = createLogger({ name: 'vault-gone-unit', level: 'silent' });
const make = (client: VaultClientLike) =>
  createVaultSubstrate(vaultConfigSchema.parse({ addr: 'http://127.0.0.1:1', token: 'adm1n-T0KEN-value', tokenRole: 'jit-role' }), { logger, name: 'vault', clientFactory: () => client });
const mine = { data: { meta: { jit_grant: 'gl-1', jit_instance: 'vault', jit_deployment: 'jit-role', jit_mode: 'token' } } };
const tokenHandle = { kind: 'vault', grantId: 'gl-1', ref: { mode: 'token', accessor: 'acc' }, expiresAt: '' };
const dbHandle = { kind: 'vault', grantId: 'gl-1', ref: { mode: 'database', accessor: 'acc', leaseId: 'database/creds/orders/L1', role: 'orders' }, expiresAt: '' };
const writesTo = (calls: Call[], path: string) => calls.filter((c) => c.op === 'write' && c.path === path).length;

describe('isGoneAnswer: only the exact "no such token/lease" answers count', () => {
  const cases: [VaultGoneOperation, unknown, boolean][] = [
    // gone
    ['lookup accessor', vaultError(400, ['1 error occurred:\n\t* invalid accessor\n\n']), true],
    ['lookup accessor', vaultError(403, ['bad token']), true],
    ['revoke accessor', vaultError(400, ['token not found']), true],
    ['revoke accessor', vaultError(400, ['1 error occurred:\n\t* invalid accessor\n\n']), true],
    ['revoke lease', vaultError(400, ['invalid lease']), true],
    ['revoke lease', vaultError(400, ['lease not found']), true],
    ['lookup lease', vaultError(400, ['invalid lease']), true],
    // malformed requests: a 400 that is not "not found"
    ['lookup accessor', vaultError(400, ['1 error occurred:\n\t* missing accessor\n\n']), false],
    ['revoke accessor', vaultError(400, ['1 error occurred:\n\t* missing accessor\n\n']), false],
    ['revoke accessor', vaultError(400, ["failed to decode JSON input: invalid character 'a'"]), false],
    ['revoke lease', vaultError(400, ['lease_id must be specified']), false],
    ['revoke lease', vaultError(400, ['failed to revoke entry: connection refused']), false],
    // denials: the admin token's problem, never the credential's
    ['lookup accessor', vaultError(403, ['permission denied']), false],
    ['lookup accessor', vaultError(403, ['bad token', 'permission denied']), false],
    ['lookup accessor', vaultError(403, []), false],
    ['revoke accessor', vaultError(403, ['permission denied']), false],
    ['revoke lease', vaultError(403, ['permission denied']), false],
    // an unknown namespace or route is a misconfiguration, not a gone credential
    ['lookup accessor', vaultError(404, ['namespace not found']), false],
    ['lookup accessor', vaultError(404, []), false],
    ['revoke accessor', vaultError(404, ['no handler for route "auth/token/revoke-accessor". route entry not found.']), false],
    ['revoke lease', vaultError(404, []), false],
    // server-side and transport failures, whatever text they carry
    ['lookup accessor', vaultError(500, ['invalid accessor']), false],
    ['revoke accessor', vaultError(503, ['token not found']), false],
    ['revoke lease', vaultError(502, ['invalid lease']), false],
    ['revoke accessor', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), false],
    // hostile / odd shapes
    ['lookup accessor', null, false],
    ['lookup accessor', 'invalid accessor', false],
    ['lookup accessor', { response: { statusCode: 400, body: { errors: 'invalid accessor' } } }, false],
    ['lookup accessor', { response: { statusCode: '400', body: { errors: ['invalid accessor'] } } }, false],
    ['revoke accessor', { response: { statusCode: 400, body: null } }, false],
    ['revoke accessor', vaultError(400, ['not a token not foundx']), false],
  ];
  it.each(cases)('%s %#', (op, err, gone) => {
    expect(isGoneAnswer(op, err)).toBe(gone);
  });
});

describe('vault revoke: already gone is success (unit, fake client)', () => {
  it('a token past its expiry that Vault has not reaped yet (lookup 403 "bad token") is revoked, and verified unusable', async () => {
    const f = fakeClient((c) => (c.path === 'auth/token/lookup-accessor' ? vaultError(403, ['bad token']) : {}));
    const s = make(f.client);
    await s.revoke(tokenHandle);
    expect(writesTo(f.calls, 'auth/token/revoke-accessor')).toBe(0);
    expect(await s.verifyRevoked(tokenHandle)).toMatchObject({ verified: true });
  });

  it('the token expiring between the lookup and the revoke (400 "token not found") is success', async () => {
    const f = fakeClient((c) => {
      if (c.path === 'auth/token/lookup-accessor') return mine;
      if (c.path === 'auth/token/revoke-accessor') return vaultError(400, ['token not found']);
      return {};
    });
    await expect(make(f.client).revoke(tokenHandle)).resolves.toBeUndefined();
    expect(writesTo(f.calls, 'auth/token/revoke-accessor')).toBe(1);
  });

  it('OpenBao\'s 200 "No token found with this accessor" and an old Vault\'s 400 "invalid accessor" are success', async () => {
    for (const answer of [{ data: null, warnings: ['No token found with this accessor'] }, vaultError(400, ['1 error occurred:\n\t* invalid accessor\n\n'])]) {
      const f = fakeClient((c) => (c.path === 'auth/token/lookup-accessor' ? mine : c.path === 'auth/token/revoke-accessor' ? answer : {}));
      await expect(make(f.client).revoke(tokenHandle)).resolves.toBeUndefined();
    }
  });

  it('database mode: a lease already gone (400 "invalid lease") still revokes the carrier; a gone carrier is not revoked again', async () => {
    const f = fakeClient((c) => {
      if (c.path === 'auth/token/lookup-accessor') return mine;
      if (c.path === 'sys/leases/revoke') return vaultError(400, ['invalid lease']);
      return {};
    });
    await make(f.client).revoke(dbHandle);
    // the grant's revoked marker goes first, so a late issue of it is refused from then on
    expect(f.calls.filter((c) => c.op === 'write').map((c) => c.path)).toEqual([
      'auth/token/lookup-accessor',
      'secret/data/jit/jit-role/vault/revoked~/gl-1',
      'sys/leases/revoke',
      'auth/token/revoke-accessor',
    ]);

    const g = fakeClient((c) => (c.path === 'auth/token/lookup-accessor' ? vaultError(400, ['invalid accessor']) : c.path === 'sys/leases/revoke' ? undefined : {}));
    await make(g.client).revoke(dbHandle);
    expect(g.calls.filter((c) => c.op === 'write').map((c) => c.path)).toEqual(['auth/token/lookup-accessor', 'secret/data/jit/jit-role/vault/revoked~/gl-1', 'sys/leases/revoke']);
  });

  it('an issue retry is not broken by an earlier token of the grant expiring mid-scan', async () => {
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: ['expiring', 'other'] } };
      if (c.path === 'auth/token/lookup-accessor') return c.data.accessor === 'expiring' ? vaultError(403, ['bad token']) : { data: { meta: { owner: 'x' } } };
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.new', accessor: 'new', lease_duration: 900, orphan: true } };
      return {};
    });
    const out = await make(f.client).issue({
      grantId: 'gl-1',
      elevationId: 'gl-1',
      requester: 'a',
      target: 't',
      scopeName: 's',
      scope: { mode: 'token', policies: ['p'] },
      connection: {},
      ttlSeconds: 60,
    });
    expect(out.handle.ref.accessor).toBe('new');
  });
});

describe('vault revoke: real failures stay failures (unit, fake client)', () => {
  const table: [string, string, unknown, string, boolean][] = [
    ['lookup: admin token lacks the right', 'auth/token/lookup-accessor', vaultError(403, ['permission denied']), 'JIT_ERR_SUBSTRATE_DENIED', false],
    ['lookup: unknown namespace', 'auth/token/lookup-accessor', vaultError(404, ['namespace not found']), 'JIT_ERR_VAULT_NOT_FOUND', false],
    ['lookup: malformed request', 'auth/token/lookup-accessor', vaultError(400, ['missing accessor']), 'JIT_ERR_SUBSTRATE_REJECTED', false],
    ['lookup: sealed / overloaded', 'auth/token/lookup-accessor', vaultError(503, ['Vault is sealed']), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
    ['lookup: connection reset', 'auth/token/lookup-accessor', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
    ['revoke: admin token lacks the right', 'auth/token/revoke-accessor', vaultError(403, ['permission denied']), 'JIT_ERR_SUBSTRATE_DENIED', false],
    ['revoke: malformed request', 'auth/token/revoke-accessor', vaultError(400, ['missing accessor']), 'JIT_ERR_SUBSTRATE_REJECTED', false],
    ['revoke: route not found', 'auth/token/revoke-accessor', vaultError(404, ['no handler for route']), 'JIT_ERR_VAULT_NOT_FOUND', false],
    ['revoke: server error', 'auth/token/revoke-accessor', vaultError(500, ['internal error']), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
    ['revoke: timeout', 'auth/token/revoke-accessor', Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }), 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
    ['lease: malformed request', 'sys/leases/revoke', vaultError(400, ['lease_id must be specified']), 'JIT_ERR_SUBSTRATE_REJECTED', false],
    ['lease: admin token lacks the right', 'sys/leases/revoke', vaultError(403, ['permission denied']), 'JIT_ERR_SUBSTRATE_DENIED', false],
    ['lease: database down', 'sys/leases/revoke', vaultError(400, ['failed to revoke entry: connection refused']), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
    ['lease: server error', 'sys/leases/revoke', vaultError(502, []), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
  ];
  it.each(table)('%s', async (_label, failingPath, answer, code, retriable) => {
    const f = fakeClient((c) => (c.path === failingPath ? answer : c.path === 'auth/token/lookup-accessor' ? mine : {}));
    const err = await make(f.client)
      .revoke(dbHandle)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code, retriable });
    // a failed lookup or lease revoke never goes on to revoke the carrier (the grant stays findable)
    if (failingPath !== 'auth/token/revoke-accessor') expect(writesTo(f.calls, 'auth/token/revoke-accessor')).toBe(0);
    expect(JSON.stringify(err) + String(err) + String((err as Error).cause)).not.toContain('adm1n-T0KEN');
  });

  it('verifyRevoked does not call a credential gone when Vault answers 404, 403 "permission denied" or 5xx', async () => {
    for (const answer of [vaultError(404, ['namespace not found']), vaultError(403, ['permission denied']), vaultError(503, [])]) {
      const f = fakeClient((c) => (c.path === 'auth/token/lookup-accessor' ? answer : {}));
      await expect(make(f.client).verifyRevoked(tokenHandle)).rejects.toMatchObject({ retriable: answer.response.statusCode >= 500 });
    }
  });
});

describe('vault error catalogue', () => {
  it('documents every code under "## substrate-vault" in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    expect(doc).toContain('## substrate-vault');
    const section = doc.slice(doc.indexOf('## substrate-vault')).split(/\n## /)[0] ?? '';
    for (const e of VAULT_ERRORS) {
      expect(section, e.code).toMatch(new RegExp(`\\| \`${e.code}\` \\| ${e.retriable ? 'yes' : 'no'} \\|`));
    }
  });
});
