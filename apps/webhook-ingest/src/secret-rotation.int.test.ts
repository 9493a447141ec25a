// The real webhook-ingest process with its secrets in files, as a Kubernetes secret volume mounts
// them: the webhook secret and the signing secret are rotated (kubelet's atomic ..data swap) while
// deliveries keep arriving from several concurrent senders. No delivery is lost: the new secrets
// are accepted as soon as the process logs the rotation, deliveries GitLab had already signed with
// the old ones (its retry queue) are accepted for the grace window, and every accepted delivery is
// on the bus. No secret appears in the output. Then the file's rules at start-up: missing file,
// X and X_FILE together, a world-readable file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedBus } from '@jit/bus';
import { TOPIC_GITLAB } from '@jit/contracts';
import { atomicSecretDir } from '@jit/service/testing';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/webhook-ingest/src/main.ts');
const GRACE_MS = 6_000;

/** Polls until `check` holds (apps may not use @jit/testing's waitFor: module boundaries). */
async function waitFor(check: () => boolean | Promise<boolean>, o: { what: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what}`);
    await delay(20);
  }
}

let child: ChildProcess | undefined;
const dirs: string[] = [];
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function start(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', () => {
      const m = out.match(/"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  listening.catch(() => undefined);
  return { proc, listening, exited, output: () => out };
}

const whsec = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** A GitLab delivery signed the way GitLab signs it: X-Gitlab-Token and Standard Webhooks over id.timestamp.body. */
function delivery(secret: { token: string; signing: string }, body: string) {
  const id = randomUUID();
  const ts = Math.floor(Date.now() / 1000);
  const key = Buffer.from(secret.signing.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
  return {
    id,
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': 'Merge Request Hook',
      'x-gitlab-token': secret.token,
      'idempotency-key': id,
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': `v1,${mac}`,
    },
  };
}

describe('apps/webhook-ingest: secrets from files, rotated under load', () => {
  it('rotates the webhook secret and the signing secret while deliveries arrive, losing none', async () => {
    const busDir = await tempDir('wi-rot-bus-');
    const dataDir = await tempDir('wi-rot-data-');
    const secretsDir = join(await tempDir('wi-rot-secrets-'), 'webhook');
    const first = { token: randomBytes(24).toString('base64url'), signing: whsec() };
    const second = { token: randomBytes(24).toString('base64url'), signing: whsec() };
    const vol = atomicSecretDir(secretsDir, { token: `${first.token}\n`, signing: first.signing });
    const app = start({
      JIT_BUS_DIR: busDir,
      JIT_DATA_DIR: dataDir,
      JIT_WEBHOOK_SECRET_FILE: vol.path('token'),
      JIT_WEBHOOK_SIGNING_SECRET_FILE: vol.path('signing'),
      JIT_WEBHOOK_SECRET_GRACE_MS: String(GRACE_MS),
      PORT: '0',
    });
    const base = await app.listening;
    const body = await readFile(join(ROOT, 'libs/ingest/src/fixtures/merge-request-hook.json'), 'utf8');
    const post = async (d: ReturnType<typeof delivery>) => (await fetch(`${base}/webhooks/gitlab`, { method: 'POST', headers: d.headers, body })).status;

    // "GitLab": senders sign with whatever secret GitLab holds now.
    let gitlabSecret = first;
    const statuses = new Map<string, number>();
    let stop = false;
    const accepted = () => [...statuses.values()].filter((s) => s === 202).length;
    const sender = async () => {
      while (!stop) {
        const d = delivery(gitlabSecret, body);
        statuses.set(d.id, await post(d));
      }
    };
    const senders = Array.from({ length: 8 }, sender);

    await waitFor(() => accepted() >= 200, { what: '200 deliveries before the rotation', timeoutMs: 60_000 });
    // GitLab's retry queue: deliveries already signed with the old secrets, sent after the switch.
    const queued = Array.from({ length: 50 }, () => delivery(first, body));
    // 1. the operator rotates the secret volume; 2. jit says it took the new secrets; 3. GitLab's hook is switched.
    vol.write({ token: second.token, signing: second.signing });
    await waitFor(() => (app.output().match(/webhook secret rotated/g) ?? []).length === 2, { what: 'both rotations logged', timeoutMs: 20_000 });
    gitlabSecret = second;
    const retried = await Promise.all(queued.map(async (d) => [d.id, await post(d)] as const));
    for (const [id, status] of retried) statuses.set(id, status);
    const atSwitch = accepted();
    await waitFor(() => accepted() >= atSwitch + 200, { what: '200 deliveries after the rotation', timeoutMs: 60_000 });
    stop = true;
    await Promise.all(senders);

    const refused = [...statuses].filter(([, s]) => s !== 202);
    expect(refused, 'every delivery accepted').toEqual([]);
    expect(
      retried.every(([, s]) => s === 202),
      'deliveries signed with the old secrets within the grace window',
    ).toBe(true);

    // After the grace window only the new secrets open the door.
    await waitFor(async () => (await post(delivery(first, body))) === 401, { what: 'the old secrets to expire', timeoutMs: GRACE_MS + 10_000 });
    expect(await post(delivery(second, body))).toBe(202);

    app.proc.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    const out = app.output();
    for (const secret of [first.token, first.signing, second.token, second.signing]) expect(out).not.toContain(secret);
    for (const secret of [first.signing, second.signing]) expect(out).not.toContain(secret.slice('whsec_'.length));

    const bus = await createEmbeddedBus({ dir: busDir });
    const onBus = new Set<string>();
    await bus.replay(TOPIC_GITLAB, (m) => void onBus.add(m.event.id));
    await bus.close();
    const acceptedIds = [...statuses].filter(([, s]) => s === 202).map(([id]) => id);
    expect(
      acceptedIds.filter((id) => !onBus.has(id)),
      'accepted deliveries missing from the bus',
    ).toEqual([]);
    expect(onBus.size).toBeGreaterThanOrEqual(acceptedIds.length + 1);
  });

  it('fails start-up naming the setting for a missing file, or for X and X_FILE together; warns once about a world-readable file', async () => {
    const dir = await tempDir('wi-rot-rules-');
    const missing = start({ JIT_BUS_DIR: dir, JIT_WEBHOOK_SECRET_FILE: join(dir, 'no-such-secret') });
    expect(await missing.exited).toBe(2);
    expect(missing.output()).toContain('JIT_WEBHOOK_SECRET_FILE: cannot read the file (ENOENT)');

    const vol = atomicSecretDir(join(dir, 'vol'), { token: 'shared-secret-token-value' }, 0o644);
    const both = start({ JIT_BUS_DIR: dir, JIT_WEBHOOK_SECRET: 'inline-secret-token-value', JIT_WEBHOOK_SECRET_FILE: vol.path('token') });
    expect(await both.exited).toBe(2);
    expect(both.output()).toContain('JIT_WEBHOOK_SECRET_FILE: set JIT_WEBHOOK_SECRET or JIT_WEBHOOK_SECRET_FILE, not both');
    expect(both.output()).not.toMatch(/inline-secret-token-value|shared-secret-token-value/);

    const open = start({ JIT_BUS_DIR: join(dir, 'bus'), JIT_DATA_DIR: join(dir, 'data'), JIT_WEBHOOK_SECRET_FILE: vol.path('token'), PORT: '0' });
    await open.listening;
    vol.write({ token: 'shared-secret-token-rotated' });
    await waitFor(() => open.output().includes('webhook secret rotated'), { what: 'the rotation', timeoutMs: 20_000 });
    open.proc.kill('SIGTERM');
    expect(await open.exited).toBe(0);
    const warnings = open.output().match(/readable by every user/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect(open.output()).toContain('"setting":"JIT_WEBHOOK_SECRET_FILE"');
    expect(open.output()).not.toMatch(/shared-secret-token-(value|rotated)/);
  });
});
