// The postgres adapter on a real (embedded) PostgreSQL: the shared contract suite plus what only
// a real server can show (open sessions killed on revoke, VALID UNTIL, REASSIGN OWNED, the
// read-only check of a default credential). What a hostile grantee tries is in postgres-grantee.int.test.ts.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type IssueRequest } from '@jit/substrates';
import { contractGrantId, runSubstrateContractSuite } from '@jit/substrates/testing';
import { freePort, uniqueName, waitFor } from '@jit/testing';
import { POSTGRES_CREDENTIAL } from './credential';
import { freshDatabase, withClient } from './pg-test-helpers';
import { createPostgresSubstrate, postgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PgPoolFactory } from './postgres-config';
import { postgresGranteeAttacks } from './testing/grantee-attacks';

const logger = createLogger({ name: 'pg-int', level: 'warn' });

/** Does this credential log in and write? false for "cannot log in" and "permission denied". */
async function canWrite(secret: Record<string, string>): Promise<boolean> {
  try {
    return await withClient(secret.url as string, async (c) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO public.orders (total) VALUES (1)');
      await c.query('ROLLBACK');
      return true;
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('28') || code === '42501') return false;
    throw err;
  }
}

/** The grant's role as jit's admin sees it: can it log in, and is it marked as the revoked grant's tombstone? */
async function roleState(adminUrl: string, grantId: string): Promise<{ rolcanlogin: boolean; revoked: boolean } | undefined> {
  const { rows } = await withClient(adminUrl, (c) => c.query("SELECT rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1", [`jit_${grantId}`]));
  return rows[0] ? { rolcanlogin: rows[0].rolcanlogin as boolean, revoked: typeof JSON.parse(String(rows[0].comment)).revokedAt === 'string' } : undefined;
}

const request = (grantId: string, over: Partial<IssueRequest> = {}): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-db',
  scopeName: 'write',
  scope: { tier: 'reversible-write', grant: ['SELECT, INSERT ON ALL TABLES IN SCHEMA public', 'USAGE ON ALL SEQUENCES IN SCHEMA public'] },
  connection: {},
  ttlSeconds: 600,
  ...over,
});

runSubstrateContractSuite({
  name: 'postgres',
  credential: POSTGRES_CREDENTIAL,
  async setup() {
    const adminUrl = await freshDatabase();
    const registry = new SubstrateRegistry({ logger, definitions: [postgresSubstrate] });
    const substrate = registry.configure('postgres:orders', { adminUrl });
    const attacks = postgresGranteeAttacks(adminUrl, 'write');
    return { substrate, makeRequest: (g) => request(g), probe: canWrite, attacks, teardown: async () => (await registry.closeAll(), await attacks.cleanup()) };
  },
});

