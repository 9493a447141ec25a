import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { createVaultSubstrate } from './vault-substrate';
import { vaultConfigSchema, type VaultClientLike } from './vault-config';

type Call = { op: 'read' | 'write' | 'list' | 'delete'; path: string; data?: any; headers?: Record<string, string> };

/** A node-vault double: records calls, answers from `respond`. */
function fakeClient(respond: (c: Call) => any) {
  const calls: Call[] = [];
  const run = async (c: Call) => {
    calls.push(c);
    const r = respond(c);
    if (r instanceof Error) throw r;
    return r;
  };
  const client: VaultClientLike = {
    read: (path, o) => run({ op: 'read', path, headers: o?.headers }),
    write: (path, data, o) => run({ op: 'write', path, data, headers: o?.headers }),
    list: (path) => run({ op: 'list', path }),
    delete: (path) => run({ op: 'delete', path }),
  };
  return { calls, client };
}

const vaultError = (status: number, errors: string[] = []) => Object.assign(new Error(`Status ${status}`), { response: { statusCode: status, body: { errors } } });
const logger = createLogger({ name: 'vault-unit', level: 'silent' });
const make = (client: VaultClientLike, name = 'vault') =>
  createVaultSubstrate(vaultConfigSchema.parse({ addr: 'http://127.0.0.1:1', token: 'adm1n-T0KEN-value', tokenRole: 'jit-role' }), {
    logger,
    name,
    clientFactory: () => client,
    now: () => new Date('2030-01-01T00:00:00Z'),
  });
const req = (scope: Record<string, unknown>, over: Partial<IssueRequest> = {}): IssueRequest => ({
  grantId: 'gl-1-2-abc',
  elevationId: 'gl-1-2',
  requester: 'alice',
  target: 't',
  scopeName: 's',
  scope,
  connection: {},
  ttlSeconds: 900,
  ...over,
});

