// The all-in-one on Kafka, restarted right after a kill -9 (issue 17): its services join their
// consumer groups in fastify's onReady, and a join waits until the killed member's Kafka session
// expires. It must start then, not exit on fastify's default 10 s onReady timeout (FST_ERR_HOOK_TIMEOUT).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, startKafka, type KafkaHandle } from '@jit/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/jit/src/main.ts');

let kafka: KafkaHandle | undefined;
let dir: string | undefined;
interface Child {
  proc: ChildProcessByStdio<null, Readable, Readable>;
  exited: Promise<number | null>;
  /** The ops URL, once it listens. */
  listening: Promise<string>;
  output(): string;
}
const children: Child[] = [];
beforeAll(async () => {
  kafka = await startKafka(); // a private broker: the all-in-one's topics and groups have fixed names
  dir = await mkdtemp(join(tmpdir(), 'jit-kafka-restart-'));
}, 240_000);
afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await kafka?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c) => (out += String(c)));
  proc.stderr.on('data', (c) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', () => {
      const m = /\(health, readiness and metrics: (http:\/\/127\.0\.0\.1:\d+)\)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`exited ${code}`)));
  });
  listening.catch(() => undefined);
  const child: Child = { proc, exited, listening, output: () => out };
  children.push(child);
  return child;
}

it("restarted right after a kill -9, it waits for its consumer groups (the killed member holds them for its session) and starts; it never exits on fastify's 10 s onReady timeout", async () => {
  const env = {
    JIT_DATA_DIR: dir!,
    JIT_NO_DEMO_DB: '1',
    JIT_PORT: String(await freePort()),
    JIT_OPS_PORT: String(await freePort()),
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SWEEP_INTERVAL_MS: '0',
    KAFKA_BROKERS: kafka!.brokers.join(','),
    // longer than fastify's 10 s: the second start's joins wait this long for the killed member
    KAFKA_SESSION_TIMEOUT_MS: '20000',
  };
  const first = start(env);
  await first.listening;
  first.proc.kill('SIGKILL');
  await first.exited;
  const second = start(env);
  const outcome = await Promise.race([second.listening.then(() => 'listening'), second.exited.then((code) => `exited ${code}`)]);
  expect(outcome, second.output().slice(-3000)).toBe('listening');
  expect((await fetch(`${await second.listening}/readyz`)).status).toBe(200);
  expect(second.output()).not.toContain('FST_ERR_HOOK_TIMEOUT');
  second.proc.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 240_000);