/** Does this credential create in schema public (the ddl scope)? false for "cannot log in" and "permission denied". */
async function canCreate(secret: Record<string, string>): Promise<boolean> {
  try {
    return await withClient(secret.url as string, async (c) => {
      await c.query('BEGIN');
      await c.query(`CREATE TABLE public.${uniqueName('probe')} (x int)`);
      await c.query('ROLLBACK');
      return true;
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('28') || code === '42501') return false;
    throw err;
  }
}

// The example policy's ddl scope gives the grantee CREATE in a schema on jit's admin path: the
// room it needs to plant functions for jit's admin and SECURITY DEFINER footholds.
runSubstrateContractSuite({
  name: 'postgres (ddl scope: CREATE ON SCHEMA public)',
  credential: POSTGRES_CREDENTIAL,

  async setup() {
    const adminUrl = await freshDatabase();
    const registry = new SubstrateRegistry({ logger, definitions: [postgresSubstrate] });
    const substrate = registry.configure('postgres:orders', { adminUrl });
    const attacks = postgresGranteeAttacks(adminUrl, 'ddl');
    return {
      substrate,
      makeRequest: (g) => request(g, { scopeName: 'ddl', scope: { tier: 'semi-destructive', grant: 'CREATE ON SCHEMA public' } }),
      probe: canCreate,
      attacks,
      teardown: async () => (await registry.closeAll(), await attacks.cleanup()),
    };
  },
});

describe('postgres substrate on a real server', () => {
  let adminUrl: string;
  let s: ReturnType<typeof createPostgresSubstrate>;

  beforeAll(async () => {
    adminUrl = await freshDatabase();
    s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl }), { logger, name: 'postgres' });
  });
  afterAll(async () => {
    for (const h of (await s.listIssued()).filter((x) => x.ref.server === new URL(adminUrl).host + new URL(adminUrl).pathname)) {
      await s.revoke(h).catch(() => undefined);
    }
    await s.close();
  });

  it('revoke terminates a session that was already open, and verifyRevoked then holds', async () => {
    const { secret, handle } = await s.issue(request(contractGrantId()));
    const session = new pg.Client({ connectionString: secret.url });
    const ended = new Promise<unknown>((resolve) => session.on('error', resolve));
    await session.connect();
    await session.query('SELECT 1');
    expect((await s.verifyRevoked(handle)).verified).toBe(false);
    await s.revoke(handle);
    expect(await ended).toMatchObject({ message: expect.stringMatching(/terminat/i) });
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    await session.end().catch(() => undefined);
  });

  it('a late issue of a grant already revoked (an issuer replica that lost its partition, paused between assertOwned and issue) is refused and leaves no role that logs in', async () => {
    const grantId = contractGrantId();
    const announced = await s.issue(request(grantId));
    await s.revoke(announced.handle); // the revoker, at TTL: NOLOGIN, sessions ended, the role kept as the grant's tombstone
    // the paused replica resumes: its assertOwned passed before the pause, so it issues now
    const late = await s.issue(request(grantId)).then(
      async (issued) => `issued a role that ${(await canWrite(issued.secret)) ? 'works' : 'does not work'} until ${issued.expiresAt}`,
      (err: Error & { code?: string; retriable?: boolean }) => `${err.code} retriable=${err.retriable}`,
    );
    expect(late).toBe('JIT_ERR_POSTGRES_GRANT_REVOKED retriable=false');
    expect(await canWrite(announced.secret)).toBe(false);
    expect(await roleState(adminUrl, grantId)).toEqual({ rolcanlogin: false, revoked: true });
    expect((await s.listIssued()).some((h) => h.grantId === grantId)).toBe(false); // the tombstone is no orphan
    expect(await s.verifyRevoked(announced.handle)).toMatchObject({ verified: true });
    await s.revoke(announced.handle); // a second revoke is a no-op
    expect(await roleState(adminUrl, grantId)).toEqual({ rolcanlogin: false, revoked: true });
    // another grant is not affected
    const other = await s.issue(request(contractGrantId()));
    expect(await canWrite(other.secret)).toBe(true);
    await s.revoke(other.handle);
  });

  it('a revoke that finds no role (the issue had not run yet) leaves a tombstone, so the issue that comes later is refused', async () => {
    const grantId = contractGrantId();
    const handle = {
      kind: 'postgres',
      grantId,
      ref: { role: `jit_${grantId}`, server: `${new URL(adminUrl).host}${new URL(adminUrl).pathname}` },
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    };
    expect(await s.revoke(handle)).toEqual({ leftovers: [] });
    expect(await roleState(adminUrl, grantId)).toEqual({ rolcanlogin: false, revoked: true });
    await expect(s.issue(request(grantId))).rejects.toMatchObject({ code: 'JIT_ERR_POSTGRES_GRANT_REVOKED', retriable: false });
    expect(await roleState(adminUrl, grantId)).toEqual({ rolcanlogin: false, revoked: true });
  });

  it('a revoke that lands while an issue runs (after its role is committed, before the issue returns) leaves no role that logs in', async () => {
    const grantId = contractGrantId();
    const role = `jit_${grantId}`;
    const server = `${new URL(adminUrl).host}${new URL(adminUrl).pathname}`;
    const racing = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl }), { logger, name: 'postgres' });
    let revoked = false;
    // the issuing replica's pool: just after its transaction commits, another replica's revoke runs
    const poolFactory: PgPoolFactory = (config) => {
      const pool = new pg.Pool(config);
      return {
        query: (text: string, values?: unknown[]) => pool.query(text, values),
        connect: async () => {
          const client = await pool.connect();
          return {
            query: async (text: string, values?: unknown[]) => {
              const out = await client.query(text, values);
              if (text === 'COMMIT' && !revoked) {
                revoked = true;
                await racing.revoke({ kind: 'postgres', grantId, ref: { role, server }, expiresAt: '' });
              }
              return out;
            },
            release: (err?: Error | boolean) => client.release(err),
          };
        },
        end: () => pool.end(),
      };
    };
    const issuing = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl }), { logger, name: 'postgres', poolFactory });
    try {
      await expect(issuing.issue(request(grantId))).rejects.toMatchObject({ code: 'JIT_ERR_POSTGRES_GRANT_REVOKED', retriable: false });
      expect(revoked).toBe(true);
      expect(await roleState(adminUrl, grantId)).toEqual({ rolcanlogin: false, revoked: true });
    } finally {
      await issuing.close();
      await racing.close();
    }
  });

  it('VALID UNTIL is a backstop: a credential stops logging in at its expiry even if never revoked', async () => {
    const { secret, handle } = await s.issue(request(contractGrantId(), { ttlSeconds: 2 }));
    expect(await canWrite(secret)).toBe(true);
    await waitFor(async () => !(await canWrite(secret)), { timeoutMs: 15_000, what: 'the role to pass VALID UNTIL' });
    await s.revoke(handle);
  });

  it('keeps objects the role created (REASSIGN OWNED to the leftover owner) and still drops the role', async () => {
    const grantId = contractGrantId();
    const { secret, handle } = await s.issue(request(grantId, { scope: { grant: 'CREATE ON SCHEMA app' } }));
    const table = uniqueName('made_by_jit');
    await withClient(secret.url as string, (c) => c.query(`CREATE TABLE app.${table} (x int)`));
    await s.revoke(handle);
    const owner = await withClient(adminUrl, (c) => c.query(`SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = $1`, [table]));
    expect(owner.rows).toEqual([{ tableowner: 'jitleftovers' }]);
    expect((await s.verifyRevoked(handle)).verified).toBe(true);
  });

  it('a grant on a missing table fails without leaving a role behind', async () => {
    const grantId = contractGrantId();
    const err = await s.issue(request(grantId, { scope: { grant: 'SELECT ON public.no_such_table' } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', retriable: false });
    expect((await s.listIssued()).filter((h) => h.grantId === grantId)).toEqual([]);
  });

  it('a hostile scope is refused before anything reaches the server', async () => {
    const grantId = contractGrantId();
    const grant = `SELECT ON orders; ALTER ROLE ${new URL(adminUrl).username} NOLOGIN`;
    await expect(s.issue(request(grantId, { scope: { grant } }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE' });
    const roles = await withClient(adminUrl, (c) => c.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = current_user'));
    expect(roles.rows).toEqual([{ rolcanlogin: true }]);
  });

  it('refuses to take over or drop a jit_-named role it did not create', async () => {
    const grantId = contractGrantId();
    const role = `jit_${grantId}`;
    await withClient(adminUrl, (c) => c.query(`CREATE ROLE "${role}" LOGIN`));
    await expect(s.issue(request(grantId))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    const forged = { kind: 'postgres', grantId, ref: { role, server: `${new URL(adminUrl).host}${new URL(adminUrl).pathname}` }, expiresAt: '' };
    await expect(s.revoke(forged)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    const still = await withClient(adminUrl, (c) => c.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [role]));
    expect(still.rows).toEqual([{ rolcanlogin: true }]);
    await withClient(adminUrl, (c) => c.query(`DROP ROLE "${role}"`));
  });

  it('concurrent issues of one grant id leave one role with one working password', async () => {
    const grantId = contractGrantId();
    const results = await Promise.all([s.issue(request(grantId)), s.issue(request(grantId)), s.issue(request(grantId))]);
    const working = [];
    for (const r of results) if (await canWrite(r.secret)) working.push(r);
    expect(working).toHaveLength(1);
    expect((await s.listIssued()).filter((h) => h.grantId === grantId)).toHaveLength(1);
    await s.revoke(results[0]!.handle);
  });

  it('checkDefaultIsReadOnly: a SELECT-only role passes; INSERT or CREATE privileges are findings', async () => {
    const ro = uniqueName('ro');
    const rw = uniqueName('rw');
    const pw = 'Pw-for-default-check-1';
    await withClient(adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${ro} LOGIN PASSWORD '${pw}'`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public, app TO ${ro}`);
      await c.query(`GRANT USAGE ON SCHEMA app TO ${ro}`);
      await c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await c.query(`CREATE ROLE ${rw} LOGIN PASSWORD '${pw}'`);
      await c.query(`GRANT SELECT, INSERT ON public.orders TO ${rw}`);
      await c.query(`GRANT USAGE, CREATE ON SCHEMA app TO ${rw}`);
      await c.query(`GRANT INSERT ON app.ledger TO ${rw}`);
    });
    const urlFor = (user: string) => {
      const u = new URL(adminUrl);
      u.username = user;
      u.password = pw;
      return u.toString();
    };
    const good = await s.checkDefaultIsReadOnly(urlFor(ro));
    expect(good.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(good[0]?.message).toMatch(/refused every write tried \(2 schemas, \d+ tables\)/);
    const bad = await s.checkDefaultIsReadOnly(urlFor(rw));
    const errors = bad.filter((f) => f.severity === 'error').map((f) => f.message);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining('write privilege on public.orders'),
        // public.orders' serial default needs its sequence, so the attempt alone misses it: the
        // privilege catalogue catches it; app.ledger has no default, so the attempt succeeds there.
        expect.stringContaining('can insert into app.ledger'),
        expect.stringContaining('can create tables in schema app'),
      ]),
    );
    for (const f of [...good, ...bad]) expect(f.message).not.toContain(pw);
    // the probe left nothing behind
    const probes = await withClient(adminUrl, (c) => c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'jit_readonly_probe_%'"));
    expect(probes.rows[0].n).toBe(0);
    const rows = await withClient(adminUrl, (c) => c.query('SELECT count(*)::int AS n FROM public.orders'));
    expect(rows.rows[0].n).toBe(0);
  });

  it('an unreachable server is a retriable error that names no secret', async () => {
    const port = await freePort();
    const down = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl: `postgres://admin:Sup3r-s3cret-pw@127.0.0.1:${port}/x`, connectTimeoutMs: 2000 }), {
      logger,
      name: 'postgres',
    });
    const err = await down.issue(request(contractGrantId())).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain('Sup3r-s3cret-pw');
    await down.close();
  });
});
