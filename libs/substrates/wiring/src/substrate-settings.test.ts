import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { atomicSecretDir } from '@jit/service/testing';
import { createSubstrates, parseSubstrateSettings } from './substrate-settings';

describe('substrate settings', () => {
  it("shows an adapter's own message for a bad combination (a stable code), never a value", () => {
    const settings = { vault: { addr: 'http://127.0.0.1:8200', tokenRef: 'env:VAULT_TOKEN', auth: { method: 'approle', roleId: 'r', secretIdFile: '/run/s' }, tokenRole: 'jit' } };
    const { problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify(settings), VAULT_TOKEN: 'hvs.VALUE-123' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^JIT_SUBSTRATES: instance "vault": invalid auth \(JIT_ERR_VAULT_AUTH_CONFLICT: set token or auth, not both\)/);
    expect(problems[0]).not.toContain('hvs.VALUE-123');
  });

  it('stops start-up naming the setting when a credential file an instance will read is missing', () => {
    const settings = { 'vault:prod': { addr: 'http://127.0.0.1:8200', auth: { method: 'approle', roleId: 'r', secretIdFile: '/nonexistent/jit/secret-id' }, tokenRole: 'jit' } };
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify(settings) });
    expect(instances).toEqual({});
    expect(problems).toEqual(['JIT_SUBSTRATES: instance "vault:prod": auth.secretIdFile cannot read the file (ENOENT): no such file; check the path and the volume mount']);
  });

  it('a file: reference is read at start and stays live: the adapter is handed a reader of the rotated file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jit-subs-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const vol = atomicSecretDir(join(dir, 'pg'), { url: 'postgres://jit:first-pw@db.internal:5432/orders\n' });
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify({ postgres: { adminUrlRef: `file:${vol.path('url')}` } }) });
    expect(problems).toEqual([]);
    expect(instances.postgres).toEqual({ adminUrl: 'postgres://jit:first-pw@db.internal:5432/orders' });
    const seen: string[] = [];
    const fakePool = { query: async () => ({ rows: [] }), connect: async () => ({ query: async () => ({ rows: [] }), release: () => undefined }), end: async () => undefined };
    const poolFactory = (c: { connectionString?: string }) => (seen.push(c.connectionString!), fakePool);
    const registry = createSubstrates(instances, createLogger({ name: 't', level: 'silent' }), { postgres: { poolFactory } });
    await registry.get('postgres').listIssued!();
    vol.write({ url: 'postgres://jit:second-pw@db.internal:5432/orders' });
    await registry.get('postgres').listIssued!();
    expect(seen.map((u) => new URL(u).password)).toEqual(['first-pw', 'second-pw']);
    await registry.closeAll();
  });

  it("a vault token from a file: reference is live too: the calls after the file's rotation carry the new token", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jit-subs-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const vol = atomicSecretDir(join(dir, 'vault'), { token: 'hvs.first-token\n' });
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify({ vault: { addr: 'http://127.0.0.1:8200', tokenRef: `file:${vol.path('token')}`, tokenRole: 'jit' } }) });
    expect(problems).toEqual([]);
    const listedWith: string[] = [];
    const clientFactory = (o: { token: string }) => ({
      read: async () => ({ data: {} }),
      write: async () => ({}),
      delete: async () => ({}),
      list: async () => (listedWith.push(o.token), { data: { keys: [] } }),
    });
    const registry = createSubstrates(instances, createLogger({ name: 't', level: 'silent' }), { vault: { clientFactory } });
    await registry.get('vault').listIssued!();
    vol.write({ token: 'hvs.second-token' });
    await registry.get('vault').listIssued!();
    expect(listedWith).toEqual(['hvs.first-token', 'hvs.second-token']);
    await registry.closeAll();
  });

  it('refuses a relative or odd file: reference naming the key', () => {
    const { problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify({ postgres: { adminUrlRef: 'file:secrets/../pg' } }) });
    expect(problems[0]).toMatch(/connection\.adminUrlRef must name an absolute path/);
  });
});

describe("the README's production substrate configuration", () => {
  it('parses as documented (every instance valid, its credential files checked)', () => {
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    const block = /`\/etc\/jit\/substrates\.json`:\n\n```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const checked: string[] = [];
    const secrets: string[] = [];
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES_FILE: '/etc/jit/substrates.json' }, (path) => (path === '/etc/jit/substrates.json' ? block! : (checked.push(path), '')), {
      readSecret: (path) => (secrets.push(path), 'postgres://jit_admin:pw@orders-db.internal:5432/orders'),
    });
    expect(secrets).toEqual(['/var/run/secrets/jit/orders-db-admin-url']);
    expect(problems).toEqual([]);
    expect(Object.keys(instances)).toEqual(['vault:prod', 'aws-sts:prod', 'gcp-iam:prod', 'postgres:orders']);
    expect(checked).toEqual(['/var/run/secrets/kubernetes.io/serviceaccount/token', '/etc/jit/gcp/wif.json', '/etc/jit/pg/ca.pem']);
  });
});