describe('vault substrate (unit, fake client)', () => {
  it('creates a non-renewable token with ttl = explicit_max_ttl, grant meta and display name, via a plain write', async () => {
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: [] } };
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.SECRETTOKEN123', accessor: 'acc1', lease_duration: 900, orphan: true } };
    });
    const out = await make(f.client).issue(req({ mode: 'token', policies: ['orders-write'] }));
    const create = f.calls.find((c) => c.path === 'auth/token/create/jit-role');
    expect(create?.data).toEqual({
      policies: ['orders-write'],
      ttl: '900s',
      explicit_max_ttl: '900s',
      renewable: false,
      no_default_policy: true,
      display_name: 'jit-gl-1-2-abc',
      meta: { jit_grant: 'gl-1-2-abc', jit_instance: 'vault', jit_deployment: 'jit-role', jit_elevation: 'gl-1-2', jit_requester: 'alice', jit_mode: 'token' },
    });
    // created through the token role, then indexed; the only listing is of jit's own index
    expect(f.calls.filter((c) => c.op !== 'read').map((c) => `${c.op} ${c.path}`)).toEqual([
      'list secret/metadata/jit/jit-role/vault/gl-1-2-abc', // only this grant's folder: O(1) in other grants
      'write auth/token/create/jit-role',
      'write secret/data/jit/jit-role/vault/gl-1-2-abc/acc1',
    ]);
    expect(out.secret).toEqual({ token: 's.SECRETTOKEN123', accessor: 'acc1' });
    expect(out.handle).toEqual({ kind: 'vault', grantId: 'gl-1-2-abc', ref: { mode: 'token', accessor: 'acc1' }, expiresAt: '2030-01-01T00:15:00.000Z' });
    expect(JSON.stringify(out.handle)).not.toContain('SECRETTOKEN');
  });

  it('a token the role made as a child of jit (orphan=false) or tied to an entity is revoked at once and the issue refused', async () => {
    for (const auth of [{ orphan: false }, { orphan: true, entity_id: 'ent-1' }]) {
      const f = fakeClient((c) => {
        if (c.op === 'list') return { data: { keys: [] } };
        if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.CHILD', accessor: 'child-acc', lease_duration: 900, ...auth } };
        return {};
      });
      const err = await make(f.client)
        .issue(req({ mode: 'token', policies: ['p'] }))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', retriable: false, message: expect.stringContaining('orphan=true') });
      expect(f.calls.filter((c) => c.path === 'auth/token/revoke-accessor').map((c) => c.data)).toEqual([{ accessor: 'child-acc' }]);
      expect(f.calls.some((c) => c.op === 'write' && c.path.startsWith('secret/data/'))).toBe(false); // never indexed
      expect(String(err)).not.toContain('s.CHILD');
    }
  });

  it('a grant revoked while its issue runs (the revoke wrote its marker after the first check) loses what the issue created', async () => {
    let markerReads = 0;
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: [] } };
      if (c.op === 'read' && c.path.includes('/revoked~/')) return ++markerReads === 1 ? {} : { data: { data: { grant: 'gl-1-2-abc' } } };
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.LATE', accessor: 'late-acc', lease_duration: 900, orphan: true } };
      return {};
    });
    const err = await make(f.client)
      .issue(req({ mode: 'token', policies: ['p'] }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_VAULT_GRANT_REVOKED', retriable: false });
    expect(f.calls.filter((c) => c.path === 'auth/token/revoke-accessor').map((c) => c.data)).toEqual([{ accessor: 'late-acc' }]);
    expect(String(err)).not.toContain('s.LATE');
  });

  it('listIssued reads only its own index: one list per grant folder, a lookup per accessor; a forged entry is ignored and a gone one dropped', async () => {
    const base = 'secret/metadata/jit/jit-role/vault';
    const f = fakeClient((c) => {
      if (c.op === 'list' && c.path === base) return { data: { keys: ['gl-1-2-abc/', 'gl-9-9-def/', 'stray-entry'] } };
      if (c.op === 'list' && c.path === `${base}/gl-1-2-abc`) return { data: { keys: ['mine', 'gone'] } };
      if (c.op === 'list' && c.path === `${base}/gl-9-9-def`) return { data: { keys: ['forged'] } };
      if (c.path === 'auth/token/lookup-accessor') {
        if (c.data.accessor === 'gone') return vaultError(400, ['invalid accessor']);
        if (c.data.accessor === 'forged') return { data: { meta: { jit_grant: 'gl-9-9-def', jit_instance: 'vault', jit_deployment: 'another-deployment' } } };
        return { data: { expire_time: '2030-01-01T00:10:00Z', meta: { jit_grant: 'gl-1-2-abc', jit_instance: 'vault', jit_deployment: 'jit-role', jit_mode: 'token' } } };
      }
      return {};
    });
    const handles = await make(f.client).listIssued();
    expect(handles.map((h) => [h.grantId, h.ref.accessor])).toEqual([['gl-1-2-abc', 'mine']]);
    expect(f.calls.some((c) => c.path === 'auth/token/accessors')).toBe(false);
    expect(f.calls.filter((c) => c.op === 'delete').map((c) => c.path)).toEqual([`${base}/gl-1-2-abc/gone`, `${base}/gl-9-9-def/forged`]);
  });

  it('reports the shorter expiry when Vault caps the TTL', async () => {
    const f = fakeClient((c) => (c.op === 'list' ? { data: { keys: [] } } : { auth: { client_token: 's.x', accessor: 'a', lease_duration: 60, orphan: true } }));
    const out = await make(f.client).issue(req({ mode: 'token', policies: ['p'] }));
    expect(out.expiresAt).toBe('2030-01-01T00:01:00.000Z');
  });

  it("revokes the grant's earlier token before issuing again (a retry leaves one live credential)", async () => {
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: ['mine', 'other-grant', 'foreign', 'vanished'] } };
      if (c.path === 'auth/token/lookup-accessor') {
        const meta: Record<string, Record<string, string>> = {
          mine: { jit_grant: 'gl-1-2-abc', jit_instance: 'vault', jit_deployment: 'jit-role', jit_mode: 'token' },
          'other-grant': { jit_grant: 'gl-9', jit_instance: 'vault', jit_deployment: 'jit-role' },
          foreign: { owner: 'someone' },
        };
        if (c.data.accessor === 'vanished') return vaultError(400, ['1 error occurred:\n\t* invalid accessor\n\n']);
        return { data: { meta: meta[c.data.accessor], expire_time: '2030-01-01T00:10:00Z' } };
      }
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.new', accessor: 'new', lease_duration: 900, orphan: true } };
      return {};
    });
    await make(f.client).issue(req({ mode: 'token', policies: ['p'] }));
    const revoked = f.calls.filter((c) => c.path === 'auth/token/revoke-accessor').map((c) => c.data.accessor);
    expect(revoked).toEqual(['mine']);
    expect(f.calls.findIndex((c) => c.path === 'auth/token/revoke-accessor')).toBeLessThan(f.calls.findIndex((c) => c.path === 'auth/token/create/jit-role'));
  });

  it('database mode reads creds with the carrier token, not the admin one, and revokes the carrier if that fails', async () => {
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: [] } };
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.CARRIER', accessor: 'carrier-acc', lease_duration: 900, orphan: true } };
      if (c.path === 'database/creds/orders') return vaultError(403, ['permission denied']);
      return {};
    });
    const err = await make(f.client)
      .issue(req({ mode: 'database', role: 'orders' }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_DENIED', retriable: false });
    expect(f.calls.find((c) => c.path === 'database/creds/orders')?.headers).toEqual({ 'X-Vault-Token': 's.CARRIER' });
    expect(f.calls.at(-1)).toMatchObject({ path: 'auth/token/revoke-accessor', data: { accessor: 'carrier-acc' } });
    expect(JSON.stringify(err) + String(err) + String((err as Error).cause)).not.toContain('CARRIER');
  });

  it('keeps the admin token out of errors even when the client error carries the request headers', async () => {
    const axiosLike = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
      config: { headers: { 'X-Vault-Token': 'adm1n-T0KEN-value' } },
      toJSON() {
        return { config: this.config };
      },
    });
    const f = fakeClient(() => axiosLike);
    const err = (await make(f.client)
      .issue(req({ mode: 'token', policies: ['p'] }))
      .catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    for (const t of [JSON.stringify(err), String(err), err.stack, JSON.stringify(err.cause), String(err.cause), JSON.stringify(Object.entries(err.cause as object))]) {
      expect(t).not.toContain('adm1n-T0KEN');
    }
  });

  it('maps Vault statuses to retriable or not', async () => {
    for (const [status, code, retriable] of [
      [503, 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [500, 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [429, 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [403, 'JIT_ERR_SUBSTRATE_DENIED', false],
      [400, 'JIT_ERR_SUBSTRATE_REJECTED', false],
    ] as const) {
      const f = fakeClient((c) => (c.op === 'list' ? { data: { keys: [] } } : vaultError(status, ['x'])));
      await expect(make(f.client).issue(req({ mode: 'token', policies: ['p'] }))).rejects.toMatchObject({ code, retriable });
    }
  });

  it('revoke: gone is success; a foreign or other-grant accessor is refused without revoking', async () => {
    const f = fakeClient((c) => {
      if (c.path === 'auth/token/lookup-accessor') {
        if (c.data.accessor === 'gone') return vaultError(400, ['invalid accessor']);
        if (c.data.accessor === 'admin') return { data: { meta: null } };
        return { data: { meta: { jit_grant: 'gl-other', jit_instance: 'vault', jit_deployment: 'jit-role' } } };
      }
      return {};
    });
    const s = make(f.client);
    const h = (accessor: string) => ({ kind: 'vault', grantId: 'gl-1', ref: { mode: 'token', accessor }, expiresAt: '' });
    await s.revoke(h('gone'));
    await expect(s.revoke(h('admin'))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    await expect(s.revoke(h('someone-else'))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    for (const bad of [
      { ...h('a'), kind: 'postgres' },
      { ...h('a'), ref: { mode: 'token' } },
      { ...h('a'), ref: { mode: 'x', accessor: 'a' } },
      { ...h('a'), ref: { mode: 'token', accessor: '../../sys' } },
      { ...h('a'), ref: { mode: 'database', accessor: 'a', role: 'orders', leaseId: 'sys/raw/keyring' } },
      { ...h('a'), ref: { mode: 'database', accessor: 'a', role: 'orders', leaseId: 'database/creds/orders/../../x' } },
    ]) {
      await expect(s.revoke(bad as never)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    }
    expect(f.calls.some((c) => c.path === 'auth/token/revoke-accessor' || c.path === 'sys/leases/revoke')).toBe(false);
  });

  it('validateScope: modes, names, root policy, loginUrl without credentials; unrelated policy keys are ignored', () => {
    const s = make(fakeClient(() => ({})).client);
    expect(s.validateScope({ mode: 'token', policies: ['a', 'b'], tier: 'cosmetic' })).toEqual([]);
    expect(s.validateScope({ mode: 'database', role: 'orders_rw', loginUrl: 'postgres://db:5432/orders' })).toEqual([]);
    const bad: unknown[] = [
      null,
      [],
      'token',
      { mode: 'token' },
      { mode: 'token', policies: [] },
      { mode: 'token', policies: Array(21).fill('p') },
      { mode: 'token', policies: ['root'] },
      { mode: 'token', policies: ['a/b'] },
      { mode: 'token', policies: [42] },
      { mode: 'database' },
      { mode: 'database', role: 'a b' },
      { mode: 'database', role: 'x'.repeat(200) },
      { mode: 'database', role: 'r', loginUrl: 'postgres://u:p@h/d' },
      { mode: 'database', role: 'r', loginUrl: `postgres://h/${'d'.repeat(600)}` },
      { mode: 'database', role: 'r', loginUrl: 'not a url' },
      JSON.parse('{"__proto__": {"mode": "token"}, "policies": ["a"]}'),
    ];
    for (const b of bad) expect(s.validateScope(b).length, JSON.stringify(b)).toBeGreaterThan(0);
  });

  it('config errors: unknown keys and a non-URL address are refused', () => {
    expect(vaultConfigSchema.safeParse({ addr: 'nope', token: 't' }).success).toBe(false);
    expect(vaultConfigSchema.safeParse({ addr: 'http://x', token: 't', tokn: 'x' }).success).toBe(false);
    expect(vaultConfigSchema.safeParse({ addr: 'http://x', token: 't', databaseMount: '../sys' }).success).toBe(false);
  });
});

describe('vault substrate concurrency (unit, fake client)', () => {
  it('serialises concurrent issues of one grant so the later one revokes the earlier token', async () => {
    const live = new Map<string, string>(); // accessor -> grant
    let n = 0;
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: [...live.keys()] } };
      if (c.path === 'auth/token/lookup-accessor') return { data: { meta: { jit_grant: live.get(c.data.accessor), jit_instance: 'vault', jit_deployment: 'jit-role' } } };
      if (c.path === 'auth/token/revoke-accessor') return void live.delete(c.data.accessor);
      if (c.path === 'auth/token/create/jit-role') {
        const accessor = `acc${++n}`;
        live.set(accessor, c.data.meta.jit_grant);
        return { auth: { client_token: `s.tok${n}`, accessor, lease_duration: 900, orphan: true } };
      }
      return {};
    });
    const s = make(f.client);
    const outs = await Promise.all([1, 2, 3].map(() => s.issue(req({ mode: 'token', policies: ['p'] }))));
    expect(live.size).toBe(1);
    expect([...live.keys()]).toEqual([outs[2]?.secret.accessor]);
    // a different grant is not held up or touched
    await s.issue(req({ mode: 'token', policies: ['p'] }, { grantId: 'gl-other' }));
    expect(live.size).toBe(2);
  });
});

