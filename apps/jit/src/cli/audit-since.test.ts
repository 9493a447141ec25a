// `jit events --since` writes an export that `jit audit verify --since` finds intact (each
// elevation's anchor first), while a removed event inside the window, or a grant whose `revoked`
// was cut off the end of the log, is still reported. Through the API on a real listener, over a
// memory bus whose events the signing bus chains.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsPlugin } from '@jit/audit';
import { createSigningBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { EVENT_TYPES, TOPIC_ELEVATIONS, type ElevationEventType } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createChainHeads } from '@jit/ledger';
import { runCli } from './program';

const { signer } = createTestSigningKey();
const TOKEN = 'auditor-token-since-01';
let app: FastifyInstance;
let url: string;
let dir: string;
let keysFile: string;
const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;

beforeAll(async () => {
  const bus = createSigningBus(createMemoryBus(), signer, [TOPIC_ELEVATIONS], createChainHeads());
  const life: Array<[string, ElevationEventType, string]> = [
    ['gl-42-1', EVENT_TYPES.requested, '10:00'],
    ['gl-42-1', EVENT_TYPES.approved, '10:05'],
    ['gl-42-2', EVENT_TYPES.requested, '10:06'],
    // --since 10:30 starts here: gl-42-1's anchor is its approval
    ['gl-42-1', EVENT_TYPES.granted, '10:31'],
    ['gl-42-2', EVENT_TYPES.approved, '10:32'],
    ['gl-42-2', EVENT_TYPES.granted, '10:33'],
    ['gl-42-1', EVENT_TYPES.revoked, '11:05'],
    ['gl-42-2', EVENT_TYPES.revoked, '11:06'],
    ['gl-42-3', EVENT_TYPES.requested, '12:00'],
  ];
  for (const [id, type, hhmm] of life) {
    const grantId = `${id}-${'a'.repeat(40)}`;
    const data = type === EVENT_TYPES.requested ? { elevationId: id } : { elevationId: id, grantId, ...(type === EVENT_TYPES.granted ? { expiresAt: at('11:00') } : {}) };
    await bus.publish(TOPIC_ELEVATIONS, id, sampleEvent(type, data as never, { time: at(hhmm), id: `${type}-${id}` }));
  }
  app = Fastify({ forceCloseConnections: true });
  app.addHook('onRequest', async (req) => void ((req as { caller?: unknown }).caller = { username: 'alice', bot: false, via: 'gitlab-token' }));
  await app.register(eventsPlugin, { bus, access: { viewOf: async () => ({ auditor: true }) } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'jit-audit-since-'));
  keysFile = join(dir, 'keys.json');
  await writeFile(keysFile, JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', kid: signer.publicKey.kid, x: signer.publicKey.x, roles: ['gate', 'issuer', 'revoker'] }] }));
});
afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { JIT_URL: url, GITLAB_TOKEN: TOKEN } });
  return { code, out: out.join('\n'), lines: out, err: err.join('\n') };
}
const verify = async (lines: string[], ...flags: string[]) => {
  const file = join(dir, `export-${Math.random().toString(36).slice(2)}.jsonl`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return cli(['audit', 'verify', file, '--keys', keysFile, ...flags]);
};

describe('exports from a point in time, and a log cut short', () => {
  it('an export made with --since verifies with the same --since; without it, it says why it does not', async () => {
    const exp = await cli(['events', '--since', '2026-03-01T10:30:00Z']);
    expect(exp.code).toBe(0);
    const rows = exp.lines.map((l) => JSON.parse(l) as { type: string; subject: string; time: string });
    // each elevation's last event before 10:30 comes right before its first one after
    expect(rows.map((r) => `${r.subject} ${r.type.replace(/^dev\.jit\.elevation\.|\.v1$/g, '')}`)).toEqual([
      'gl-42-1 approved',
      'gl-42-1 granted',
      'gl-42-2 requested',
      'gl-42-2 approved',
      'gl-42-2 granted',
      'gl-42-1 revoked',
      'gl-42-2 revoked',
      'gl-42-3 requested',
    ]);
    const ok = await verify(exp.lines, '--since', '2026-03-01T10:30:00Z');
    expect([ok.code, ok.out]).toEqual([0, expect.stringMatching(/^intact: 8 events of 3 elevation/)]);
    const without = await verify(exp.lines);
    expect(without.code).toBe(2);
    expect(without.out).toMatch(/missing_event[\s\S]*verify it with the same --since/);
  });

  it('a removed event inside the window is still found with --since', async () => {
    const exp = await cli(['events', '--since', '2026-03-01T10:30:00Z']);
    const cut = exp.lines.filter((l) => !(l.includes('"gl-42-2"') && l.includes('approved.v1')));
    const r = await verify(cut, '--since', '2026-03-01T10:30:00Z');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^NOT INTACT: line 4: missing_event: .*granted.* of gl-42-2/);
  });

  it('a grant whose revoked was cut off the end of the log is reported, in an export and live', async () => {
    const all = await cli(['events']);
    const cut = all.lines.filter((l) => !(l.includes('"gl-42-1"') && l.includes('revoked.v1')));
    expect(cut).toHaveLength(all.lines.length - 1);
    const r = await verify(cut);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^NOT INTACT: line 4: unended: .*granted.* of gl-42-1 was granted until 2026-03-01T11:00:00\.000Z/);
    // an export that ends before that grant was due to end finds nothing to say about it
    expect((await verify(cut.slice(0, 5))).code).toBe(0);
    // the live log is complete up to now: a grant long past its expiry without an end is reported
    expect((await cli(['audit', 'verify', '--keys', keysFile])).code).toBe(0);
    expect((await cli(['audit', 'verify', '--keys', keysFile, '--as-of', '2026-03-01T11:10:00Z'])).code).toBe(0);
  });
});
