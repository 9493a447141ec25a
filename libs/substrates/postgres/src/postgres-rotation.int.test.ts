// The admin password rotated while grants are issued and revoked, on the real server: the admin URL
// comes from a file (`adminUrlRef: file:`, a kubelet-style secret volume), the role's password is
// changed and the file rotated with grants in flight; every issue and revoke completes, the
// connections opened afterwards log in with the new password (the old one no longer works on the
// server), and no password reaches the log.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetriable } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { readSecretFile } from '@jit/service';
import { atomicSecretDir } from '@jit/service/testing';
import type { IssueRequest } from '@jit/substrates';
import { contractGrantId } from '@jit/substrates/testing';
import { getPostgres, uniqueName, waitFor } from '@jit/testing';
import { freshDatabase, loginUrl, withClient } from './pg-test-helpers';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PostgresSubstrate } from './postgres-config';

const lines: string[] = [];
const logger = createLogger({ name: 'pg-rotation', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
const PW1 = `first-${uniqueName('pw')}`;
const PW2 = `second-${uniqueName('pw')}`;

const request = (grantId: string): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-db',
  scopeName: 'write',
  scope: { tier: 'reversible-write', grant: 'SELECT, INSERT ON public.orders' },
  connection: {},
  ttlSeconds: 600,
});

/** What the issuer and revoker do with a failure: retry it, with a bounded wait, when it is retriable. */
async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
  const until = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 250)));
    }
  }
}

describe('postgres: the admin password rotated under load (adminUrlRef: file:)', () => {
  const admin = uniqueName('rotadmin');
  const leftoverOwner = uniqueName('leftovers');
  const dir = mkdtempSync(join(tmpdir(), 'pg-rotation-'));
  let base: string;
  let s: PostgresSubstrate;

  beforeAll(async () => {
    await withClient(await getPostgres(), (c) => c.query(`CREATE ROLE ${admin} LOGIN CREATEROLE PASSWORD '${PW1}'`));
    base = await freshDatabase(admin);
  });
  afterAll(async () => {
    await s?.close();
    const db = new URL(base).pathname.slice(1);
    await withClient(await getPostgres(), async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${leftoverOwner}`).catch(() => undefined);
      await c.query(`DROP ROLE IF EXISTS ${admin}`).catch(() => undefined);
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('issues and revokes without a failure across the rotation; new connections use the new password', async () => {
    const vol = atomicSecretDir(join(dir, 'pg'), { 'admin-url': loginUrl(base, admin, PW1) });
    const adminUrl = readSecretFile(vol.path('admin-url'));
    s = createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl, leftoverOwner, poolMax: 4 }), {
      logger,
      name: 'postgres',
      live: { adminUrl: () => readSecretFile(vol.path('admin-url')) },
    });

    const done: string[] = [];
    const failed: unknown[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const grantId = contractGrantId();
        try {
          const { handle } = await withRetry(() => s.issue(request(grantId)));
          await withRetry(() => s.revoke(handle));
          done.push(grantId);
        } catch (err) {
          failed.push(err);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    const rotatedAt = new Date();
    try {
      await waitFor(() => done.length >= 10, { what: '10 grants before the rotation', timeoutMs: 60_000 });

      // The secret manager's rotation: the role's password, then — a kubelet sync later — the mounted
      // secret. jit's open sessions are cut in between, so connections are opened in that gap and refused.
      await withClient(await getPostgres(), async (c) => {
        await c.query(`ALTER ROLE ${admin} PASSWORD '${PW2}'`);
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [admin]);
      });
      // The gap is over once a login was refused: jit said it retries, or (without that) a call failed.
      await waitFor(() => failed.length > 0 || lines.join('').includes('refused the admin credential'), {
        what: 'a login refused in the rotation gap',
        timeoutMs: 30_000,
      });
      vol.write({ 'admin-url': loginUrl(base, admin, PW2) });
      const atRotation = done.length;
      await waitFor(() => done.length >= atRotation + 10 || failed.length > 0, { what: '10 grants after the rotation', timeoutMs: 60_000 });
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    expect(failed.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([]);
    expect(lines.join('')).toContain('admin connection credential rotated');
    // jit's admin sessions now are ones opened after the rotation, and the old password is refused.
    const sessions = await withClient(await getPostgres(), (c) => c.query('SELECT backend_start FROM pg_stat_activity WHERE usename = $1', [admin]));
    expect(sessions.rows.length).toBeGreaterThan(0);
    for (const r of sessions.rows) expect((r.backend_start as Date).getTime()).toBeGreaterThanOrEqual(rotatedAt.getTime());
    await expect(withClient(loginUrl(base, admin, PW1), (c) => c.query('SELECT 1'))).rejects.toMatchObject({ code: '28P01' });
    const log = lines.join('');
    expect(log).not.toContain(PW1);
    expect(log).not.toContain(PW2);
  });
});
