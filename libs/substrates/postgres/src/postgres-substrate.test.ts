import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PgPoolLike } from './postgres-config';
import { roleNameFor } from './grant-role';
import { isTransientConflict } from './pg-errors';

type Responder = (text: string, values?: unknown[]) => { rows: any[] } | Error | undefined;

/** A pg Pool double: records every statement, answers from `respond` (default: no rows). */
function fakePool(respond: Responder = () => undefined) {
  const log: string[] = [];
  const configs: unknown[] = [];
  let ended = 0;
  const run = async (text: string, values?: unknown[]) => {
    log.push(text);
    const r = respond(text, values);
    if (r instanceof Error) throw r;
    return r ?? { rows: [] };
  };
  const pool: PgPoolLike = {
    query: run,
    connect: async () => ({ query: run, release: () => undefined }),
    end: async () => {
      ended++;
    },
  };
  return { log, configs, pool, factory: (c: unknown) => (configs.push(c), pool), ended: () => ended };
}

function logger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(c, _e, cb) {
      lines.push(String(c));
      cb();
    },
  });
  return { lines, logger: createLogger({ name: 'pg-test', destination, level: 'debug' }) };
}

const ADMIN = 'postgres://admin:adm1n-pw-XYZ@db.internal:6543/orders';
const req = (over: Partial<IssueRequest> = {}): IssueRequest => ({
  grantId: 'gl-7-3-abc123',
  elevationId: 'gl-7-3',
  requester: 'alice',
  target: 'orders-db',
  scopeName: 'write',
  scope: { tier: 'reversible-write', grant: 'INSERT, UPDATE ON ALL TABLES IN SCHEMA app' },
  connection: {},
  ttlSeconds: 1800,
  ...over,
});
const make = (f: ReturnType<typeof fakePool>, extra: Record<string, unknown> = {}) => {
  const { logger: log, lines } = logger();
  const s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl: ADMIN, ...extra }), {
    logger: log,
    name: 'postgres',
    poolFactory: f.factory as never,
    now: () => new Date('2030-01-01T00:00:00Z'),
  });
  return { s, lines };
};

