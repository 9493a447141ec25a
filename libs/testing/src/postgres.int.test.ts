import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from './postgres';
import { getPostgres } from './services';
import { uniqueName } from './unique-name';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('getPostgres (shared server)', () => {
  it('connects as an admin who can create databases and roles', async () => {
    const url = await getPostgres();
    const [row] = await query<{ super: boolean; version: string }>(url, "SELECT rolsuper AS super, current_setting('server_version') AS version FROM pg_roles WHERE rolname = current_user");
    expect(row?.super).toBe(true);
    expect(Number.parseInt(row?.version ?? '0', 10)).toBeGreaterThanOrEqual(14);
    expect(new URL(url).hostname).toBe('127.0.0.1');
  });
});

describe('startPostgres (private server)', () => {
  let server: PostgresHandle;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('creates a database and returns a URL that reaches it', async () => {
    const name = uniqueName('db');
    const url = await server.createDatabase(name);
    const [row] = await query<{ db: string }>(url, 'SELECT current_database() AS db');
    expect(row?.db).toBe(name);
  });

  it('refuses a hostile database name without touching the server', async () => {
    await expect(server.createDatabase('x"; DROP DATABASE postgres; --')).rejects.toMatchObject({
      code: 'JIT_ERR_TESTING_BAD_ARGUMENT',
    });
    await expect(server.createDatabase('a'.repeat(64))).rejects.toMatchObject({ code: 'JIT_ERR_TESTING_BAD_ARGUMENT' });
  });

  it('keeps data across stop/start on the same port, and refuses connections while stopped', async () => {
    const url = await server.createDatabase(uniqueName('persist'));
    await query(url, 'CREATE TABLE t (v int); INSERT INTO t VALUES (42)');
    await server.stop();
    await expect(query(url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await server.start();
    const rows = await query<{ v: number }>(url, 'SELECT v FROM t');
    expect(rows).toEqual([{ v: 42 }]);
  });
});

describe('startPostgres on a taken port', () => {
  it('fails fast with the log tail instead of hanging, and leaves no data behind', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const before = Date.now();
      const err = (await startPostgres({ port }).catch((e: unknown) => e)) as { code: string; message: string };
      expect(err.code).toBe('JIT_ERR_TESTING_START_FAILED');
      expect(err.message).toMatch(/Address already in use/i);
      expect(Date.now() - before).toBeLessThan(60_000);
      const dir = /jit-pg-[A-Za-z0-9]+/.exec(err.message)?.[0];
      expect(dir).toBeDefined();
      expect(existsSync(join(tmpdir(), dir ?? 'missing'))).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
