// What a grantee holding a jit postgres credential will try (docs/adding-a-substrate.md, "What the
// grantee will try"), as the contract suite's attack hooks: every attempt runs on the real server
// with the grantee's own login. Test-only: the integration tests use it, nothing else imports it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Foothold, GranteeAttacks } from '@jit/substrates/testing';

type Secret = Record<string, string>;

/** The scopes the fixtures issue: `write` (SELECT, INSERT on public's tables) or `ddl` (CREATE ON SCHEMA public). */
export type AttackScope = 'write' | 'ddl';

/** insufficient_privilege, invalid authorisation, undefined function/object: the server said no. */
const DENIED = /^(42501|28...|42883|42704|0LP01)$/;

const rand = () => randomBytes(4).toString('hex');
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined); // a session revoke terminates must not crash the test process
  await c.connect();
  return c;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** true = the server did it; false = refused (denied, cannot log in); anything else is a broken attack and throws. */
async function succeeds(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (DENIED.test(code)) return false;
    throw err;
  }
}

/** Runs `sql` as the grantee inside a rolled-back transaction. */
const attempt = (url: string, sql: string) =>
  succeeds(() =>
    withClient(url, async (c) => {
      await c.query('BEGIN');
      try {
        await c.query(sql);
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
      }
    }),
  );

export interface PostgresGranteeAttacks extends GranteeAttacks {
  /** Drops what the attacks left (bystander roles, backdoor roles, planted functions, databases). */
  cleanup(): Promise<void>;
}

