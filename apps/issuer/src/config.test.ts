import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSigningKey } from '@jit/contracts/testing';

import { configProblems } from '@jit/service/testing';
import { parseConfig } from './config';

const KEY = createTestSigningKey();
const KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-config-test-')), 'signing-key.pem');
writeFileSync(KEY_FILE, KEY.pem, { mode: 0o600 });
const GATE_KEY = createTestSigningKey().signer.publicKey.x;
const OTHER_KEY = createTestSigningKey().signer.publicKey.x;

const base = {
  KAFKA_BROKERS: 'k1:9092, k2:9093',
  GITLAB_URL: 'https://gitlab.example.com/',
  GITLAB_TOKEN: 'glpat-secret-token-value',
  JIT_ELEVATIONS_PROJECT: 'ops/elevations',
  JIT_SUBSTRATES: JSON.stringify({ postgres: { adminUrlRef: 'env:PG_ADMIN' }, 'vault:prod': { addr: 'http://127.0.0.1:8200', tokenRef: 'env:VAULT_TOKEN', tokenRole: 'jit' } }),
  PG_ADMIN: 'postgres://admin:pg-admin-password@127.0.0.1:5432/app',
  VAULT_TOKEN: 'hvs.vault-root-secret',
  JIT_SIGNING_KEY_FILE: KEY_FILE,
  JIT_TRUSTED_GATE_KEYS: GATE_KEY,
  JIT_TRUSTED_REVOKER_KEYS: OTHER_KEY,
};

const problems = (env: Record<string, string | undefined>, readFile?: (p: string) => string): string => configProblems(() => parseConfig(env, readFile));

