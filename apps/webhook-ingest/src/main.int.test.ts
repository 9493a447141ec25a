// The real process: start with an embedded bus, take a delivery, stop on SIGTERM with the event stored.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedBus, type BusMessage } from '@jit/bus';
import { TOPIC_GITLAB } from '@jit/contracts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/webhook-ingest/src/main.ts');
const MR = () => readFile(join(ROOT, 'libs/ingest/src/fixtures/merge-request-hook.json'), 'utf8');

let child: ChildProcess | undefined;
const dirs: string[] = [];
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let opsUrl = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (err += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', () => {
      const m = out.match(/"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
      const ops = out.match(/"ops":"(http:\/\/127\.0\.0\.1:\d+)"/);
      if (m && ops) {
        opsUrl = ops[1]!;
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  listening.catch(() => undefined); // awaited only by tests that expect the process to listen
  return { proc, listening, exited, output: () => out + err, opsUrl: () => opsUrl };
}

describe('apps/webhook-ingest', () => {
  it('serves deliveries on 127.0.0.1 and stops cleanly on SIGTERM with the event on the bus', async () => {
    const busDir = await mkdtemp(join(tmpdir(), 'wi-bus-'));
    const dataDir = await mkdtemp(join(tmpdir(), 'wi-data-'));
    dirs.push(busDir, dataDir);
    const app = start({ JIT_BUS_DIR: busDir, JIT_DATA_DIR: dataDir, JIT_WEBHOOK_SECRET: 'app-secret-1,app-secret-2', PORT: '0', JIT_OPS_PORT: '0' });
    child = app.proc;
    const base = await app.listening;
    const res = await fetch(`${base}/webhooks/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': 'app-secret-2', 'idempotency-key': 'app-delivery-1' },
      body: await MR(),
    });
    expect(res.status).toBe(202);
    // health and metrics are on the ops listener only, not on the port GitLab reaches
    expect((await fetch(`${app.opsUrl()}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${app.opsUrl()}/metrics`)).text()).toMatch(/jit_webhook_deliveries_total\{outcome="accepted"\} 1/);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${base}${path}`)).status).toBe(404);
    app.proc.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.output()).not.toContain('app-secret-2');

    const bus = await createEmbeddedBus({ dir: busDir });
    const seen: BusMessage[] = [];
    await bus.replay(TOPIC_GITLAB, (m) => {
      seen.push(m);
    });
    await bus.close();
    expect(seen.map((m) => [m.key, m.event.id])).toEqual([['1!1', 'app-delivery-1']]);
    expect(await readFile(join(dataDir, 'ingest-dedupe.log'), 'utf8')).toContain(' app-delivery-1\n');
  });

  it('exits 2 naming the bad setting when the configuration is wrong', async () => {
    const app = start({ KAFKA_BROKERS: 'localhost', JIT_WEBHOOK_SIGNING_SECRET: 'not-a-whsec-secret' });
    child = app.proc;
    expect(await app.exited).toBe(2);
    expect(app.output()).toMatch(/KAFKA_BROKERS/);
    expect(app.output()).toMatch(/JIT_WEBHOOK_SIGNING_SECRET/);
    expect(app.output()).not.toContain('not-a-whsec-secret');
  });
});
