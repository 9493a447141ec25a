// A connection that dies while the adapter holds it between two statements of a transaction (the
// server restarts, a proxy or firewall cuts it): pg emits 'error' on the checked-out client, and an
// 'error' event with no listener throws from the socket's handler and ends the process. The chaos
// run's revoker died that way during a PostgreSQL outage. The adapter must turn it into a failed,
// retriable operation instead.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { contractGrantId } from '@jit/substrates/testing';
import { freshDatabase, readRequest as request, withClient } from './pg-test-helpers';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PgPoolClientLike } from './postgres-config';

const logger = createLogger({ name: 'pg-connection-loss', level: 'silent' });

describe('postgres adapter: a checked-out connection lost between two statements', () => {
  it('fails the operation (retriable) instead of crashing the process, and the next operation works', async () => {
    const adminUrl = await freshDatabase();
    let cut = 0;
    const s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, connectTimeoutMs: 3000 }), {
      logger,
      name: 'postgres',
      // The real pg.Pool; the first transaction's connection is terminated by the server right after
      // its BEGIN, and BEGIN returns only once the client has seen the socket close (no query active).
      poolFactory: (c) => {
        const pool = new pg.Pool(c);
        pool.on('error', () => undefined);
        return {
          query: (text: string, values?: unknown[]) => pool.query(text, values),
          end: () => pool.end(),
          connect: async (): Promise<PgPoolClientLike> => {
            const client = await pool.connect();
            if (cut > 0) return client;
            cut++;
            // this client only: BEGIN, then the server ends its session, then BEGIN returns once the
            // client has seen its socket close (no statement active). The dead client is never reused.
            const query = client.query.bind(client) as PgPoolClientLike['query'];
            return Object.assign(Object.create(client) as PgPoolClientLike, {
              release: (err?: Error | boolean) => client.release(err),
              on: (e: 'error', l: (err: Error) => void) => client.on(e, l),
              off: (e: 'error', l: (err: Error) => void) => client.off(e, l),
              query: async (text: string, values?: unknown[]) => {
                const out = await query(text, values);
                if (text === 'BEGIN') {
                  const { rows } = await query('SELECT pg_catalog.pg_backend_pid() AS pid');
                  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
                  await withClient(adminUrl, (a) => a.query('SELECT pg_catalog.pg_terminate_backend($1)', [rows[0].pid]));
                  await ended;
                }
                return out;
              },
            });
          },
        };
      },
    });
    try {
      const err = await s.issue(request(contractGrantId())).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(cut).toBe(1);
      // either the adapter's own retry got through, or it failed as an upstream fault worth retrying
      if (err !== undefined) expect(err).toMatchObject({ retriable: true });
      const { handle } = await s.issue(request(contractGrantId()));
      await s.revoke(handle);
      expect((await s.verifyRevoked(handle)).verified).toBe(true);
    } finally {
      await s.close();
    }
  });
});