describe('postgres substrate (unit, fake pool)', () => {
  it('issues a role named after the grant with a SCRAM verifier, its comment, USAGE and the parsed grant', async () => {
    const f = fakePool();
    const { s, lines } = make(f);
    const out = await s.issue(req());
    const role = 'jit_gl-7-3-abc123';
    expect(out.secret).toMatchObject({ user: role, host: 'db.internal', port: '6543', database: 'orders' });
    expect(out.secret.url).toBe(`postgres://${role}:${out.secret.password}@db.internal:6543/orders`);
    expect(out.handle).toEqual({ kind: 'postgres', grantId: 'gl-7-3-abc123', ref: { role, server: 'db.internal:6543/orders' }, expiresAt: '2030-01-01T00:30:00.000Z' });
    const sql = f.log.join('\n');
    expect(sql).toContain(`CREATE ROLE "${role}" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT LOGIN PASSWORD 'SCRAM-SHA-256$4096:`);
    expect(sql).toContain(`VALID UNTIL '2030-01-01T00:30:00.000Z' CONNECTION LIMIT 5`);
    expect(sql).toContain(`COMMENT ON ROLE "${role}" IS '{"jit":1,"grantId":"gl-7-3-abc123"`);
    expect(sql).toContain(`GRANT CONNECT ON DATABASE "orders" TO "${role}"`);
    expect(sql).toContain(`GRANT USAGE ON SCHEMA "app" TO "${role}"`);
    expect(sql).toContain(`GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA "app" TO "${role}"`);
    expect(f.log[0]).toBe('BEGIN');
    expect(f.log.at(-2)).toBe('COMMIT');
    expect(f.log.at(-1)).toMatch(/rolcanlogin\) AS "canLogin"$/); // a revoke meanwhile? (checked once the role is committed)
    // the password never goes to the server or the log in clear
    expect(sql).not.toContain(out.secret.password);
    expect(lines.join('')).not.toContain(out.secret.password);
    expect(lines.join('')).not.toContain('adm1n-pw');
    expect(JSON.stringify(f.configs)).toContain('adm1n-pw'); // ...while the pool does get the admin URL
    // every admin session sees only the catalogue on its path
    expect(f.configs).toEqual([expect.objectContaining({ options: '-c search_path=pg_catalog,pg_temp' })]);
  });

  it('refuses an admin URL that sets session options (they would override the pinned search_path)', () => {
    expect(() => make(fakePool(), { adminUrl: `${ADMIN}?options=-c%20search_path%3Dpublic` })).toThrow(
      expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_INVALID_CONFIG', message: expect.stringMatching(/sets `options`/) }),
    );
  });

  it('a scope connectionLimit overrides the instance default', async () => {
    const f = fakePool();
    await make(f, { connectionLimit: 3 }).s.issue(req({ scope: { grant: 'SELECT ON ALL TABLES IN SCHEMA app', connectionLimit: 2 } }));
    expect(f.log.find((t) => t.startsWith('CREATE ROLE'))).toContain('CONNECTION LIMIT 2');
    const g = fakePool();
    await make(g, { connectionLimit: 3 }).s.issue(req());
    expect(g.log.find((t) => t.startsWith('CREATE ROLE'))).toContain('CONNECTION LIMIT 3');
  });

  it('re-issuing an existing jit role of the same grant rotates its password instead of creating a second role', async () => {
    const f = fakePool((t) => (t.startsWith('SELECT pg_catalog.shobj_description') ? { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-7-3-abc123', expiresAt: 'x' }) }] } : undefined));
    const { s } = make(f);
    await s.issue(req());
    expect(f.log.some((t) => t.startsWith('ALTER ROLE "jit_gl-7-3-abc123" WITH PASSWORD'))).toBe(true);
    expect(f.log.some((t) => t.startsWith('CREATE ROLE'))).toBe(false);
  });

  it.each([
    ['whose revoke has begun (NOLOGIN)', { jit: 1, grantId: 'gl-7-3-abc123', expiresAt: 'x' }],
    ["that is the revoked grant's tombstone", { jit: 1, grantId: 'gl-7-3-abc123', expiresAt: 'x', revokedAt: '2029-12-31T23:00:00.000Z' }],
  ])('refuses to revive a role %s: a late issue must not undo a revoke', async (_n, meta) => {
    const f = fakePool((t) => (t.startsWith('SELECT pg_catalog.shobj_description') ? { rows: [{ comment: JSON.stringify(meta), rolcanlogin: false }] } : undefined));
    await expect(make(f).s.issue(req())).rejects.toMatchObject({ code: 'JIT_ERR_POSTGRES_GRANT_REVOKED', retriable: false, message: expect.stringContaining('gl-7-3-abc123') });
    expect(f.log.some((t) => /^(ALTER|CREATE) ROLE/.test(t))).toBe(false);
  });

  it('a grant revoked while its issue runs (its role NOLOGIN once the issue has committed) is refused, the password not handed out', async () => {
    const f = fakePool((t) => (t.includes('AS "canLogin"') ? { rows: [{ canLogin: false }] } : undefined));
    const { s, lines } = make(f);
    const err = await s.issue(req()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_POSTGRES_GRANT_REVOKED', retriable: false });
    expect(f.log.indexOf('COMMIT')).toBeLessThan(f.log.findIndex((t) => t.includes('AS "canLogin"')));
    expect(lines.join('')).toContain('revoked while this issue ran');
  });

  it("two of jit's transactions creating one role name at once is a transient conflict (the loser runs again and finds the role)", () => {
    expect(isTransientConflict(Object.assign(new Error('duplicate key value violates unique constraint "pg_authid_rolname_index"'), { code: '23505', constraint: 'pg_authid_rolname_index' }))).toBe(
      true,
    );
    expect(isTransientConflict(Object.assign(new Error('role "jit_g" already exists'), { code: '42710' }))).toBe(true);
    expect(isTransientConflict(Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), { code: '23505', constraint: 'orders_pkey' }))).toBe(false);
    expect(isTransientConflict(Object.assign(new Error('trigger "t" for relation "x" already exists'), { code: '42710' }))).toBe(false);
  });

  it("refuses to take over a role with jit's name that jit did not create", async () => {
    const f = fakePool((t) => (t.startsWith('SELECT pg_catalog.shobj_description') ? { rows: [{ comment: 'created by hand' }] } : undefined));
    const { s } = make(f);
    await expect(s.issue(req())).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', retriable: false });
    expect(f.log).toContain('ROLLBACK');
    expect(f.log.some((t) => /^(ALTER|CREATE) ROLE/.test(t))).toBe(false);
  });

  it('never executes a hostile scope', async () => {
    const f = fakePool();
    const { s } = make(f);
    for (const grant of ['SELECT ON s.t; DROP ROLE postgres', 'ALL PRIVILEGES ON DATABASE orders', 'SUPERUSER', 'postgres', 'SELECT ON pg_authid']) {
      expect(s.validateScope({ grant }).length).toBeGreaterThan(0);
      await expect(s.issue(req({ scope: { grant } }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE' });
    }
    expect(s.validateScope({ grant: ['SELECT ON s.a', 'SELECT ON s.b; x'] })).toEqual([expect.objectContaining({ path: 'scope.grant[1]' })]);
    expect(s.validateScope({ grant: Array(21).fill('SELECT ON s.a') })[0]?.message).toMatch(/more than 20/);
    for (const connectionLimit of [0, 101, 2.5, '5', null]) {
      expect(s.validateScope({ grant: 'SELECT ON s.a', connectionLimit })).toEqual([expect.objectContaining({ path: 'scope.connectionLimit' })]);
    }
    expect(s.validateScope({ grant: 'SELECT ON s.a', connectionLimit: 100 })).toEqual([]);
    expect(s.validateScope({ tier: 'x' })[0]?.path).toBe('scope.grant');
    expect(f.log).toEqual([]);
  });

  it('maps SQLSTATEs and connection failures to retriable or not', async () => {
    const cases: [Error, string, boolean][] = [
      [Object.assign(new Error('permission denied to create role'), { code: '42501' }), 'JIT_ERR_SUBSTRATE_DENIED', false],
      [Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }), 'JIT_ERR_SUBSTRATE_REJECTED', false],
      [Object.assign(new Error('deadlock'), { code: '40P01' }), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [Object.assign(new Error('tuple concurrently updated'), { code: 'XX000' }), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [Object.assign(new Error('could not read block 7'), { code: 'XX000' }), 'JIT_ERR_SUBSTRATE_FAILED', false],
      [Object.assign(new Error('terminating connection'), { code: '57P01' }), 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
      [new Error('Connection terminated unexpectedly'), 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
    ];
    for (const [e, code, retriable] of cases) {
      const f = fakePool((t) => (t.startsWith('GRANT INSERT') ? e : undefined));
      await expect(make(f).s.issue(req())).rejects.toMatchObject({ code, retriable });
    }
    const refused = fakePool();
    refused.pool.connect = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    await expect(make(refused).s.issue(req())).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
  });

  it('rejects bad requests before touching the server', async () => {
    const f = fakePool();
    const { s } = make(f, { maxTtlSeconds: 3600 });
    await expect(s.issue(req({ ttlSeconds: 0 }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    await expect(s.issue(req({ ttlSeconds: 1.5 }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    await expect(s.issue(req({ ttlSeconds: 7200 }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG' });
    await expect(s.issue(req({ grantId: 'x'.repeat(201) }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    await expect(s.issue(req({ connection: { url: 'mysql://a:b@h/d' } }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    const err = await s.issue(req({ connection: { url: 'not a url with hunter2-pass' } })).catch((e: unknown) => e);
    expect(JSON.stringify(err) + String(err)).not.toContain('hunter2');
    expect(f.log).toEqual([]);
  });

  it('revoke refuses handles it did not make and handles whose role is not the grant’s', async () => {
    const f = fakePool();
    const { s } = make(f);
    const good = { kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '' };
    for (const bad of [
      { ...good, kind: 'vault' },
      { ...good, ref: {} },
      { ...good, ref: { ...good.ref, role: 'postgres' } },
      { ...good, ref: { ...good.ref, role: 'jit_gl-2' } },
      { ...good, ref: { ...good.ref, server: 'elsewhere:5432/x' } },
    ]) {
      await expect(s.revoke(bad)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    }
    expect(f.log).toEqual([]);
  });

  it("revoke: NOLOGIN committed first, then sessions terminated, then leftovers, REASSIGN to the leftover owner, DROP OWNED and the role kept as the grant's tombstone", async () => {
    let sessions = 2;
    const meta = { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-1', expiresAt: 'x' }), admin_super: true }] };
    const f = fakePool((t) => {
      if (t.startsWith('SELECT pg_catalog.shobj_description')) return meta;
      if (t.startsWith('SELECT pg_catalog.pg_try_advisory_xact_lock')) return { rows: [{ got: true }] };
      if (t.startsWith('SELECT pg_catalog.pg_terminate_backend')) sessions = Math.max(0, sessions - 1);
      if (t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n')) return { rows: [{ n: sessions }] };
      return undefined;
    });
    const { s } = make(f);
    await s.revoke({ kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '' });
    // the catalogue reads in between are left out; the statements that change something, in order:
    const seq = f.log.filter((t) => !/^\s*SELECT/.test(t) || /^SELECT pg_catalog\.(pg_terminate|count)/.test(t));
    expect(seq).toEqual([
      'BEGIN',
      'ALTER ROLE "jit_gl-1" WITH NOLOGIN',
      'COMMIT',
      expect.stringMatching(/^SELECT pg_catalog\.pg_terminate_backend/),
      expect.stringMatching(/^SELECT pg_catalog\.count/),
      expect.stringMatching(/^SELECT pg_catalog\.pg_terminate_backend/),
      expect.stringMatching(/^SELECT pg_catalog\.count/),
      'BEGIN', // the role's privileges, in a transaction of their own (nothing granted here, so no REVOKE)
      'COMMIT',
      'BEGIN',
      'SAVEPOINT jit_owner',
      expect.stringMatching(/^CREATE ROLE "jitleftovers" WITH NOLOGIN NOSUPERUSER .* NOINHERIT$/),
      expect.stringMatching(/^COMMENT ON ROLE "jitleftovers"/),
      'RELEASE SAVEPOINT jit_owner',
      'REASSIGN OWNED BY "jit_gl-1" TO "jitleftovers"',
      'DROP OWNED BY "jit_gl-1"',
      `ALTER ROLE "jit_gl-1" WITH NOLOGIN PASSWORD NULL VALID UNTIL 'epoch' CONNECTION LIMIT 0`,
      `COMMENT ON ROLE "jit_gl-1" IS '{"jit":1,"grantId":"gl-1","expiresAt":"x","revokedAt":"2030-01-01T00:00:00.000Z"}'`,
      'COMMIT',
    ]);
    expect(f.log.some((t) => t.startsWith('DROP ROLE'))).toBe(false);
    expect(f.log.join('\n')).not.toMatch(/TO CURRENT_USER/); // a superuser admin needs no membership, and never receives objects
  });

  it.each([
    ['XX000 tuple concurrently updated (a concurrent REVOKE on the same table)', 'XX000', 'tuple concurrently updated', 'DROP OWNED'],
    ['XX000 tuple concurrently deleted', 'XX000', 'tuple concurrently deleted', 'ALTER ROLE "jit_gl-1" WITH NOLOGIN PASSWORD'],
    ['40P01 deadlock detected', '40P01', 'deadlock detected', 'COMMENT ON ROLE "jit_gl-1"'],
    ['40001 serialization failure', '40001', 'could not serialize access due to concurrent update', 'REASSIGN OWNED'],
  ])('revoke meeting a transient conflict (%s) runs that transaction again, quietly: done, nothing logged above debug', async (_n, code, message, at) => {
    const meta = { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-1', expiresAt: 'x' }), admin_super: true }] };
    let conflicts = 2;
    const f = fakePool((t) => {
      if (t.startsWith('SELECT pg_catalog.shobj_description')) return meta;
      if (t.startsWith('SELECT pg_catalog.pg_try_advisory_xact_lock')) return { rows: [{ got: true }] };
      if (t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n')) return { rows: [{ n: 0 }] };
      if (t.startsWith(at) && conflicts > 0) {
        conflicts--;
        return Object.assign(new Error(message), { code });
      }
      return undefined;
    });
    const { s, lines } = make(f);
    await s.revoke({ kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '' });
    expect(conflicts).toBe(0);
    expect(f.log.filter((t) => t.startsWith(at))).toHaveLength(3);
    expect(f.log.filter((t) => t.startsWith('COMMENT ON ROLE "jit_gl-1"'))).toHaveLength(at.startsWith('COMMENT ON ROLE') ? 3 : 1);
    const levels = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(levels.filter((l) => l.level >= 40)).toEqual([]);
    expect(levels.filter((l) => l.msg.includes('transaction retried'))).toHaveLength(2);
  });

  it('a conflict that persists is still reported, retriable, after the quiet retries', async () => {
    const f = fakePool((t) => (t.startsWith('GRANT INSERT') ? Object.assign(new Error('tuple concurrently updated'), { code: 'XX000' }) : undefined));
    await expect(make(f).s.issue(req())).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UPSTREAM', retriable: true, message: expect.stringContaining('SQLSTATE XX000 (concurrent catalog update)') });
    expect(f.log.filter((t) => t.startsWith('GRANT INSERT'))).toHaveLength(7);
  });

  it("revoke of a role that is not there succeeds, leaving the grant's tombstone (a late issue is then refused); of a tombstone, changes nothing", async () => {
    const f = fakePool((t) => (t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n') ? { rows: [{ n: 0 }] } : undefined));
    const { s } = make(f);
    expect(await s.revoke({ kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '2030-01-01T00:10:00.000Z' })).toEqual({ leftovers: [] });
    expect(f.log.filter((t) => /^(DROP|ALTER|CREATE|COMMENT)/.test(t))).toEqual([
      `CREATE ROLE "jit_gl-1" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT NOLOGIN PASSWORD NULL VALID UNTIL 'epoch' CONNECTION LIMIT 0`,
      `COMMENT ON ROLE "jit_gl-1" IS '{"jit":1,"grantId":"gl-1","expiresAt":"2030-01-01T00:10:00.000Z","revokedAt":"2030-01-01T00:00:00.000Z"}'`,
    ]);
    const tomb = { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-1', expiresAt: 'x', revokedAt: '2029-01-01T00:00:00.000Z' }), rolcanlogin: false }] };
    const g = fakePool((t) => (t.startsWith('SELECT pg_catalog.shobj_description') ? tomb : t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n') ? { rows: [{ n: 0 }] } : undefined));
    expect(await make(g).s.revoke({ kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '' })).toEqual({ leftovers: [] });
    expect(g.log.some((t) => /^(DROP|ALTER|CREATE|COMMENT|REASSIGN)/.test(t))).toBe(false);
  });

  it('revoke reports a retriable failure when sessions will not go away', async () => {
    const f = fakePool((t) =>
      t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n')
        ? { rows: [{ n: 1 }] }
        : t.startsWith('SELECT pg_catalog.shobj')
          ? { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-1', expiresAt: 'x' }) }] }
          : undefined,
    );
    const { s } = make(f, { sessionDrainTimeoutMs: 200 });
    await expect(s.revoke({ kind: 'postgres', grantId: 'gl-1', ref: { role: 'jit_gl-1', server: 'db.internal:6543/orders' }, expiresAt: '' })).rejects.toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_UPSTREAM',
      retriable: true,
    });
    expect(f.log.some((t) => t.startsWith('DROP ROLE'))).toBe(false);
  });

  it('listIssued returns only roles whose comment marks them as jit’s for the grant in their name, not the tombstones of revoked grants', async () => {
    const c = (grantId: string) => JSON.stringify({ jit: 1, grantId, expiresAt: '2030-01-01T00:00:00.000Z' });
    const f = fakePool((t) =>
      t.includes('FROM pg_catalog.pg_roles WHERE rolname LIKE')
        ? {
            rows: [
              { rolname: 'jit_g1', comment: c('g1') },
              { rolname: 'jit_g2', comment: c('g3') },
              { rolname: 'jit_g4', comment: 'not json' },
              { rolname: 'jit_g5', comment: null },
              { rolname: roleNameFor('x'.repeat(100)), comment: c('x'.repeat(100)) },
              { rolname: 'jit_g6', comment: JSON.stringify({ jit: 1, grantId: 'g6', expiresAt: '2030-01-01T00:00:00.000Z', revokedAt: '2029-12-31T00:00:00.000Z' }) }, // a tombstone
            ],
          }
        : undefined,
    );
    const { s } = make(f);
    const list = await s.listIssued();
    expect(list.map((h) => h.grantId)).toEqual(['g1', 'x'.repeat(100)]);
    expect(list[0]).toEqual({ kind: 'postgres', grantId: 'g1', ref: { role: 'jit_g1', server: 'db.internal:6543/orders' }, expiresAt: '2030-01-01T00:00:00.000Z' });
  });

  it('close ends every pool it opened', async () => {
    const f = fakePool((t) => (t.includes('FROM pg_catalog.pg_roles WHERE rolname LIKE') ? { rows: [] } : undefined));
    const { s } = make(f);
    await s.listIssued();
    await s.close();
    expect(f.ended()).toBe(1);
  });

  it('checkDefaultIsReadOnly warns when no default credential is configured', async () => {
    const { s } = make(fakePool());
    expect(await s.checkDefaultIsReadOnly()).toEqual([expect.objectContaining({ severity: 'warning' })]);
    expect(await s.checkDefaultIsReadOnly('nope')).toEqual([expect.objectContaining({ severity: 'error' })]);
  });

  it('config schema rejects unknown keys and bad values', () => {
    expect(postgresConfigSchema.safeParse({ adminUrl: ADMIN, adminURL: ADMIN }).success).toBe(false);
    expect(postgresConfigSchema.safeParse({ poolMax: 0 }).success).toBe(false);
    expect(postgresConfigSchema.parse({}).poolMax).toBe(4);
    expect(postgresConfigSchema.parse({}).leftoverOwner).toBe('jitleftovers');
    expect(postgresConfigSchema.safeParse({ leftoverOwner: 'jit_owner' }).success).toBe(false); // a grant role's name
    expect(postgresConfigSchema.safeParse({ leftoverOwner: 'Owner; DROP' }).success).toBe(false);
  });
});

describe('postgres substrate: nothing jit runs as admin resolves through a search path', () => {
  // A grantee with CREATE on a schema can plant a better-matching function or a relation of the
  // same name; jit's sessions pin search_path, and every name is written pg_catalog-qualified as
  // well, so a session that somehow lost the pin still runs nothing of the grantee's.
  const SQL_WORDS = new Set(['ARRAY', 'EXISTS', 'IN', 'ANY', 'VALUES', 'SELECT', 'AND', 'OR', 'NOT', 'ON', 'AS']);
  /** Function calls and FROM/JOIN relations in a statement that are not pg_catalog-qualified. */
  function unqualified(sql: string): string[] {
    const text = sql.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"]|"")*"/g, '""');
    const out: string[] = [];
    for (const m of text.matchAll(/(?<![.\w$])([A-Za-z_]\w*)\s*\(/g)) {
      const word = m[1]!;
      if (SQL_WORDS.has(word.toUpperCase())) continue;
      // DDL forms with a parenthesised list, not calls: CONNECTION LIMIT n, WITH (...), role names in GRANT
      if (/^(WITH|LIMIT|ROLE|ROUTINE|AGGREGATE|OPERATOR|TABLE|SCHEMA)$/i.test(word)) continue;
      out.push(`${word}(`);
    }
    for (const m of text.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)/gi)) {
      const rel = m[1]!;
      if (!rel.startsWith('pg_catalog.') && rel !== 'k') out.push(`FROM ${rel}`);
    }
    return out;
  }

  it('issue, revoke (with leftovers), verify, list and the setup check name only pg_catalog functions and relations', async () => {
    let sessions = 1;
    const f = fakePool((t) => {
      if (t.includes('pg_catalog.shobj_description(r.oid')) return { rows: [{ comment: JSON.stringify({ jit: 1, grantId: 'gl-7-3-abc123', expiresAt: 'x' }), rolcanlogin: true, admin_super: false }] };
      if (t.includes('pg_try_advisory_xact_lock')) return { rows: [{ got: true }] };
      if (t.startsWith('SELECT pg_catalog.pg_terminate_backend')) sessions = 0;
      if (t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n')) return { rows: [{ n: sessions }] };
      if (t.includes('FROM pg_catalog.pg_proc p')) return { rows: [{ signature: 'app.f()', prokind: 'f', prosecdef: true, shadows: false, triggers: ['public.orders.t'] }] };
      if (t.includes('FROM pg_catalog.pg_class c') && t.includes("relkind IN ('v', 'm')")) return { rows: [{ name: 'app.v', relkind: 'v' }] };
      if (t.includes('pg_catalog.to_regclass')) return { rows: [{ nspname: 'app', relkind: 'r' }] };
      return undefined;
    });
    const { s } = make(f);
    const out = await s.issue(req({ scope: { grant: ['INSERT ON ALL TABLES IN SCHEMA app', 'SELECT ON app.orders'] } }));
    const report = await s.revoke(out.handle);
    expect(report.leftovers.map((l) => l.kind)).toEqual(['function', 'trigger', 'view']);
    await s.verifyRevoked(out.handle);
    await s.listIssued();
    await s.checkSetup();
    const statements = f.log.filter((t) => /\b(SELECT|FROM)\b/.test(t));
    expect(statements.length).toBeGreaterThan(10);
    expect(statements.flatMap((t) => unqualified(t).map((u) => `${u}  in: ${t.slice(0, 80)}`))).toEqual([]);
    // the check above has teeth: the statements jit used to send fail it
    expect(unqualified('SELECT pg_advisory_xact_lock(hashtextextended($1, 7270))')).toEqual(['pg_advisory_xact_lock(', 'hashtextextended(']);
    expect(unqualified("SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles")).toEqual(['shobj_description(', 'FROM pg_roles']);
  });
});

describe('postgres substrate: any input', () => {
  it('validateScope never throws and never accepts a non-object', async () => {
    const { default: fc } = await import('fast-check');
    const { s } = make(fakePool());
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, maxDepth: 3 }), (scope) => {
        const problems = s.validateScope(scope);
        expect(Array.isArray(problems)).toBe(true);
        if (!scope || typeof scope !== 'object' || Array.isArray(scope)) expect(problems.length).toBeGreaterThan(0);
      }),
    );
  });

  it('adminUrls lets a fresh instance revoke and list on every configured server', async () => {
    const f = fakePool((t) =>
      t.startsWith('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n') ? { rows: [{ n: 0 }] } : t.includes('FROM pg_catalog.pg_roles WHERE rolname LIKE') ? { rows: [] } : undefined,
    );
    const { s } = make(f, { adminUrls: ['postgres://a:b@billing-db:5432/billing'] });
    await s.revoke({ kind: 'postgres', grantId: 'g', ref: { role: 'jit_g', server: 'billing-db:5432/billing' }, expiresAt: '' });
    await s.listIssued();
    expect(f.configs.map((c) => (c as { connectionString: string }).connectionString).sort()).toEqual(['postgres://a:b@billing-db:5432/billing', ADMIN]);
    await expect(s.issue(req())).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', message: expect.stringMatching(/several servers/) });
    expect(() => make(fakePool(), { adminUrls: ['mysql://x/y'] })).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_INVALID_CONFIG' }));
    expect(() => make(fakePool(), { adminUrl: 'postgres://u:hunter2@h' })).toThrow(/adminUrl names no database/);
  });

  it('issues only on servers it has an admin URL for, since it could revoke nowhere else', async () => {
    const a = fakePool();
    const { s } = make(a, { adminUrls: ['postgres://a:b@billing-db:5432/billing'] });
    await expect(s.issue(req({ connection: { url: 'postgres://adm:pw@other-host:5432/billing' } }))).rejects.toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_REJECTED',
      message: expect.stringMatching(/other-host:5432\/billing, which is not among this instance's adminUrl\/adminUrls/),
    });
    const out = await s.issue(req({ connection: { url: 'postgres://someone:else@billing-db:5432/billing' } }));
    expect(out.handle.ref.server).toBe('billing-db:5432/billing');
    // the configured admin URL is the one used, not the request's
    expect(a.configs.map((c) => (c as { connectionString: string }).connectionString)).toEqual(['postgres://a:b@billing-db:5432/billing']);
    await expect(s.issue(req({ connection: { url: 42 } }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
  });
});
