// What the grantee will try, on the real PostgreSQL: each case is an attack a credential holder
// ran against the adapter in a hostile review (issues 11 §5 and 20), replayed end to end. The
// admin here is the test server's superuser, as in a careless deployment, unless a case says
// otherwise: that is where each attack did the most damage.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { contractGrantId } from '@jit/substrates/testing';
import { getPostgres, uniqueName } from '@jit/testing';
import { freshDatabase, loginUrl, withClient } from './pg-test-helpers';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PostgresSubstrate } from './postgres-config';
import { roleNameFor } from './grant-role';

const logger = createLogger({ name: 'pg-grantee', level: 'silent' });
const PW = 'Pw-grantee-test-1';

const request = (scope: Record<string, unknown>, over: Partial<IssueRequest> = {}): IssueRequest => {
  const grantId = contractGrantId();
  return {
    grantId,
    elevationId: grantId.split('-').slice(0, 3).join('-'),
    requester: 'mallory',
    target: 'orders-db',
    scopeName: 'ddl',
    scope,
    connection: {},
    ttlSeconds: 600,
    ...over,
  };
};

const isSuperuser = (adminUrl: string, role: string) => withClient(adminUrl, async (c) => (await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.rolsuper === true);

describe('postgres: what the grantee will try (superuser admin)', () => {
  let adminUrl: string;
  let s: PostgresSubstrate;
  /** The read-only role everybody holds by default. */
  let ro: string;
  const dropLater: string[] = [];

  beforeAll(async () => {
    adminUrl = await freshDatabase();
    ro = uniqueName('readonly');
    dropLater.push(ro);
    await withClient(adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${ro} LOGIN PASSWORD '${PW}'`);
      await c.query(`GRANT USAGE ON SCHEMA app TO ${ro}`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public, app TO ${ro}`);
    });
    s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl }), { logger, name: 'postgres' });
  });
  afterAll(async () => {
    // roles are cluster-wide: leave nothing behind on the shared server, whatever the outcome
    // (a grant left by a failed case first, then the test's own roles and their privileges)
    for (const h of (await s.listIssued().catch(() => [])).filter((x) => x.ref.server === `${new URL(adminUrl).host}${new URL(adminUrl).pathname}`)) {
      await s.revoke(h).catch(() => undefined);
    }
    await s?.close();
    await withClient(adminUrl, async (c) => {
      for (const r of dropLater) {
        await c.query(`DROP OWNED BY ${pg.escapeIdentifier(r)}`).catch(() => undefined);
        await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r)}`).catch(() => undefined);
      }
    });
  });

  it('a SECURITY DEFINER function a ddl grantee left does not let the read-only role ALTER ROLE ... SUPERUSER after revoke', async () => {
    const { secret, handle } = await s.issue(request({ grant: 'CREATE ON SCHEMA app' }));
    await withClient(secret.url as string, (c) =>
      c.query(`CREATE FUNCTION app.escalate(r text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
                 AS $$ BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', r); END $$`),
    );
    const report = await s.revoke(handle);

    const attempt = await withClient(loginUrl(adminUrl, ro, PW), (c) => c.query('SELECT app.escalate(current_user)')).then(
      () => 'called',
      (err: { code?: string }) => err.code,
    );
    expect(attempt).toBe('42883'); // undefined_function: it was dropped
    expect(await isSuperuser(adminUrl, ro)).toBe(false);
    expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'function', name: 'app.escalate(text)', action: 'dropped' }));
    expect((await s.verifyRevoked(handle)).verified).toBe(true);
  });

  it('a trigger a grantee planted on a table it does not own is gone after revoke, so a superuser write does not run its code', async () => {
    const { secret, handle } = await s.issue(request({ grant: ['TRIGGER ON public.orders', 'USAGE, CREATE ON SCHEMA app'] }));
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE FUNCTION app.trap() RETURNS trigger LANGUAGE plpgsql
                       AS $$ BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', '${ro}'); RETURN NEW; END $$`);
      await c.query('CREATE TRIGGER trap AFTER INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION app.trap()');
    });
    const report = await s.revoke(handle);

    await withClient(adminUrl, (c) => c.query('INSERT INTO public.orders (total) VALUES (1)'));
    expect(await isSuperuser(adminUrl, ro)).toBe(false);
    expect(report.leftovers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'function', name: 'app.trap()', action: 'dropped' }),
        expect.objectContaining({ kind: 'trigger', name: 'public.orders.trap', action: 'dropped' }),
      ]),
    );
  });

  it.each([
    ['a rule', (fn: string, t: string) => `CREATE RULE note AS ON INSERT TO ${t} DO ALSO SELECT ${fn}()`],
    ['a column default', (fn: string, t: string) => `ALTER TABLE ${t} ALTER COLUMN y SET DEFAULT ${fn}()`],
    ['a check constraint', (fn: string, t: string) => `ALTER TABLE ${t} ADD CONSTRAINT looked CHECK (${fn}() = 1)`],
    ['a trigger WHEN clause', (fn: string, t: string) => `CREATE TRIGGER w BEFORE UPDATE ON ${t} FOR EACH ROW WHEN (${fn}() = 1) EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()`],
    ['a row-level security policy', (fn: string, t: string) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON ${t} USING (${fn}() = 1)`],
  ])('a function %s on a kept table calls is dropped at revoke, so a superuser write does not run it with its rights', async (_what, attach) => {
    const { secret, handle } = await s.issue(request({ grant: 'USAGE, CREATE ON SCHEMA app' }));
    const fn = `app.${uniqueName('trap')}`;
    const table = `app.${uniqueName('inbox')}`;
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE TABLE ${table} (x int, y int)`);
      await c.query(`CREATE FUNCTION ${fn}() RETURNS int LANGUAGE plpgsql AS $$
                       BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', '${ro}'); RETURN 1; END $$`);
      await c.query(attach(fn, table));
    });
    const report = await s.revoke(handle);
    try {
      await withClient(adminUrl, async (c) => {
        await c.query(`INSERT INTO ${table} (x) VALUES (1)`);
        await c.query(`UPDATE ${table} SET y = 2`);
        await c.query(`SET ROLE ${ro}`); // RLS applies to a non-owner without BYPASSRLS
        await c.query(`SELECT * FROM ${table}`).catch(() => undefined);
      });
      expect(await isSuperuser(adminUrl, ro)).toBe(false);
      expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'function', name: `${fn}()`, action: 'dropped' }));
    } finally {
      await withClient(adminUrl, (c) => c.query(`ALTER ROLE ${ro} NOSUPERUSER`));
    }
  });

  it('a trigger the grantee planted with only built-in code (a WHEN clause calling pg_read_file) on a table it does not own is gone after revoke', async () => {
    const { secret, handle } = await s.issue(request({ grant: 'TRIGGER ON public.orders' }));
    const trigger = uniqueName('planted');
    // a superuser's UPDATE evaluates the WHEN clause as the superuser: pg_read_file and lo_from_bytea are theirs to run
    await withClient(secret.url as string, (c) =>
      c.query(`CREATE TRIGGER ${trigger} BEFORE UPDATE ON public.orders FOR EACH ROW
                 WHEN (pg_catalog.lo_from_bytea(0, pg_catalog.convert_to(pg_catalog.pg_read_file('PG_VERSION'), 'UTF8')) > 0)
                 EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()`),
    );
    const report = await s.revoke(handle);

    const objects = () => withClient(adminUrl, async (c) => Number((await c.query('SELECT count(*) AS n FROM pg_largeobject_metadata')).rows[0].n));
    await withClient(adminUrl, (c) => c.query('INSERT INTO public.orders (total) VALUES (1)'));
    const before = await objects();
    await withClient(adminUrl, (c) => c.query('UPDATE public.orders SET total = total + 1'));
    expect(await objects()).toBe(before); // the WHEN clause never ran as the superuser
    const left = await withClient(adminUrl, (c) => c.query('SELECT tgname FROM pg_trigger WHERE tgname = $1', [trigger]));
    expect(left.rows).toEqual([]);
    expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'trigger', name: `public.orders.${trigger}`, action: 'dropped' }));
  });

  it('a foreign key the grantee pointed from its table at a table it does not own is dropped, so the owner can delete the rows again', async () => {
    const { secret, handle } = await s.issue(request({ grant: ['USAGE, CREATE ON SCHEMA app', 'SELECT, REFERENCES ON public.orders'] }));
    const id = (await withClient(adminUrl, (c) => c.query('INSERT INTO public.orders (total) VALUES (5) RETURNING id'))).rows[0].id as number;
    const pin = `app.${uniqueName('pin')}`;
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE TABLE ${pin} (order_id int REFERENCES public.orders (id))`);
      await c.query(`INSERT INTO ${pin} VALUES (${id})`);
    });
    const report = await s.revoke(handle);
    const deleted = await withClient(adminUrl, (c) => c.query('DELETE FROM public.orders WHERE id = $1', [id])).then(
      (r) => r.rowCount,
      (err: { code?: string }) => err.code,
    );
    expect(deleted).toBe(1); // refused while the key stayed (its check runs as the powerless leftover owner: 42501)
    expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'foreign key', action: 'dropped', note: expect.stringContaining('public.orders') }));
  });

  it('what the grantee created is kept, owned by the NOLOGIN leftover owner rather than by the admin', async () => {
    const { secret, handle } = await s.issue(request({ grant: 'USAGE, CREATE ON SCHEMA app' }));
    const table = uniqueName('made_by_grantee');
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE TABLE app.${table} (x int)`);
      await c.query(`CREATE VIEW app.${table}_v AS SELECT x FROM app.${table}`);
    });
    const report = await s.revoke(handle);
    const owners = await withClient(adminUrl, (c) =>
      c.query(
        `SELECT c.relname, r.rolname, r.rolsuper, r.rolcanlogin FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
          WHERE c.relnamespace = 'app'::regnamespace AND c.relname LIKE $1 ORDER BY 1`,
        [`${table}%`],
      ),
    );
    expect(owners.rows).toEqual([
      { relname: table, rolname: 'jitleftovers', rolsuper: false, rolcanlogin: false },
      { relname: `${table}_v`, rolname: 'jitleftovers', rolsuper: false, rolcanlogin: false },
    ]);
    expect(report.leftovers).toEqual([expect.objectContaining({ kind: 'view', name: `app.${table}_v`, action: 'kept' })]);
  });

  it('a better-matching public.hashtextextended planted by the grantee is never run by the admin (search-path hijack at revoke)', async () => {
    const backdoor = uniqueName('backdoor');
    dropLater.push(backdoor);
    const { secret, handle } = await s.issue(request({ grant: 'CREATE ON SCHEMA public' }));
    await withClient(secret.url as string, (c) =>
      c.query(`CREATE FUNCTION public.hashtextextended(t text, seed integer) RETURNS bigint LANGUAGE plpgsql AS $$
                 BEGIN
                   IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${backdoor}') THEN
                     EXECUTE 'CREATE ROLE ${backdoor} LOGIN SUPERUSER';
                   END IF;
                   RETURN 0;
                 END $$`),
    );
    const report = await s.revoke(handle);
    const found = await withClient(adminUrl, (c) => c.query('SELECT rolname FROM pg_roles WHERE rolname = $1', [backdoor]));
    expect(found.rows).toEqual([]);
    expect((await s.verifyRevoked(handle)).verified).toBe(true);
    // ...and the trap is not kept for the next session that has public on its path
    const left = await withClient(adminUrl, (c) => c.query("SELECT 1 FROM pg_proc WHERE proname = 'hashtextextended' AND pronamespace = 'public'::regnamespace"));
    expect(left.rows).toEqual([]);
    expect(report.leftovers).toContainEqual(
      expect.objectContaining({ kind: 'function', name: 'public.hashtextextended(text,integer)', action: 'dropped', note: expect.stringMatching(/named like a pg_catalog function/) }),
    );
  });

  it('an operator a grantee named like a pg_catalog one is dropped at revoke, not kept for others to run', async () => {
    const { secret, handle } = await s.issue(request({ grant: 'USAGE, CREATE ON SCHEMA app' }));
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE FUNCTION app.eq_trap(a text, b integer) RETURNS boolean LANGUAGE sql AS 'SELECT true'`);
      await c.query('CREATE OPERATOR app.= (LEFTARG = text, RIGHTARG = integer, FUNCTION = app.eq_trap)');
    });
    const report = await s.revoke(handle);
    const left = await withClient(adminUrl, (c) => c.query("SELECT 1 FROM pg_operator WHERE oprname = '=' AND oprnamespace = 'app'::regnamespace"));
    expect(left.rows).toEqual([]);
    expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'operator', name: 'app.=(text,integer)', action: 'dropped' }));
  });

  it.each(['pg_authid', 'pg_user_mapping', 'pg_statistic'])('SELECT ON %s (a system catalog without its schema) is refused, so no grantee reads it', async (catalog) => {
    const req = request({ grant: `SELECT ON ${catalog}` });
    expect(s.validateScope(req.scope)).toEqual([expect.objectContaining({ path: 'scope.grant', message: expect.stringMatching(/names no schema/) })]);
    const issued = await s.issue(req).catch((err: unknown) => err);
    expect(issued).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE' });
    expect((await s.listIssued()).filter((h) => h.grantId === req.grantId)).toEqual([]);
  });

  it('refuses to issue on a server it has no admin URL for (it could never revoke there)', async () => {
    const other = await freshDatabase();
    const req = request({ grant: 'SELECT ON ALL TABLES IN SCHEMA public' }, { connection: { url: other } });
    await expect(s.issue(req)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', message: expect.stringMatching(/not among this instance's adminUrl/) });
    const roles = await withClient(other, (c) => c.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%' AND rolname = $1", [`jit_${req.grantId}`]));
    expect(roles.rows).toEqual([]);
  });

  it('a lock the everyday account holds on a grantee table stalls the drop step, but the role has lost its privileges already (its view no longer writes with them)', async () => {
    const quick = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, statementTimeoutMs: 2000 }), { logger, name: 'postgres' });
    const { secret, handle } = await quick.issue(request({ grant: ['USAGE, CREATE ON SCHEMA app', 'SELECT, INSERT ON public.orders'] }));
    const anchor = `app.${uniqueName('anchor')}`;
    const view = `app.${uniqueName('through')}`;
    await withClient(secret.url as string, async (c) => {
      await c.query(`CREATE TABLE ${anchor} (x int)`);
      await c.query(`GRANT SELECT ON ${anchor} TO ${ro}`);
      await c.query(`CREATE VIEW ${view} AS SELECT id, total FROM public.orders`); // reads and writes with its owner's rights
      await c.query(`GRANT SELECT, INSERT ON ${view} TO ${ro}`);
    });
    const holder = new pg.Client({ connectionString: loginUrl(adminUrl, ro, PW) });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${anchor} IN ACCESS SHARE MODE`); // REASSIGN OWNED needs ACCESS EXCLUSIVE
      await expect(quick.revoke(handle)).rejects.toMatchObject({ retriable: true });
      const write = await withClient(loginUrl(adminUrl, ro, PW), (c) => c.query(`INSERT INTO ${view} (id, total) VALUES (-1, 99)`)).then(
        () => 'written',
        (err: { code?: string }) => err.code,
      );
      expect(write).toBe('42501');
      await holder.query('ROLLBACK');
      await expect(quick.revoke(handle)).resolves.toBeDefined();
      expect(await quick.verifyRevoked(handle)).toMatchObject({ verified: true });
    } finally {
      await holder.end().catch(() => undefined);
      await quick.close();
    }
  });

  it('someone holding the advisory lock of a grant about to be issued (its id follows the merge sha) does not keep it from being issued', async () => {
    const quick = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, statementTimeoutMs: 2000 }), { logger, name: 'postgres' });
    const req = request({ grant: 'SELECT ON public.orders' });
    const holder = new pg.Client({ connectionString: loginUrl(adminUrl, ro, PW) });
    await holder.connect();
    try {
      await holder.query('SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended($1, 7270))', [roleNameFor(req.grantId)]);
      const { secret, handle } = await quick.issue(req);
      expect((await withClient(secret.url as string, (c) => c.query('SELECT current_user AS u'))).rows).toEqual([{ u: handle.ref.role }]);
      await quick.revoke(handle);
    } finally {
      await holder.end().catch(() => undefined);
      await quick.close();
    }
  });

  it('a large object the grantee makes in another database of the cluster does not keep its role, grants or SECURITY DEFINER code alive', async () => {
    const { secret, handle } = await s.issue(request({ grant: ['CREATE ON SCHEMA app', 'INSERT ON public.orders'] }));
    await withClient(secret.url as string, (c) => c.query(`CREATE FUNCTION app.write_as_grantee() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'INSERT INTO public.orders (total) VALUES (66)'`));
    // PUBLIC may CONNECT to a database by default, and anyone may create a large object in it
    const elsewhere = new URL(await freshDatabase()).pathname.slice(1);
    const lo = await withClient(loginUrl(secret.url as string, String(secret.user), String(secret.password), elsewhere), (c) => c.query('SELECT lo_create(0) AS oid'));
    const report = await s.revoke(handle);

    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    const call = await withClient(loginUrl(adminUrl, ro, PW), (c) => c.query('SELECT app.write_as_grantee()')).then(
      () => 'called',
      (err: { code?: string }) => err.code,
    );
    expect(call).toBe('42883'); // dropped, not left running as a role that keeps INSERT
    expect(report.leftovers).toContainEqual(expect.objectContaining({ kind: 'function', name: 'app.write_as_grantee()', action: 'dropped' }));
    const owner = await withClient(loginUrl(adminUrl, new URL(adminUrl).username, decodeURIComponent(new URL(adminUrl).password), elsewhere), (c) =>
      c.query('SELECT pg_get_userbyid(lomowner) AS owner FROM pg_largeobject_metadata WHERE oid = $1', [lo.rows[0].oid]),
    );
    expect(owner.rows).toEqual([{ owner: 'jitleftovers' }]);
  });

  it.each(['its own session', 'its everyday read-only account'])(
    'a grantee holding jit’s advisory locks from %s does not stall the revoke (the open session ends, the role is dropped)',
    async (from) => {
      // a short statement timeout, so a revoke that waits on the lock fails fast instead of after 15 s
      const quick = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, statementTimeoutMs: 2000 }), { logger, name: 'postgres' });
      const { secret, handle } = await quick.issue(request({ grant: 'SELECT, INSERT ON public.orders' }));
      const grantee = new pg.Client({ connectionString: secret.url as string });
      const ended = new Promise<unknown>((resolve) => grantee.on('error', resolve));
      await grantee.connect();
      const holder = from === 'its own session' ? grantee : new pg.Client({ connectionString: loginUrl(adminUrl, ro, PW) });
      if (holder !== grantee) await holder.connect();
      try {
        // the key is in the open source: hashtextextended(<role>, 7270), also for the leftover owner
        for (const key of [handle.ref.role, 'jitleftovers']) {
          await holder.query('SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtextextended($1, 7270))', [key]);
        }
        await expect(quick.revoke(handle)).resolves.toEqual({ leftovers: [] });
        expect(await ended).toMatchObject({ message: expect.stringMatching(/terminat/i) });
        expect(await quick.verifyRevoked(handle)).toMatchObject({ verified: true });
      } finally {
        await grantee.end().catch(() => undefined);
        if (holder !== grantee) await holder.end().catch(() => undefined);
        await quick.close();
      }
    },
  );

  it('an issued role has a CONNECTION LIMIT (default 5, or the scope’s), so a grantee cannot fill max_connections', async () => {
    const open: pg.Client[] = [];
    const connect = async (url: string) => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      c.on('error', () => undefined); // a session ended by the server
      await c.connect();
      open.push(c);
    };
    try {
      const byDefault = await s.issue(request({ grant: 'SELECT ON ALL TABLES IN SCHEMA public' }));
      for (let i = 0; i < 5; i++) await connect(byDefault.secret.url as string);
      await expect(connect(byDefault.secret.url as string)).rejects.toMatchObject({ code: '53300' }); // too_many_connections
      const scoped = await s.issue(request({ grant: 'SELECT ON ALL TABLES IN SCHEMA public', connectionLimit: 2 }));
      for (let i = 0; i < 2; i++) await connect(scoped.secret.url as string);
      await expect(connect(scoped.secret.url as string)).rejects.toMatchObject({ code: '53300' });
      // the limit is what this case is about: close the sessions here rather than make the revoke
      // terminate seven of them on a loaded machine (revoking open sessions has its own test)
      await Promise.all(open.splice(0).map((c) => c.end()));
      await s.revoke(byDefault.handle);
      await s.revoke(scoped.handle);
    } finally {
      await Promise.all(open.map((c) => c.end().catch(() => undefined)));
    }
  });
});

