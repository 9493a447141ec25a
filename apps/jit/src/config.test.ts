import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config';

const fail = (env: Record<string, string>) => {
  try {
    parseConfig(env, '/srv');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('parseConfig', () => {
  it('reads GitLab and webhook secrets from their _FILE forms, keeping the paths to watch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jit-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const put = (name: string, text: string) => (writeFileSync(join(dir, name), text, { mode: 0o600 }), join(dir, name));
    const c = parseConfig(
      {
        GITLAB_URL: 'https://gitlab.example.com',
        GITLAB_TOKEN_FILE: put('token', 'glpat-0123456789abcdef\n'),
        JIT_ELEVATIONS_PROJECT: 'ops/elevations',
        JIT_WEBHOOK_SECRET_FILE: put('hook', 'file-secret-0123456789\n'),
        JIT_WEBHOOK_SIGNING_SECRET_FILE: put('signing', 'whsec_c2lnbmluZy1rZXktMDEyMzQ1Njc4OQ=='),
        JIT_WEBHOOK_SECRET_GRACE_MS: '30000',
      },
      '/srv',
    );
    expect(c.gitlab).toMatchObject({ token: 'glpat-0123456789abcdef', tokenFile: join(dir, 'token') });
    expect(c.webhook).toMatchObject({
      secrets: ['file-secret-0123456789'],
      secretsFile: join(dir, 'hook'),
      signingSecret: 'whsec_c2lnbmluZy1rZXktMDEyMzQ1Njc4OQ==',
      signingSecretFile: join(dir, 'signing'),
      graceMs: 30_000,
    });
    expect(parseConfig({}, '/srv').webhook.graceMs).toBe(600_000);
    expect(fail({ JIT_WEBHOOK_SECRET: 'inline-secret-0123456789', JIT_WEBHOOK_SECRET_FILE: join(dir, 'hook') })).toContain(
      'JIT_WEBHOOK_SECRET_FILE: set JIT_WEBHOOK_SECRET or JIT_WEBHOOK_SECRET_FILE, not both',
    );
    expect(fail({ JIT_WEBHOOK_SECRET_FILE: put('short', 'too-short') })).toContain("JIT_WEBHOOK_SECRET_FILE: the file's content each secret needs at least 16 characters");
  });

  it('defaults to sandbox mode on 127.0.0.1:8080 with ./.jit and a postgres instance', () => {
    const c = parseConfig({}, '/srv');
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', dataDir: '/srv/.jit', gitlab: undefined, kafka: undefined, demoDatabase: true });
    expect(c.substrates).toEqual({ postgres: {} });
  });

  it('takes a real GitLab, Kafka, rotated webhook secrets and named substrate instances', () => {
    const c = parseConfig(
      {
        GITLAB_URL: 'https://gitlab.example.com',
        GITLAB_TOKEN: 'glpat-0123456789abcdef',
        JIT_ELEVATIONS_PROJECT: 'ops/elevations',
        JIT_WEBHOOK_SECRET: 'first-secret-0123456789, second-secret-0123456789',
        KAFKA_BROKERS: 'k1:9092,k2:9092',
        JIT_SUBSTRATES: '{"vault:prod":{"addr":"https://vault:8200","tokenRef":"env:VAULT_TOKEN","tokenRole":"jit"}}',
        VAULT_TOKEN: 's.0123456789abcdef',
      },
      '/srv',
    );
    expect(c.gitlab).toMatchObject({ url: 'https://gitlab.example.com', project: 'ops/elevations' });
    expect(c.webhook.secrets).toEqual(['first-secret-0123456789', 'second-secret-0123456789']);
    expect(c.kafka?.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.kafka?.sessionTimeoutMs).toBe(30_000); // the default, as in every app on Kafka
    expect(parseConfig({ KAFKA_BROKERS: 'k1:9092', KAFKA_SESSION_TIMEOUT_MS: '10000' }, '/srv').kafka?.sessionTimeoutMs).toBe(10_000);
    // the notifier's worst delivery (when it runs) must fit in the session the operator set, not in the default
    expect(parseConfig({ KAFKA_BROKERS: 'k1:9092', KAFKA_SESSION_TIMEOUT_MS: '6000' }, '/srv').kafka?.sessionTimeoutMs).toBe(6000);
    expect(() =>
      parseConfig({ KAFKA_BROKERS: 'k1:9092', KAFKA_SESSION_TIMEOUT_MS: '6000', JIT_NOTIFY_CHANNELS: JSON.stringify({ security: 'https://hooks.slack.com/services/T0/B0/x' }) }, '/srv'),
    ).toThrow(/80% of KAFKA_SESSION_TIMEOUT_MS \(6000 ms\)/);
    expect(Object.keys(c.substrates)).toEqual(['postgres', 'vault:prod']);
    expect(c.demoDatabase).toBe(false);
  });

  it.each([
    [{ JIT_PORT: '99999' }, /JIT_PORT/],
    [{ JIT_PORT: 'eighty' }, /JIT_PORT/],
    [{ GITLAB_URL: 'https://gitlab.example.com' }, /GITLAB_URL, GITLAB_TOKEN and JIT_ELEVATIONS_PROJECT go together/],
    [{ GITLAB_URL: 'https://gitlab.example.com', GITLAB_TOKEN: 'glpat-0123456789abcdef' }, /GITLAB_URL, GITLAB_TOKEN and JIT_ELEVATIONS_PROJECT go together/],
    [{ KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS.*host:port/],
    [{ JIT_WEBHOOK_SIGNING_SECRET: 'not-a-whsec' }, /JIT_WEBHOOK_SIGNING_SECRET/],
    [{ JIT_SUBSTRATES: '{"vault:prod": ' }, /JIT_SUBSTRATES: not valid JSON/],
    [{ JIT_SUBSTRATES: '{"Vault Prod": {}}' }, /JIT_SUBSTRATES/],
    [{ JIT_LOG_LEVEL: 'loud' }, /JIT_LOG_LEVEL/],
  ])('refuses %j with a message naming the setting', (env, message) => {
    expect(fail(env as Record<string, string>)).toMatch(message);
  });

  it('JIT_ELEVATIONS_PROJECT alone chooses the sandbox project (sandbox mode)', () => {
    const config = parseConfig({ JIT_ELEVATIONS_PROJECT: 'team/access' }, '/srv');
    expect(config.gitlab).toBeUndefined();
    expect(config.sandbox.project).toBe('team/access');
  });

  it('never echoes a secret value in its messages', () => {
    const message = fail({
      GITLAB_URL: 'https://gitlab.example.com',
      GITLAB_TOKEN: 'glpat-very-secret-value',
      JIT_ELEVATIONS_PROJECT: 'ops/elevations',
      JIT_WEBHOOK_SECRET: 'short',
    });
    expect(message).toMatch(/JIT_WEBHOOK_SECRET/);
    expect(message).not.toContain('glpat-very-secret-value');
    expect(message).not.toContain('short,');
  });
});