/** The attack hooks for credentials of `scope` on the database at `adminUrl` (which has `public.orders` and `app.ledger`). */
export function postgresGranteeAttacks(adminUrl: string, scope: AttackScope): PostgresGranteeAttacks {
  const admin = new URL(adminUrl);
  const adminUser = decodeURIComponent(admin.username);
  const roles: string[] = [];
  const databases: string[] = [];
  const functions: string[] = [];
  const asAdmin = (sql: string, params: unknown[] = []) => withClient(adminUrl, (c) => c.query(sql, params));

  /** A login with no privileges of its own: what any other user of the database can do. */
  const bystander = async (): Promise<string> => {
    const role = `attack_bystander_${rand()}`;
    const password = randomBytes(12).toString('hex');
    await asAdmin(`CREATE ROLE ${ident(role)} LOGIN PASSWORD '${password}'`);
    roles.push(role);
    const url = new URL(adminUrl);
    url.username = role;
    url.password = password;
    return url.toString();
  };

  return {
    async tryBeyondScope(secret: Secret) {
      const url = secret.url!;
      const r = rand();
      const attempts: Array<[string, string]> = [
        ...(scope === 'write'
          ? ([
              ['UPDATE public.orders (not granted)', 'UPDATE public.orders SET total = total + 1'],
              ['DELETE FROM public.orders (not granted)', 'DELETE FROM public.orders'],
              ['TRUNCATE public.orders', 'TRUNCATE public.orders'],
              ['CREATE TABLE in public (not granted)', `CREATE TABLE public.attack_${r} (x int)`],
            ] as Array<[string, string]>)
          : ([
              ['INSERT INTO public.orders (not granted)', 'INSERT INTO public.orders (total) VALUES (1)'],
              ['SELECT public.orders (not granted)', 'SELECT * FROM public.orders'],
            ] as Array<[string, string]>)),
        ['read another schema (app.ledger)', 'SELECT * FROM app.ledger'],
        ['CREATE TABLE in another schema (app)', `CREATE TABLE app.attack_${r} (x int)`],
        ['read password hashes (pg_catalog.pg_authid)', 'SELECT rolpassword FROM pg_catalog.pg_authid'],
        ['read password hashes (pg_authid, unqualified)', 'SELECT rolpassword FROM pg_authid'],
        ['read user mappings (pg_user_mapping)', 'SELECT umoptions FROM pg_catalog.pg_user_mapping'],
        ['create a second login (CREATE ROLE)', `CREATE ROLE attack_${r} LOGIN PASSWORD 'x'`],
        ['extend its own expiry (VALID UNTIL infinity)', "ALTER ROLE CURRENT_USER VALID UNTIL 'infinity'"],
        ['lift its own connection limit', 'ALTER ROLE CURRENT_USER CONNECTION LIMIT -1'],
        ['become superuser', 'ALTER ROLE CURRENT_USER SUPERUSER'],
        [`become jit's admin (SET ROLE ${adminUser})`, `SET ROLE ${ident(adminUser)}`],
        ['read a server file', "SELECT pg_catalog.pg_read_file('postgresql.conf')"],
        ['run a server program', "COPY (SELECT 1) TO PROGRAM 'true'"],
      ];
      const worked: string[] = [];
      for (const [name, sql] of attempts) if (await attempt(url, sql)) worked.push(name);
      // CREATE DATABASE cannot run in a transaction: try it for real, drop it if it worked
      const db = `attack_${r}`;
      if (await succeeds(() => withClient(url, (c) => c.query(`CREATE DATABASE ${ident(db)}`)))) {
        databases.push(db);
        worked.push('create a database');
      }
      return worked;
    },

    async tryOutliveRevoke(secret: Secret) {
      const url = secret.url!;
      const held = await connect(url);
      const inTx = await connect(url);
      await inTx.query('BEGIN');
      await inTx.query(scope === 'write' ? 'SELECT count(*) FROM public.orders' : 'SELECT 1');
      const alive = (c: pg.Client) => () => succeeds(() => c.query('SELECT 1')).catch(() => false);
      const footholds: Foothold[] = [
        { name: 'a session opened before revoke', works: alive(held) },
        { name: 'a session idle in a transaction', works: alive(inTx) },
      ];
      if (scope === 'ddl') {
        // A SECURITY DEFINER function the grantee owns, callable by anyone (EXECUTE to PUBLIC by
        // default): it hands the grantee's CREATE on public to every login, now and — if revoke
        // gives the function to a privileged owner — with that owner's rights after revoke.
        const fn = `attack_definer_${rand()}`;
        await withClient(url, (c) =>
          c.query(`CREATE FUNCTION public.${ident(fn)}(name text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN EXECUTE format('CREATE TABLE public.%I (x int)', name); END $$`),
        );
        functions.push(`public.${ident(fn)}(text)`);
        const other = await bystander();
        footholds.push({
          name: 'a SECURITY DEFINER function it created, called by another login',
          works: () =>
            succeeds(() =>
              withClient(other, async (c) => {
                await c.query('BEGIN');
                try {
                  await c.query(`SELECT public.${ident(fn)}($1)`, [`attack_made_${rand()}`]);
                } finally {
                  await c.query('ROLLBACK').catch(() => undefined);
                }
              }),
            ),
        });
      }
      return footholds;
    },

    async tryBlockRevoke(secret: Secret) {
      // Bounded: the server is shared. Sessions holding locks and a long query, as many as the
      // role may open up to 10 (a real grantee would try max_connections).
      const url = secret.url!;
      const clients: pg.Client[] = [];
      for (let i = 0; i < 10; i++) {
        const c = await connect(url).catch(() => undefined);
        if (!c) break;
        clients.push(c);
        await c.query('BEGIN');
        if (scope === 'write') await c.query('LOCK TABLE public.orders IN ROW EXCLUSIVE MODE');
        else await c.query(`CREATE TABLE public.attack_lock_${rand()} (x int)`);
      }
      if (clients[0]) void clients[0].query('SELECT pg_catalog.pg_sleep(3600)').catch(() => undefined);
      return { release: async () => void (await Promise.allSettled(clients.map((c) => c.end()))) };
    },

    async tryHijackAdmin(secret: Secret) {
      // Functions named like those jit's admin session calls unqualified, with argument types that
      // match its literals better than pg_catalog's: if the admin resolves one, it runs as the admin.
      const backdoor = `attack_backdoor_${rand()}`;
      const body = (tail: string) => `LANGUAGE plpgsql AS $$ BEGIN BEGIN EXECUTE 'CREATE ROLE ${backdoor} LOGIN SUPERUSER'; EXCEPTION WHEN others THEN NULL; END; ${tail}; END $$`;
      const plants: Array<[string, string]> = [
        ['public.hashtextextended(text, integer)', `CREATE FUNCTION public.hashtextextended(t text, s integer) RETURNS bigint ${body('RETURN pg_catalog.hashtextextended(t, s)')}`],
        ['public.shobj_description(oid, text)', `CREATE FUNCTION public.shobj_description(o oid, c text) RETURNS text ${body('RETURN pg_catalog.shobj_description(o, c::name)')}`],
        ['public.pg_terminate_backend(integer)', `CREATE FUNCTION public.pg_terminate_backend(p integer) RETURNS boolean ${body('RETURN pg_catalog.pg_terminate_backend(p)')}`],
        ['public.pg_advisory_xact_lock(bigint)', `CREATE FUNCTION public.pg_advisory_xact_lock(k bigint) RETURNS void ${body('PERFORM pg_catalog.pg_advisory_xact_lock(k)')}`],
      ];
      for (const [signature, sql] of plants) {
        if (await succeeds(() => withClient(secret.url!, (c) => c.query(sql)))) functions.push(signature);
      }
      roles.push(backdoor);
      return {
        hijacked: async () => (await asAdmin('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [backdoor])).rowCount === 1,
      };
    },

    async cleanup() {
      for (const f of functions.splice(0)) await asAdmin(`DROP FUNCTION IF EXISTS ${f}`).catch(() => undefined);
      for (const d of databases.splice(0)) await asAdmin(`DROP DATABASE IF EXISTS ${ident(d)}`).catch(() => undefined);
      for (const r of roles.splice(0)) {
        await asAdmin(`DROP OWNED BY ${ident(r)}`).catch(() => undefined);
        await asAdmin(`DROP ROLE IF EXISTS ${ident(r)}`).catch(() => undefined);
      }
    },
  };
}
