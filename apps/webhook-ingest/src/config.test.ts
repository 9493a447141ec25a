import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config';

const base = { KAFKA_BROKERS: 'k1:9092, k2:9093', JIT_WEBHOOK_SECRET: 'tok-a,tok-b' };

function problems(env: Record<string, string | undefined>): string {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('parses lists and defaults', () => {
    const c = parseConfig(base);
    expect(c).toMatchObject({
      bus: { kind: 'kafka', brokers: ['k1:9092', 'k2:9093'], clientId: 'jit-webhook-ingest' },
      auth: { tokens: { setting: 'JIT_WEBHOOK_SECRET', value: ['tok-a', 'tok-b'] }, signingSecrets: { setting: 'JIT_WEBHOOK_SIGNING_SECRET', value: [] }, graceMs: 600_000 },
      bodyLimit: 1048576,
      port: 8080,
      host: '127.0.0.1',
      dedupe: { dir: '.jit/webhook-ingest', windowMs: 86_400_000, maxIds: 100_000 },
    });
  });

  it('accepts an embedded bus dir and signing tokens', () => {
    const c = parseConfig({ JIT_BUS_DIR: '/tmp/bus', JIT_WEBHOOK_SIGNING_SECRET: 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NTY3ODk=', PORT: '0', HOST: '0.0.0.0', JIT_INGEST_BODY_LIMIT: '2048' });
    expect(c.bus).toEqual({ kind: 'embedded', dir: '/tmp/bus' });
    expect(c).toMatchObject({ port: 0, host: '0.0.0.0', bodyLimit: 2048 });
  });

  it('fails naming each bad setting, never echoing a secret', () => {
    const msg = problems({
      KAFKA_BROKERS: 'no-port',
      JIT_WEBHOOK_SIGNING_SECRET: 'plain-secret-value-9',
      JIT_INGEST_BODY_LIMIT: '1mb',
      PORT: '70000',
      LOG_LEVEL: 'loud',
    });
    for (const key of ['KAFKA_BROKERS', 'JIT_WEBHOOK_SIGNING_SECRET', 'JIT_INGEST_BODY_LIMIT', 'PORT', 'LOG_LEVEL']) expect(msg).toContain(key);
    expect(msg).not.toContain('plain-secret-value-9');
  });

  it('refuses to run without a bus or without any secret', () => {
    expect(problems({ JIT_WEBHOOK_SECRET: 'x' })).toMatch(/KAFKA_BROKERS/);
    expect(problems({ KAFKA_BROKERS: 'k:1' })).toMatch(/JIT_WEBHOOK_SECRET/);
    expect(problems({ ...base, JIT_BUS_DIR: '/x' })).toMatch(/JIT_BUS_DIR/);
    expect(problems({ ...base, JIT_WEBHOOK_SECRET: ' , ,' })).toMatch(/JIT_WEBHOOK_SECRET/);
  });
});
