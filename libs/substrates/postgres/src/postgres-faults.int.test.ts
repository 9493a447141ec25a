// The postgres adapter on a private PostgreSQL it can log and restart: the password never reaches
// the server's statement log, and a revoke during an outage is retriable and succeeds afterwards.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { contractGrantId } from '@jit/substrates/testing';
import { startPostgres, type PostgresHandle } from '@jit/testing';
import { readRequest as request } from './pg-test-helpers';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PostgresSubstrate } from './postgres-config';

const logger = createLogger({ name: 'pg-faults', level: 'silent' });

describe('postgres substrate on a private server', () => {
  let server: PostgresHandle;
  let s: PostgresSubstrate;

  beforeAll(async () => {
    server = await startPostgres();
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    await c.query("ALTER SYSTEM SET log_statement = 'all'");
    await c.query('SELECT pg_reload_conf()');
    await c.end();
    s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl: server.url, connectTimeoutMs: 2000 }), { logger, name: 'postgres' });
  });
  afterAll(async () => {
    await s?.close();
    await server?.dispose();
  });

  it('the password never appears in the statement log, though the statements do', async () => {
    const { secret, handle } = await s.issue(request(contractGrantId()));
    await s.revoke(handle);
    const log = readFileSync(server.logFile, 'utf8');
    expect(log).toContain(`CREATE ROLE "${secret.user}"`);
    expect(log).toContain('SCRAM-SHA-256$4096:');
    expect(log).not.toContain(secret.password);
  });

  it('a revoke during an outage is retriable, and the retry after recovery removes the role', async () => {
    const { secret, handle } = await s.issue(request(contractGrantId()));
    await server.stop();
    try {
      const err = await s.revoke(handle).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
      expect(JSON.stringify(err) + String(err)).not.toContain(secret.password);
    } finally {
      await server.start();
    }
    await s.revoke(handle);
    expect(await s.verifyRevoked(handle)).toMatchObject({ verified: true });
    expect((await s.listIssued()).filter((h) => h.grantId === handle.grantId)).toEqual([]);
  });
});
