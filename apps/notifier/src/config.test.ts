import { describe, expect, it } from 'vitest';
import { createTestSigningKey } from '@jit/contracts/testing';
import { configProblems } from '@jit/service/testing';
import { parseConfig } from './config';

const KEY = createTestSigningKey().signer.publicKey.x;
const SLACK = 'https://hooks.slack.com/services/T000/B000/leaky-secret-part';
const base = {
  KAFKA_BROKERS: 'k1:9092',
  GITLAB_URL: 'https://gitlab.example.com',
  GITLAB_TOKEN: 'glpat-secret-token-value',
  JIT_ELEVATIONS_PROJECT: 'ops/elevations',
  JIT_NOTIFY_CHANNELS: JSON.stringify({ security: SLACK }),
  JIT_TRUSTED_GATE_KEYS: KEY,
  JIT_TRUSTED_ISSUER_KEYS: KEY,
  JIT_TRUSTED_REVOKER_KEYS: KEY,
};

const problems = (env: Record<string, string | undefined>, readFile?: (p: string) => string): string => configProblems(() => parseConfig(env, readFile));

describe('notifier parseConfig', () => {
  it('parses defaults, the channels and their file', () => {
    const c = parseConfig(base);
    expect(c).toMatchObject({
      kafka: { groupId: 'jit-notifier', clientId: 'jit-notifier' },
      elevationsProject: 'ops/elevations',
      notify: { channels: { setting: 'JIT_NOTIFY_CHANNELS', value: { security: SLACK } }, retry: { maxAttempts: 5, baseMs: 500, maxMs: 2000, timeoutMs: 2500 } },
      ops: { port: 9464, host: '127.0.0.1' },
    });
    const f = parseConfig({ ...base, JIT_NOTIFY_CHANNELS: undefined, JIT_NOTIFY_CHANNELS_FILE: '/run/secrets/channels' }, () => JSON.stringify({ a: SLACK }));
    expect(f.notify.channels).toEqual({ setting: 'JIT_NOTIFY_CHANNELS', value: { a: SLACK }, file: '/run/secrets/channels' });
  });

  it('names bad channels and a retry budget over the Kafka session, never echoing a URL', () => {
    const bad = problems({ ...base, JIT_NOTIFY_CHANNELS: `{"security": "${SLACK}",` });
    expect(bad).toMatch(/JIT_NOTIFY_CHANNELS: must be a JSON object of channel name to webhook URL/);
    const notUrl = problems({ ...base, JIT_NOTIFY_CHANNELS: JSON.stringify({ security: 'leaky-secret-part', 'bad name!': SLACK }) });
    expect(notUrl).toMatch(/http\(s\) URL/);
    expect(notUrl).toMatch(/JIT_NOTIFY_CHANNELS: must be a JSON object of channel name/);
    for (const m of [bad, notUrl]) expect(m).not.toContain('leaky-secret-part');
    expect(problems({ ...base, JIT_NOTIFY_MAX_ATTEMPTS: '20', JIT_NOTIFY_TIMEOUT_MS: '10000' })).toMatch(/JIT_NOTIFY_MAX_ATTEMPTS: attempts × JIT_NOTIFY_TIMEOUT_MS/);
    expect(problems({ ...base, JIT_TRUSTED_GATE_KEYS: undefined })).toMatch(/JIT_TRUSTED_GATE_KEYS/);
  });

  it('runs the HTTP sink only with a URL and a signing secret', () => {
    expect(parseConfig(base).sink).toBeUndefined();
    const secret = `whsec_${Buffer.from('a sink secret of enough bytes').toString('base64')}`;
    const c = parseConfig({ ...base, JIT_SINK_URL: 'https://siem.example.com/jit?token=leaky-secret-part', JIT_SINK_SECRET: secret });
    expect(c.sink).toMatchObject({ groupId: 'jit-sink', maxEvents: 100, lingerMs: 200, url: { setting: 'JIT_SINK_URL' }, secret: { setting: 'JIT_SINK_SECRET', value: secret } });
    const missing = problems({ ...base, JIT_SINK_URL: 'https://siem.example.com/jit?token=leaky-secret-part' });
    expect(missing).toMatch(/JIT_SINK_SECRET: required with JIT_SINK_URL/);
    expect(problems({ ...base, JIT_SINK_URL: 'https://siem.example.com', JIT_SINK_SECRET: 'leaky-secret-part' })).toMatch(/JIT_SINK_SECRET: must be whsec_/);
    expect(missing).not.toContain('leaky-secret-part');
  });
});
