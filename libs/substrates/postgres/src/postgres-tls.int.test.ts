// TLS from jit to the target, on an embedded PostgreSQL started with ssl=on and a server certificate
// for 127.0.0.1 made by openssl at test time (@jit/testing createTestPki): verify-full with the CA
// file issues and revokes over TLS; another CA, a host the certificate does not name and a server
// without TLS each fail with their own named error and no secret; a database whose pg_hba requires a
// client certificate is reached with tls.certFile/keyFile and refused without.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { contractGrantId } from '@jit/substrates/testing';
import { createTestPki, getPostgres, startPostgres, uniqueName, type PostgresHandle, type TestPki } from '@jit/testing';
import { createPostgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema, type PostgresSubstrate } from './postgres-config';

const logger = createLogger({ name: 'pg-tls-int', level: 'silent' });
let pki: TestPki;
let server: PostgresHandle;
let adminUrl: string;
let certDbUrl: string;

beforeAll(async () => {
  pki = await createTestPki();
  server = await startPostgres({
    tls: { certPem: readFileSync(pki.serverCertFile, 'utf8'), keyPem: readFileSync(pki.serverKeyFile, 'utf8'), clientCaPem: readFileSync(pki.caFile, 'utf8') },
    // certdb: TLS with a client certificate the CA signed, besides the password
    hba: ['hostssl certdb all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca'],
  });
  adminUrl = await server.createDatabase(uniqueName('tlsdb'));
  certDbUrl = await server.createDatabase('certdb');
  for (const url of [adminUrl, certDbUrl]) {
    const c = new pg.Client({ connectionString: url, ssl: { ca: readFileSync(pki.caFile, 'utf8'), cert: readFileSync(pki.clientCertFile, 'utf8'), key: readFileSync(pki.clientKeyFile, 'utf8') } });
    await c.connect();
    await c.query('CREATE TABLE public.orders (id serial, total int)');
    await c.end();
  }
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

const request = (grantId = contractGrantId()): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-db',
  scopeName: 'write',
  scope: { grant: ['SELECT, INSERT ON ALL TABLES IN SCHEMA public', 'USAGE ON ALL SEQUENCES IN SCHEMA public'] },
  connection: {},
  ttlSeconds: 600,
});

function make(url: string, tls: Record<string, unknown>): PostgresSubstrate {
  return createPostgresSubstrate(postgresConfigSchema.parse({ adminUrl: url, tls, connectTimeoutMs: 3000 }), { name: 'postgres:tls', logger });
}

/** The error a promise rejects with, checked to carry no password of the admin URL. */
async function failure(p: Promise<unknown>, url: string): Promise<{ code?: string; message: string; retriable?: boolean }> {
  const err = (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as { code?: string; message: string; retriable?: boolean };
  const password = decodeURIComponent(new URL(url).password);
  expect(JSON.stringify({ message: err.message, code: err.code })).not.toContain(password);
  return err;
}

const withHost = (url: string, host: string) => {
  const u = new URL(url);
  u.hostname = host;
  return u.toString();
};

describe('postgres over TLS (embedded PostgreSQL with ssl=on)', () => {
  it('verify-full with the CA file: issues and revokes over TLS; the grantee URL asks for verify-full too', async () => {
    const sub = make(adminUrl, { caFile: pki.caFile });
    try {
      const out = await sub.issue(request());
      expect(new URL(out.secret.url!).searchParams.get('sslmode')).toBe('verify-full');
      // jit's own admin session is a TLS session (pg_stat_ssl), not a plaintext one
      const c = new pg.Client({ connectionString: adminUrl, ssl: { ca: readFileSync(pki.caFile, 'utf8') } });
      await c.connect();
      const { rows } = await c.query("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'jit-substrate-postgres:tls'");
      await c.end();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.ssl === true)).toBe(true);
      // the grantee logs in with the URL and the CA it was told to use
      const grantee = new pg.Client({ connectionString: out.secret.url!.replace('sslmode=verify-full', ''), ssl: { ca: readFileSync(pki.caFile, 'utf8') } });
      grantee.on('error', () => undefined);
      await grantee.connect();
      try {
        await grantee.query('INSERT INTO public.orders (total) VALUES (1)');
      } finally {
        await grantee.end();
      }
      await sub.revoke(out.handle);
      expect((await sub.verifyRevoked(out.handle)).verified).toBe(true);
    } finally {
      await sub.close();
    }
  });

  it('a CA that did not sign the server certificate: JIT_ERR_POSTGRES_TLS_UNTRUSTED naming the server, no password', async () => {
    const sub = make(adminUrl, { caFile: pki.otherCaFile });
    try {
      const err = await failure(sub.issue(request()), adminUrl);
      expect(err).toMatchObject({ code: 'JIT_ERR_POSTGRES_TLS_UNTRUSTED', retriable: false });
      expect(err.message).toContain(`127.0.0.1:${server.port}/`);
      expect(err.message).toContain('tls.caFile');
    } finally {
      await sub.close();
    }
  });

  it('a host the certificate does not name: refused under verify-full, accepted under verify-ca', async () => {
    // 127.1 reaches 127.0.0.1 through the resolver, but it is not a name the certificate (IP:127.0.0.1) lists
    const other = withHost(adminUrl, '127.1');
    const full = make(other, { caFile: pki.caFile });
    try {
      const err = await failure(full.issue(request()), other);
      expect(err).toMatchObject({ code: 'JIT_ERR_POSTGRES_TLS_HOSTNAME', retriable: false });
      expect(err.message).toContain('127.1');
    } finally {
      await full.close();
    }
    const ca = make(other, { caFile: pki.caFile, mode: 'verify-ca' });
    try {
      const out = await ca.issue(request());
      await ca.revoke(out.handle);
    } finally {
      await ca.close();
    }
  });

  it('a server without TLS: JIT_ERR_POSTGRES_TLS_UNAVAILABLE, never a plaintext connection', async () => {
    const plainUrl = await getPostgres(); // the shared server runs with ssl=off
    const sub = make(plainUrl, { caFile: pki.caFile });
    try {
      const err = await failure(sub.checkSetup(), plainUrl);
      expect(err).toMatchObject({ code: 'JIT_ERR_POSTGRES_TLS_UNAVAILABLE', retriable: false });
    } finally {
      await sub.close();
    }
  });

  it('a database that requires a client certificate: reached with tls.certFile/keyFile, denied without', async () => {
    const without = make(certDbUrl, { caFile: pki.caFile });
    try {
      const err = await failure(without.issue(request()), certDbUrl);
      expect(err.code).toBe('JIT_ERR_SUBSTRATE_DENIED');
    } finally {
      await without.close();
    }
    const withCert = make(certDbUrl, { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile });
    try {
      const out = await withCert.issue(request());
      await withCert.revoke(out.handle);
    } finally {
      await withCert.close();
    }
  });
});
