// The all-in-one on its embedded bus against someone who can write to the log (another producer,
// or whoever can write the log file): a well-formed `elevation.approved` naming a real merge commit
// and policy version, its own recipient and a 30-day TTL — unsigned, or signed by a key jit does not
// trust — mints nothing; it is refused, logged and counted, and jit carries on. The gate likewise takes
// what only a gate emits (a requested asking for no approvals) only when a gate key signed it.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventSigner, generateSigningKeyPem } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { generateAgeIdentity } from '@jit/issuer';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { buildJit, type JitProcess } from './server';

const P = 'ops/elevations';
let jit: JitProcess;
let url: string;
let dir: string;
const logs: string[] = [];

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metrics = async () => (await fetch(`${jit.opsUrl}/metrics`)).text();
const refused = async (reason: string) => Number(new RegExp(`^jit_events_refused_total\\{consumer="issuer",type="approved",reason="${reason}"\\} (\\d+)$`, 'm').exec(await metrics())?.[1] ?? 0);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jit-forged-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const config = parseConfig({ JIT_DATA_DIR: dir, JIT_PORT: String(port), JIT_OPS_PORT: '0', JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0' });
  jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'info', destination: { write: (s: string) => void logs.push(s) } }) });
  url = `http://127.0.0.1:${port}`;
  await jit.listen();
}, 180_000);

afterAll(async () => {
  await jit?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('forged events on the embedded bus', () => {
  it('an approval unsigned or signed by a key jit does not trust gets no credential; it is logged and counted', async () => {
    const sb = jit.sandbox!;
    const project = sb.project(P);
    const headers = { 'PRIVATE-TOKEN': 'carol-token-0001' };
    const main = (await (await fetch(`${sb.apiUrl}/projects/${project.id}/repository/branches/main`, { headers })).json()) as { commit: { id: string } };
    const policy = (await (await fetch(`${sb.apiUrl}/projects/${project.id}/repository/files/policy.yaml?ref=main`, { headers })).json()) as { blob_id: string };
    const mallory = await generateAgeIdentity();
    const forge = (n: number) => {
      const elevationId = `gl-${project.id}-${900 + n}`;
      return sampleEvent(
        EVENT_TYPES.approved,
        {
          elevationId,
          grantId: `${elevationId}-${main.commit.id}`,
          projectId: project.id,
          mrIid: 900 + n,
          requester: 'carol',
          target: 'demo-db',
          scope: 'write',
          tier: 'reversible-write',
          ttlSeconds: 30 * 24 * 3600,
          recipient: mallory.recipient,
          mergeSha: main.commit.id,
          policyVersion: policy.blob_id,
        },
        { time: new Date().toISOString() },
      );
    };
    const unsigned = forge(1);
    const stranger = createEventSigner(generateSigningKeyPem()).sign(forge(2));
    const before = { unsigned: await refused('unsigned'), stranger: await refused('untrusted_key') };
    await jit.bus.publish(TOPIC_ELEVATIONS, unsigned.data.elevationId, unsigned);
    await jit.bus.publish(TOPIC_ELEVATIONS, stranger.data.elevationId, stranger);
    await until(async () => (await refused('unsigned')) === before.unsigned + 1 && (await refused('untrusted_key')) === before.stranger + 1, 'both approvals refused');
    for (const e of [unsigned, stranger]) {
      const res = await fetch(`${url}/v1/elevations/${e.data.elevationId}/credential`, { headers: { authorization: 'Bearer alice-token-0001' } });
      expect(res.status, e.data.elevationId).not.toBe(200);
    }
    expect(await metrics()).not.toMatch(/^jit_grants_total\{outcome="granted"[^}]*\} [1-9]/m); // nothing issued
    const warned = logs.filter((l) => l.includes('refused an elevation.approved not signed by a trusted gate key'));
    expect(warned.length).toBeGreaterThanOrEqual(2);
    expect(warned.join('')).not.toContain(mallory.recipient); // ids only, none of the forged data
    // jit publishes its key, and is still ready
    const keys = ((await (await fetch(`${url}/v1/keys`, { headers: { authorization: 'Bearer alice-token-0001' } })).json()) as { keys: Array<{ roles: string[] }> }).keys;
    expect(keys).toEqual([expect.objectContaining({ roles: ['gate', 'issuer', 'revoker'] })]);
    expect((await fetch(`${jit.opsUrl}/readyz`)).status).toBe(200);
  });
  it('a requested another producer wrote (asking for no approvals) is not taken by the gate: refused and counted', async () => {
    const project = jit.sandbox!.project(P);
    const gateRefused = async () => Number(/^jit_events_refused_total\{consumer="gate",type="requested",reason="unsigned"\} (\d+)$/m.exec(await metrics())?.[1] ?? 0);
    const before = await gateRefused();
    const forged = sampleEvent(EVENT_TYPES.requested, { elevationId: `gl-${project.id}-950`, projectId: project.id, mrIid: 950, requiredApprovals: 0 }, { time: new Date().toISOString() });
    await jit.bus.publish(TOPIC_ELEVATIONS, forged.data.elevationId, forged);
    await until(async () => (await gateRefused()) === before + 1, 'the gate to refuse the forged requested');
    expect((await fetch(`${jit.opsUrl}/readyz`)).status).toBe(200);
  });
});
