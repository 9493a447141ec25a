// `jit events` and `jit audit verify` against the API (GET /v1/events, auditors only), as an auditor
// and as someone who is not: what the all-in-one serves, on a real listener over a memory bus.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsPlugin } from '@jit/audit';
import { createSigningBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { EVENT_TYPES, TOPIC_ELEVATIONS } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createChainHeads } from '@jit/ledger';
import { runCli } from './program';

const { signer } = createTestSigningKey();
const TOKENS: Record<string, string> = { 'auditor-token-0001': 'alice', 'carol-token-00001': 'carol' };
let app: FastifyInstance;
let url: string;
let dir: string;

beforeAll(async () => {
  const bus = createSigningBus(createMemoryBus(), signer, [TOPIC_ELEVATIONS], createChainHeads());
  for (const type of [EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.revoked] as const) await bus.publish(TOPIC_ELEVATIONS, 'gl-42-7', sampleEvent(type));
  app = Fastify({ forceCloseConnections: true });
  // the auth plugin's part: the caller named by the bearer token
  app.addHook('onRequest', async (req) => {
    const who = TOKENS[(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (who) (req as { caller?: unknown }).caller = { username: who, bot: false, via: 'gitlab-token' };
  });
  await app.register(eventsPlugin, { bus, access: { viewOf: async (c) => ({ auditor: c.username === 'alice' }) } });
  app.get('/v1/keys', async () => ({ keys: [{ kty: 'OKP', crv: 'Ed25519', kid: signer.publicKey.kid, x: signer.publicKey.x, roles: ['gate', 'issuer', 'revoker'] }] }));
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'jit-events-api-'));
});
afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], token: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { JIT_URL: url, GITLAB_TOKEN: token } });
  return { code, out, err: err.join('\n') };
}

describe('jit events / jit audit verify through the API', () => {
  it('an auditor streams the log (CloudEvents or OCSF) and verifies it live and from an export', async () => {
    const ce = await cli(['events'], 'auditor-token-0001');
    expect(ce.code).toBe(0);
    expect(ce.out.map((l) => JSON.parse(l).type)).toEqual([EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.revoked]);
    const ocsf = await cli(['events', '--format', 'ocsf', '--elevation', 'gl-42-7'], 'auditor-token-0001');
    expect(ocsf.out.map((l) => JSON.parse(l).type_uid)).toEqual([300599, 300599, 300501, 300502]);
    const live = await cli(['audit', 'verify'], 'auditor-token-0001');
    // with no keys given, the server's are used, and the CLI says so
    expect(live.err).toMatch(/trusting the keys the server lists now/);
    expect(live.out.join('\n')).toMatch(/^intact: 4 events of 1 elevation/);
    expect(live.code).toBe(0);
    await writeFile(join(dir, 'export.jsonl'), `${ce.out.slice(0, 1).concat(ce.out.slice(2)).join('\n')}\n`);
    const gap = await cli(['audit', 'verify', join(dir, 'export.jsonl'), '--keys', `${url}/v1/keys`], 'auditor-token-0001');
    expect(gap.code).toBe(2);
    expect(gap.out.join('\n')).toMatch(/NOT INTACT: line 2: missing_event/);
  });

  it('a path with no log, or nothing to verify, is an error rather than an intact log', async () => {
    const missing = await cli(['audit', 'verify', '--bus-dir', join(dir, 'no-such-dir'), '--keys', `${url}/v1/keys`], 'auditor-token-0001');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/holds no jit event log/);
    await writeFile(join(dir, 'empty.jsonl'), '');
    const empty = await cli(['audit', 'verify', join(dir, 'empty.jsonl'), '--keys', `${url}/v1/keys`], 'auditor-token-0001');
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/nothing was checked/);
    const other = await cli(['audit', 'verify', '--elevation', 'gl-1-1', '--keys', `${url}/v1/keys`], 'auditor-token-0001');
    expect(other.code).toBe(1);
  });

  it('someone who is not an auditor is refused (403) and told why; the token is never printed', async () => {
    const r = await cli(['events'], 'carol-token-00001');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/403.*auditors/);
    expect(r.err).not.toContain('carol-token-00001');
    const stranger = await cli(['events'], 'unknown-token-000');
    expect(stranger.err).toMatch(/401/);
    expect(stranger.err).not.toContain('unknown-token-000');
  });
});
