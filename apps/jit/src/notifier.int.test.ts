// The all-in-one runs the notifier when JIT_NOTIFY_CHANNELS names webhook URLs (and the HTTP sink
// when JIT_SINK_URL is set): on its embedded
// bus, with the sandbox's seed policy plus a notifications section routing bypasses and
// break-glass grants to a local Slack receiver (which checks Block Kit's rules).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { startReceiver, validateSlackMessage, type Receiver } from '@jit/notify/testing';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { DEMO_SEED_FILE } from './sandbox-gitlab';
import { buildJit, type JitProcess } from './server';

let jit: JitProcess;
let slack: Receiver;
let siem: Receiver;
const SINK_SECRET = `whsec_${Buffer.from('all-in-one sink secret 0123456789').toString('base64')}`;
let dir: string;
const logs: string[] = [];
// another gate's key, trusted by this all-in-one (JIT_TRUSTED_GATE_KEYS): what a distributed gate signs with
const gate = createTestSigningKey();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jit-notify-aio-'));
  // the demo seed, its policy routing to a channel named security
  const seedDir = join(dir, 'seed');
  cpSync(join(DEMO_SEED_FILE, '..'), seedDir, { recursive: true });
  const policy = join(seedDir, 'demo-repo', 'policy.yaml');
  writeFileSync(
    policy,
    `${readFileSync(policy, 'utf8')}\nnotifications:\n  channels:\n    security: { kind: slack }\n  routes:\n    - { events: [elevation.bypass.detected], to: [security] }\n    - { events: [elevation.granted], breakGlass: true, to: [security] }\n`,
  );
  slack = await startReceiver(validateSlackMessage);
  siem = await startReceiver();
  const port = await freePort();
  const config = parseConfig({
    JIT_DATA_DIR: join(dir, 'data'),
    JIT_PORT: String(port),
    JIT_OPS_PORT: '0',
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SANDBOX_SEED: join(seedDir, 'demo-seed.yaml'),
    JIT_SWEEP_INTERVAL_MS: '0',
    JIT_NO_DEMO_DB: '1',
    JIT_NOTIFY_CHANNELS: JSON.stringify({ security: slack.urlFor('services/T0/B0/aio-secret-path') }),
    JIT_SINK_URL: siem.urlFor('siem/ingest'),
    JIT_SINK_SECRET: SINK_SECRET,
    JIT_TRUSTED_GATE_KEYS: gate.signer.publicKey.x,
  });
  jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'info', destination: { write: (s: string) => void logs.push(s) } }) });
  await jit.listen();
}, 180_000);

afterAll(async () => {
  await jit?.close();
  await slack?.close();
  await siem?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the all-in-one notifier', () => {
  it('posts a bypass to the channel the policy names, in Block Kit, never logs the URL, and the sink sends it to the SIEM signed', async () => {
    const projectId = jit.gitlab.projectId;
    // an unsigned bypass (anyone who can write the log) first, then the gate-signed one, same elevation
    const forged = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: `gl-${projectId}-7001`, projectId, mrIid: 7001, reasons: ['forged alarm'] }, { time: new Date().toISOString() });
    const bypass = gate.signer.sign(
      sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: `gl-${projectId}-7001`, projectId, mrIid: 7001, reasons: ['merged with 0 of 2 approvals'] }, { time: new Date().toISOString() }),
    );
    await jit.bus.publish('jit.elevations.v1', forged.data.elevationId, forged as never);
    await jit.bus.publish('jit.elevations.v1', bypass.data.elevationId, bypass as never);
    const [msg] = await slack.waitFor(1, 60_000);
    expect(msg!.problems).toEqual([]);
    expect(JSON.stringify(msg!.body)).not.toContain('forged alarm');
    expect(JSON.stringify(msg!.body)).toContain(`gl-${projectId}-7001`);
    expect(logs.join('')).not.toContain('aio-secret-path');
    expect(await (await fetch(`${jit.opsUrl}/metrics`)).text()).toMatch(/jit_notify_deliveries_total\{consumer="notifier",channel="security",outcome="delivered"\} 1/);
    // the HTTP sink sent the same event to the SIEM, in a signed CloudEvents batch
    const batches = () => siem.requests.filter((r) => (r.body as Array<{ id: string }>).some((e) => e.id === bypass.id));
    await slack.waitFor(1);
    const deadline = Date.now() + 60_000;
    while (batches().length === 0 && Date.now() < deadline) await siem.waitFor(siem.requests.length + 1, 60_000);
    const [batch] = batches();
    expect(batch!.headers['content-type']).toBe('application/cloudevents-batch+json');
    expect(() => new Webhook(SINK_SECRET).verify(batch!.raw, batch!.headers as Record<string, string>)).not.toThrow();
  });
});
