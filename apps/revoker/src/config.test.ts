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
  JIT_TRUSTED_ISSUER_KEYS: OTHER_KEY,
};

const problems = (env: Record<string, string | undefined>, readFile?: (p: string) => string): string => configProblems(() => parseConfig(env, readFile));

describe('revoker parseConfig', () => {
  it('parses defaults and resolves substrate references at boot', () => {
    const c = parseConfig(base);
    expect(c).toMatchObject({
      kafka: { brokers: ['k1:9092', 'k2:9093'], clientId: 'jit-revoker', groupId: 'jit-revoker' },
      gitlab: { url: 'https://gitlab.example.com', token: 'glpat-secret-token-value' },
      port: 8083,
      host: '127.0.0.1',
      sweepIntervalMs: 300_000,
      orphanGraceMs: 600_000,
      concurrency: 32,
      retry: { baseMs: 1000, maxMs: 300_000 },
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
    expect(c.gitlab).toBeDefined();
    expect(c.substrates).toEqual({ 'aws-sts': { region: 'eu-west-1' } });
  });

  it('names every missing required setting; GitLab is optional but all-or-nothing', () => {
    const msg = problems({});
    for (const key of ['KAFKA_BROKERS', 'JIT_SUBSTRATES']) expect(msg).toContain(`${key}:`);
    for (const key of ['GITLAB_URL', 'GITLAB_TOKEN', 'JIT_ELEVATIONS_PROJECT']) expect(msg).not.toContain(`${key}:`);
    const noGitlab = parseConfig({ ...base, GITLAB_URL: undefined, GITLAB_TOKEN: undefined, JIT_ELEVATIONS_PROJECT: undefined });
    expect(noGitlab.gitlab).toBeUndefined();
    expect(problems({ ...base, GITLAB_TOKEN: undefined })).toMatch(/GITLAB_TOKEN: set GITLAB_URL and GITLAB_TOKEN together/);
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
    const msg = problems({ ...base, KAFKA_BROKERS: 'no-port', GITLAB_TOKEN: 'short', PORT: '70000', GITLAB_URL: 'ftp://x', JIT_REVOKE_CONCURRENCY: '0' });
    expect(msg).toMatch(/KAFKA_BROKERS: each broker must be host:port/);
    expect(msg).toMatch(/GITLAB_TOKEN: must be a GitLab access token/);
    expect(msg).toMatch(/PORT:/);
    expect(msg).toMatch(/GITLAB_URL:/);
    expect(msg).toMatch(/JIT_REVOKE_CONCURRENCY:/);
    for (const secret of [base.PG_ADMIN, base.VAULT_TOKEN, 'short']) expect(msg).not.toContain(secret);
  });
});