describe('vault substrate: any input', () => {
  it('validateScope never throws and never accepts a non-object', async () => {
    const { default: fc } = await import('fast-check');
    const s = make(fakeClient(() => ({})).client);
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 3 }), (scope) => {
        const problems = s.validateScope(scope);
        expect(Array.isArray(problems)).toBe(true);
        if (!scope || typeof scope !== 'object' || Array.isArray(scope)) expect(problems.length).toBeGreaterThan(0);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.array(fc.string({ maxLength: 200 }), { maxLength: 25 }), (role, policies) => {
        for (const p of s.validateScope({ mode: 'database', role })) expect(p.path).toBe('scope.role');
        const problems = s.validateScope({ mode: 'token', policies });
        if (policies.some((x) => x === 'root' || x.includes('/'))) expect(problems.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('vault substrate: lease revoke failures (unit, fake client)', () => {
  it('"failed to revoke entry" (backend down) is retriable and keeps the carrier', async () => {
    const f = fakeClient((c) => {
      if (c.path === 'auth/token/lookup-accessor') return { data: { meta: { jit_grant: 'gl-1', jit_instance: 'vault', jit_deployment: 'jit-role', jit_mode: 'database' } } };
      if (c.path === 'sys/leases/revoke') return vaultError(400, ['failed to revoke entry: resp: (*logical.Response)(nil) err: connect: connection refused']);
      return {};
    });
    const h = { kind: 'vault', grantId: 'gl-1', ref: { mode: 'database', accessor: 'acc', leaseId: 'database/creds/orders/abc', role: 'orders' }, expiresAt: '' };
    await expect(make(f.client).revoke(h)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UPSTREAM', retriable: true });
    expect(f.calls.some((c) => c.path === 'auth/token/revoke-accessor')).toBe(false);
  });
});

describe('vault substrate: logs', () => {
  it('log lines name grants and accessors but never a token or password', async () => {
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const destination = new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    });
    const f = fakeClient((c) => {
      if (c.op === 'list') return { data: { keys: [] } };
      if (c.path === 'auth/token/create/jit-role') return { auth: { client_token: 's.TOKEN-SECRET-1', accessor: 'acc-1', lease_duration: 900, orphan: true } };
      if (c.path === 'database/creds/orders') return { lease_id: 'database/creds/orders/L1', lease_duration: 900, data: { username: 'v-user', password: 'DB-PASSWORD-SECRET' } };
      if (c.path === 'auth/token/lookup-accessor') return { data: { meta: { jit_grant: 'gl-1-2-abc', jit_instance: 'vault', jit_deployment: 'jit-role' } } };
      return {};
    });
    const s = createVaultSubstrate(vaultConfigSchema.parse({ addr: 'http://127.0.0.1:1', token: 'adm1n-T0KEN-value', tokenRole: 'jit-role' }), {
      logger: createLogger({ name: 'v', level: 'debug', destination }),
      name: 'vault',
      clientFactory: () => f.client,
    });
    const t = await s.issue(req({ mode: 'token', policies: ['p'] }));
    const d = await s.issue(req({ mode: 'database', role: 'orders' }));
    await s.revoke(t.handle);
    await s.revoke(d.handle);
    const out = lines.join('');
    expect(out).toContain('vault token issued');
    expect(out).toContain('vault database credential issued');
    for (const secret of ['TOKEN-SECRET', 'DB-PASSWORD-SECRET', 'adm1n-T0KEN']) expect(out).not.toContain(secret);
  });
});