describe('issuer parseConfig', () => {
  it('parses defaults and resolves substrate references at boot', () => {
    const c = parseConfig(base);
    expect(c).toMatchObject({
      kafka: { brokers: ['k1:9092', 'k2:9093'], clientId: 'jit-issuer', groupId: 'jit-issuer' },
      gitlab: { url: 'https://gitlab.example.com', token: 'glpat-secret-token-value' },
      elevationsProject: 'ops/elevations',
      port: 8081,
      host: '127.0.0.1',
      retry: { ttlPercent: 50, budgetMs: 600_000, baseMs: 500, maxMs: 30_000 },
    });
    expect(c.substrates).toEqual({
      postgres: { adminUrl: base.PG_ADMIN },
      'vault:prod': { addr: 'http://127.0.0.1:8200', token: base.VAULT_TOKEN, tokenRole: 'jit' },
    });
  });

  it('reads JIT_SUBSTRATES_FILE and numeric project ids', () => {
    const c = parseConfig({ ...base, JIT_SUBSTRATES: undefined, JIT_SUBSTRATES_FILE: '/etc/jit/substrates.json', JIT_ELEVATIONS_PROJECT: '42' }, (p) => {
      if (p === KEY_FILE) return KEY.pem;
      expect(p).toBe('/etc/jit/substrates.json');
      return '{"aws-sts":{"region":"eu-west-1"}}';
    });
    expect(c.elevationsProject).toBe(42);
    expect(c.substrates).toEqual({ 'aws-sts': { region: 'eu-west-1' } });
  });

  it('names every missing required setting', () => {
    const msg = problems({});
    for (const key of ['KAFKA_BROKERS', 'GITLAB_URL', 'GITLAB_TOKEN', 'JIT_ELEVATIONS_PROJECT', 'JIT_SUBSTRATES']) expect(msg).toContain(`${key}:`);
  });

  it('rejects bad JSON, unknown kinds, bad instance names and bad adapter settings without echoing values', () => {
    expect(problems({ ...base, JIT_SUBSTRATES: '{"postgres": {"adminUrl": "postgres://u:leaky-pw@h/db",' })).toMatch(/JIT_SUBSTRATES: not valid JSON/);
    expect(problems({ ...base, JIT_SUBSTRATES: '[1,2]' })).toMatch(/must be a JSON object/);
    expect(problems({ ...base, JIT_SUBSTRATES: '{"mongo":{}}' })).toMatch(/unknown substrate kind "mongo"; known: aws-sts, gcp-iam, postgres, vault/);
    expect(problems({ ...base, JIT_SUBSTRATES: '{"Vault:Prod":{}}' })).toMatch(/must be <kind> or <kind>:<name>/);
    const bad = problems({ ...base, JIT_SUBSTRATES: JSON.stringify({ 'vault:prod': { addr: 'http://v', token: 'leaky-token-1234', bogus: 'leaky-value-5678' } }) });
    expect(bad).toMatch(/instance "vault:prod": invalid/);
    expect(bad).not.toMatch(/leaky/);
    const unset = problems({ ...base, PG_ADMIN: undefined });
    expect(unset).toMatch(/adminUrlRef names env:PG_ADMIN, which is not set/);
    expect(problems({ ...base, JIT_SUBSTRATES_FILE: '/x' })).toMatch(/not both/);
    expect(problems({ ...base, JIT_SUBSTRATES: 'x'.repeat(70_000) })).toMatch(/larger than/);
    expect(
      problems({ ...base, JIT_SUBSTRATES: undefined, JIT_SUBSTRATES_FILE: '/nope' }, () => {
        throw Object.assign(new Error('ENOENT /nope'), { code: 'ENOENT' });
      }),
    ).toMatch(/JIT_SUBSTRATES_FILE: cannot read the file \(ENOENT\)/);
  });

  it('names bad values of plain settings and never echoes secrets', () => {
    const msg = problems({ ...base, KAFKA_BROKERS: 'no-port', GITLAB_TOKEN: 'short', PORT: '70000', GITLAB_URL: 'ftp://x', JIT_ISSUE_ATTEMPTS: '0' });
    expect(msg).toMatch(/KAFKA_BROKERS: each broker must be host:port/);
    expect(msg).toMatch(/GITLAB_TOKEN: must be a GitLab access token/);
    expect(msg).toMatch(/PORT:/);
    expect(msg).toMatch(/GITLAB_URL:/);
    expect(msg).toMatch(/JIT_ISSUE_ATTEMPTS:/);
    for (const secret of [base.PG_ADMIN, base.VAULT_TOKEN, 'short']) expect(msg).not.toContain(secret);
  });

  it('reads the retry budget by time once (a share of the TTL, a maximum), with an attempt cap only when set', () => {
    expect(parseConfig({ ...base, JIT_ISSUE_RETRY_TTL_PERCENT: '100', JIT_ISSUE_RETRY_BUDGET_MS: '120000', JIT_ISSUE_ATTEMPTS: '40' }).retry).toEqual({
      ttlPercent: 100,
      budgetMs: 120_000,
      attempts: 40,
      baseMs: 500,
      maxMs: 30_000,
    });
    const msg = problems({ ...base, JIT_ISSUE_RETRY_TTL_PERCENT: '0', JIT_ISSUE_RETRY_BUDGET_MS: '10' });
    expect(msg).toMatch(/JIT_ISSUE_RETRY_TTL_PERCENT: must be a whole number from 1 to 100/);
    expect(msg).toMatch(/JIT_ISSUE_RETRY_BUDGET_MS:/);
  });

  it('serves the dashboard only with a GitLab OAuth application and JIT_PUBLIC_URL; never echoes its secret', () => {
    expect(parseConfig(base).ui).toEqual({ sessionTtlMs: 8 * 3600_000 });
    const key = Buffer.alloc(32, 7).toString('base64');
    const previous = Buffer.alloc(32, 9).toString('base64url');
    const ui = parseConfig({
      ...base,
      JIT_PUBLIC_URL: 'https://jit.example.com',
      JIT_UI_OAUTH_CLIENT_ID: 'a1b2c3',
      JIT_UI_OAUTH_CLIENT_SECRET: 'gloas-dashboard-secret',
      JIT_UI_SESSION_TTL_MS: '3600000',
      JIT_UI_SESSION_KEY: `${key}, ${previous}`,
    }).ui;
    // the keys as base64url, the sealing one first
    expect(ui).toEqual({
      clientId: 'a1b2c3',
      clientSecret: 'gloas-dashboard-secret',
      sessionTtlMs: 3600_000,
      sessionKeys: { setting: 'JIT_UI_SESSION_KEY', value: [Buffer.alloc(32, 7).toString('base64url'), previous] },
    });
    const msg =
      problems({ ...base, JIT_UI_OAUTH_CLIENT_SECRET: 'gloas-dashboard-secret' }) +
      problems({ ...base, JIT_UI_OAUTH_CLIENT_ID: 'a1b2c3' }) +
      problems({ ...base, JIT_UI_SESSION_TTL_MS: '5' }) +
      problems({ ...base, JIT_UI_SESSION_KEY: 'short-secret-key-value' }) +
      problems({ ...base, JIT_UI_SESSION_KEY: `${key},` });
    expect(msg).toMatch(/JIT_UI_OAUTH_CLIENT_ID: JIT_UI_OAUTH_CLIENT_SECRET needs JIT_UI_OAUTH_CLIENT_ID/);
    expect(msg).toMatch(/JIT_PUBLIC_URL: the dashboard \(JIT_UI_OAUTH_CLIENT_ID\) needs JIT_PUBLIC_URL/);
    // replicas must share one key: a process never makes up its own
    expect(msg).toMatch(/JIT_UI_SESSION_KEY_FILE: the dashboard \(JIT_UI_OAUTH_CLIENT_ID\) needs JIT_UI_SESSION_KEY_FILE/);
    expect(msg).toMatch(/JIT_UI_SESSION_KEY: must be comma-separated keys, each 32 random bytes/);
    expect(msg).toMatch(/JIT_UI_SESSION_TTL_MS:/);
    for (const secret of ['gloas-dashboard-secret', 'short-secret-key-value', key]) expect(msg).not.toContain(secret);
  });

  it('reads the signing key file once at start and needs the gate and revoker keys it trusts; never echoes a key', () => {
    const c = parseConfig(base);
    expect(c.signing).toEqual({ privateKeyPem: KEY.pem, trusted: { gate: [GATE_KEY], issuer: [], revoker: [OTHER_KEY] } });
    const missing = problems({ ...base, JIT_SIGNING_KEY_FILE: undefined, JIT_TRUSTED_GATE_KEYS: undefined, JIT_TRUSTED_REVOKER_KEYS: undefined });
    for (const key of ['JIT_SIGNING_KEY_FILE', 'JIT_TRUSTED_GATE_KEYS', 'JIT_TRUSTED_REVOKER_KEYS']) expect(missing).toContain(`${key}: is required`);
    expect(problems({ ...base, JIT_SIGNING_KEY_FILE: '/no/such/key.pem' })).toMatch(/JIT_SIGNING_KEY_FILE: cannot read the key file \(ENOENT\)/);
    const notAKey = problems(base, () => 'not-a-pem-but-a-leaky-secret');
    expect(notAKey).toMatch(/JIT_SIGNING_KEY_FILE: the key file is not a PEM private key/);
    expect(notAKey).not.toContain('leaky');
    const badTrust = problems({ ...base, JIT_TRUSTED_GATE_KEYS: `${GATE_KEY},not-a-key-but-leaky-text` });
    expect(badTrust).toMatch(/JIT_TRUSTED_GATE_KEYS: each key must be the 43-character JWK x/);
    expect(badTrust).not.toContain('leaky');
  });
});
