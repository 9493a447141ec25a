// Helpers the postgres integration tests share: a fresh database on the shared test server,
// short-lived clients, login URLs for roles the tests create. Not exported from the lib.
import pg from 'pg';
import type { IssueRequest } from '@jit/substrates';
import { getPostgres, uniqueName } from '@jit/testing';

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** An issue of `grantId` for a read scope (SELECT on public's tables), 10 minutes. */
export const readRequest = (grantId: string): IssueRequest => ({
  grantId,
  elevationId: 'gl-1-1',
  requester: 'alice',
  target: 'db',
  scopeName: 'read',
  scope: { grant: 'SELECT ON ALL TABLES IN SCHEMA public' },
  connection: {},
  ttlSeconds: 600,
});

/** A fresh database with `public.orders` and `app.ledger`; returns its (superuser) admin URL. */
export async function freshDatabase(owner?: string): Promise<string> {
  const admin = await getPostgres();
  const db = uniqueName('pgsub');
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${db}${owner ? ` OWNER ${pg.escapeIdentifier(owner)}` : ''}`));
  const url = new URL(admin);
  url.pathname = `/${db}`;
  await withClient(url.toString(), async (c) => {
    await c.query('CREATE TABLE public.orders (id serial PRIMARY KEY, total int NOT NULL DEFAULT 0)');
    await c.query('CREATE SCHEMA app');
    await c.query('CREATE TABLE app.ledger (id int)');
    if (owner) {
      const q = pg.escapeIdentifier(owner);
      await c.query(`ALTER TABLE public.orders OWNER TO ${q}`);
      await c.query(`ALTER SCHEMA app OWNER TO ${q}`);
      await c.query(`ALTER TABLE app.ledger OWNER TO ${q}`);
    }
  });
  return url.toString();
}

/** `base` with another user and password (and optionally database). */
export function loginUrl(base: string, user: string, password: string, database?: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  if (database) u.pathname = `/${database}`;
  return u.toString();
}
