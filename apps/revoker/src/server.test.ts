// The revoker process's one public route (GET /v1/keys) authenticates its callers with the
// configured JIT_AUTH_CACHE_TTL_MS, like every other API process: a token GitLab stops accepting
// is refused once that TTL has passed (here 0: at once), not after a fixed minute.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSigningKey } from '@jit/contracts/testing';
import { createMemoryBus } from '@jit/bus/testing';
import type { EventBus } from '@jit/bus';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { buildServer, type RevokerServer } from './server';

const BOT_TOKEN = 'jit-bot-token-revoker-0001';
const CAROL_TOKEN = 'carol-token-revoker-0001';
const key = createTestSigningKey();
const KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-revoker-server-')), 'signing-key.pem');
writeFileSync(KEY_FILE, key.pem, { mode: 0o600 });

let sandbox: Sandbox;
let bus: EventBus;
let server: RevokerServer;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: 'jit-bot', token: BOT_TOKEN, bot: true },
        { username: 'carol', token: CAROL_TOKEN },
      ],
    },
  });
  bus = createMemoryBus();
  const config = parseConfig({
    KAFKA_BROKERS: '127.0.0.1:9',
    GITLAB_URL: sandbox.url,
    GITLAB_TOKEN: BOT_TOKEN,
    JIT_SUBSTRATES: JSON.stringify({ vault: { addr: 'http://127.0.0.1:9', tokenRef: 'env:VAULT_TOKEN', tokenRole: 'jit' } }),
    VAULT_TOKEN: 'hvs.revoker-unit-vault-secret',
    JIT_SIGNING_KEY_FILE: KEY_FILE,
    JIT_TRUSTED_GATE_KEYS: createTestSigningKey().signer.publicKey.x,
    JIT_TRUSTED_ISSUER_KEYS: createTestSigningKey().signer.publicKey.x,
    JIT_SWEEP_INTERVAL_MS: '0',
    JIT_AUTH_CACHE_TTL_MS: '0',
  });
  expect(config.auth.cacheTtlMs).toBe(0);
  server = await buildServer(config, { bus, logger: createLogger({ name: 'revoker-test', level: 'silent' }) });
});

afterAll(async () => {
  await server?.app.close();
  await bus?.close();
  await sandbox?.close();
});

describe('revoker API authentication', () => {
  it('refuses a blocked user’s token on the next call when JIT_AUTH_CACHE_TTL_MS is 0', async () => {
    const keys = () => server.app.inject({ url: '/v1/keys', headers: { authorization: `Bearer ${CAROL_TOKEN}` } });
    expect((await keys()).statusCode).toBe(200);
    sandbox.user('carol').state = 'blocked';
    const refused = await keys();
    expect(refused.statusCode).toBe(401);
    expect(refused.body).not.toContain(CAROL_TOKEN);
  });
});