describe('postgres: a non-superuser admin with CREATEROLE (the recommended deployment)', () => {
  let adminUrl: string;
  let s: PostgresSubstrate;
  const admin = uniqueName('jitadmin');
  // jitleftovers may exist already on the shared server, made by a superuser admin; an admin
  // needs ADMIN OPTION on the owner role, so this one gets its own (as a fresh deployment would).
  const leftoverOwner = uniqueName('leftovers');

  beforeAll(async () => {
    await withClient(await getPostgres(), (c) => c.query(`CREATE ROLE ${admin} LOGIN CREATEROLE PASSWORD '${PW}'`));
    const owned = await freshDatabase(admin);
    adminUrl = loginUrl(owned, admin, PW);
    s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, leftoverOwner }), { logger, name: 'postgres' });
  });
  afterAll(async () => {
    await s?.close();
    const db = new URL(adminUrl).pathname.slice(1);
    await withClient(await getPostgres(), async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${leftoverOwner}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${admin}`).catch(() => undefined);
    });
  });

  it('issues, ends an open session, neutralises a SECURITY DEFINER function and drops the role', async () => {
    const { secret, handle } = await s.issue(request({ grant: ['CREATE ON SCHEMA app', 'SELECT, INSERT ON public.orders'] }));
    const session = new pg.Client({ connectionString: secret.url });
    const ended = new Promise<unknown>((resolve) => session.on('error', resolve));
    await session.connect();
    await session.query(`CREATE FUNCTION app.sd() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`);
    await session.query('CREATE TABLE app.kept (x int)');
    const report = await s.revoke(handle);
    expect(await ended).toMatchObject({ message: expect.stringMatching(/terminat/i) });
    expect(report.leftovers).toEqual([expect.objectContaining({ kind: 'function', name: 'app.sd()', action: 'dropped' })]);
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    const owner = await withClient(adminUrl, (c) => c.query(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'app.kept'::regclass`));
    expect(owner.rows).toEqual([{ owner: leftoverOwner }]);
    await session.end().catch(() => undefined);
  });

  it('checkSetup: no superuser warning, but a missing reserved slot and a schema others can create in on its search_path are findings', async () => {
    const creator = uniqueName('creator');
    await withClient(adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${creator} NOLOGIN`);
      await c.query(`GRANT CREATE ON SCHEMA public TO ${creator}`);
    });
    try {
      const findings = await s.checkSetup();
      const messages = findings.map((f) => `${f.severity}: ${f.message}`);
      expect(messages.some((m) => /superuser/.test(m))).toBe(false);
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^warning: .*no reserved connection slot.*pg_use_reserved_connections/),
          expect.stringMatching(new RegExp(`^warning: .*schema public is on admin role ${admin}'s search_path and ${creator} can create in it`)),
        ]),
      );
      for (const m of messages) expect(m).not.toContain(PW);
    } finally {
      await withClient(adminUrl, async (c) => {
        await c.query(`REVOKE CREATE ON SCHEMA public FROM ${creator}`);
        await c.query(`DROP ROLE ${creator}`);
      });
    }
  });
});

describe('postgres: checkSetup with a superuser admin', () => {
  it('warns that the admin is a superuser', async () => {
    const adminUrl = await freshDatabase();
    const s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl }), { logger, name: 'postgres' });
    try {
      const findings = await s.checkSetup();
      expect(findings).toContainEqual(expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/is a superuser; a non-superuser with CREATEROLE/) }));
    } finally {
      await s.close();
    }
  });
});
