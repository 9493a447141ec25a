import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSigningKey } from '@jit/contracts/testing';

import { ConfigError, parseConfig } from './config';

const KEY = createTestSigningKey();
const KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-config-test-')), 'signing-key.pem');
writeFileSync(KEY_FILE, KEY.pem, { mode: 0o600 });

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
  GITLAB_URL: 'https://gitlab.example.com/',
  GITLAB_TOKEN: 'glpat-very-secret-token',
  JIT_ELEVATIONS_PROJECT: 'platform/elevations',
  JIT_SIGNING_KEY_FILE: KEY_FILE,
};

describe('parseConfig', () => {
  it('parses the documented variables', () => {
    const c = parseConfig({ ...base, PORT: '9000' });
    expect(c).toMatchObject({
      bus: { kind: 'kafka', brokers: ['127.0.0.1:9092', '127.0.0.1:9093'] },
      gitlab: { url: 'https://gitlab.example.com', token: 'glpat-very-secret-token' },
      elevationsProject: 'platform/elevations',
      port: 9000,
    });
    expect(parseConfig({ ...base, JIT_ELEVATIONS_PROJECT: '42' }).elevationsProject).toBe(42);
  });

  it('takes KAFKA_SESSION_TIMEOUT_MS like the other consumers (default 30 s, at least the broker minimum 6 s)', () => {
    expect(parseConfig(base).bus).toMatchObject({ kind: 'kafka', sessionTimeoutMs: 30_000 });
    expect(parseConfig({ ...base, KAFKA_SESSION_TIMEOUT_MS: '10000' }).bus).toMatchObject({ kind: 'kafka', sessionTimeoutMs: 10_000 });
    expect(() => parseConfig({ ...base, KAFKA_SESSION_TIMEOUT_MS: '5999' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS/);
  });

  it('names every bad key and never echoes a value', () => {
    try {
      parseConfig({ GITLAB_TOKEN: 'short', GITLAB_URL: 'ftp://x', PORT: '99999', JIT_ELEVATIONS_PROJECT: '../etc' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      for (const key of ['KAFKA_BROKERS', 'GITLAB_URL', 'GITLAB_TOKEN', 'PORT', 'JIT_ELEVATIONS_PROJECT']) expect(msg).toContain(key);
      expect(msg).not.toContain('short');
    }
  });

  it('takes the first policy pin as a blob sha (lower-cased) and refuses anything else by name', () => {
    expect(parseConfig({ ...base, JIT_POLICY_PIN: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01' }).policyPin).toBe('abcdef0123456789abcdef0123456789abcdef01');
    expect(parseConfig(base).policyPin).toBeUndefined();
    expect(() => parseConfig({ ...base, JIT_POLICY_PIN: 'main' })).toThrow(/JIT_POLICY_PIN/);
  });

  it('refuses both Kafka and an embedded bus', () => {
    expect(() => parseConfig({ ...base, JIT_BUS_DIR: '/tmp/x' })).toThrow(/JIT_BUS_DIR/);
  });
});
