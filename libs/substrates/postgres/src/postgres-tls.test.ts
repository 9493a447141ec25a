import { describe, expect, it } from 'vitest';
import { postgresSubstrate } from './postgres-substrate';
import { postgresConfigSchema } from './postgres-config';
import { classifyTls, pgSslOptions } from './postgres-tls';

const messages = (r: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) => (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('postgres tls settings', () => {
  it('refuses URL TLS parameters next to tls (pg would let the URL win), naming the key, never the URL', () => {
    const r = postgresConfigSchema.safeParse({ adminUrl: 'postgres://jit:S3cret-pw@db:5432/orders?sslmode=disable', tls: { caFile: '/etc/jit/ca.pem' } });
    expect(r.success).toBe(false);
    expect(messages(r)).toEqual(['adminUrl: JIT_ERR_POSTGRES_TLS_CONFLICT: carries sslmode; with tls set, drop TLS parameters from the URL']);
    expect(JSON.stringify(r.error)).not.toContain('S3cret-pw');
    // without tls the URL's own sslmode stays the way to ask for TLS
    expect(postgresConfigSchema.safeParse({ adminUrl: 'postgres://jit:pw@db:5432/orders?sslmode=verify-full' }).success).toBe(true);
  });

  it('wants certFile and keyFile together, absolute paths, and defaults to verify-full', () => {
    expect(messages(postgresConfigSchema.safeParse({ adminUrl: 'postgres://a@db/x', tls: { certFile: '/c.pem' } }))).toEqual([
      'tls.keyFile: JIT_ERR_POSTGRES_TLS_CONFLICT: set certFile and keyFile together',
    ]);
    expect(postgresConfigSchema.safeParse({ adminUrl: 'postgres://a@db/x', tls: { caFile: 'ca.pem' } }).success).toBe(false);
    expect(postgresConfigSchema.parse({ adminUrl: 'postgres://a@db/x', tls: {} }).tls).toEqual({ mode: 'verify-full' });
  });

  it('lists the tls files for the start-up check', () => {
    const cfg = postgresConfigSchema.parse({ adminUrl: 'postgres://a@db/x', tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' } });
    expect(postgresSubstrate.credentialFiles?.(cfg)).toEqual([
      { setting: 'tls.caFile', path: '/ca.pem' },
      { setting: 'tls.certFile', path: '/c.pem' },
      { setting: 'tls.keyFile', path: '/k.pem' },
    ]);
  });

  it('a file that disappears after start-up is a retriable error naming the setting', () => {
    const ssl = pgSslOptions({ mode: 'verify-full', caFile: '/nonexistent/ca.pem' });
    const err = (() => {
      try {
        return void ssl.ca;
      } catch (e) {
        return e;
      }
    })();
    expect(classifyTls('postgres', 'db:5432/x', err)).toMatchObject({ code: 'JIT_ERR_POSTGRES_TLS_FILE', retriable: true, message: expect.stringContaining('tls.caFile cannot be read (ENOENT)') });
  });
});
