// Sandbox mode across restarts of buildJit on one data dir: the sandbox is restored, not
// re-seeded; exactly one webhook points at jit and carries this run's secret; a corrupt state
// file stops start-up instead of silently re-seeding.
import { createServer } from 'node:net';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { buildJit, type JitProcess } from './server';

const P = 'ops/elevations';
const running: JitProcess[] = [];
const portOf = new WeakMap<JitProcess, number>();
const dirs: string[] = [];
afterEach(async () => {
  for (const j of running.splice(0)) await j.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A free port on 127.0.0.1 (apps may not use @jit/testing: module boundaries). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-sandbox-restart-'));
  await chmod(dir, 0o755);
  dirs.push(dir);
  return dir;
}

async function start(dir: string, extra: Record<string, string> = {}, logs?: string[]): Promise<JitProcess> {
  const port = await freePort();
  const config = parseConfig({
    JIT_DATA_DIR: dir,
    JIT_PORT: String(port),
    JIT_OPS_PORT: '0',
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SWEEP_INTERVAL_MS: '0',
    JIT_NO_DEMO_DB: '1',
    ...extra,
  });
  const logger = createLogger({ name: 'jit', level: 'info', destination: { write: (s: string) => void logs?.push(s) } });
  const jit = await buildJit(config, { env: {}, logger });
  running.push(jit);
  portOf.set(jit, port);
  await jit.listen();
  return jit;
}

async function stop(jit: JitProcess): Promise<void> {
  await jit.close();
  running.splice(running.indexOf(jit), 1);
}

/** Open an MR as carol through the sandbox's REST API; its webhook goes to jit. */
async function openMr(jit: JitProcess, branch: string): Promise<{ iid: number; id: number }> {
  const sb = jit.sandbox!;
  sb.pushCommit({ project: P, branch, author: 'carol', files: { [`notes/${branch}.md`]: 'not a request\n' } });
  const res = await fetch(`${sb.apiUrl}/projects/${encodeURIComponent(P)}/merge_requests`, {
    method: 'POST',
    headers: { 'PRIVATE-TOKEN': 'carol-token-0001', 'content-type': 'application/json' },
    body: JSON.stringify({ source_branch: branch, target_branch: 'main', title: `note ${branch}` }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { iid: number; id: number };
}

/** HTTP statuses of the finished deliveries of jit's hook (0: no answer), once `atLeast` finished. */
async function deliveredTo(jit: JitProcess, hookId: number, atLeast: number): Promise<number[]> {
  const finished = () => jit.sandbox!.deliveries(hookId).filter((d) => d.finishedAt !== null);
  await until(() => finished().length >= atLeast, 'webhook deliveries');
  return finished().map((d) => d.status ?? 0);
}

describe('sandbox mode survives a restart', () => {
  it('restores the sandbox, keeps one hook with this run’s secret and port, and continues iids', async () => {
    const dir = await dataDir();
    const stateFile = join(dir, 'sandbox', 'state.json');
    const logs: string[] = [];
    const first = await start(dir, {}, logs);
    expect(first.sandbox!.persistence).toMatchObject({ restored: false, file: stateFile });
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    const hooks1 = first.sandbox!.project(P).hooks;
    expect(hooks1).toHaveLength(1);
    const hookId = hooks1[0]!.id;
    const botToken = [...first.sandbox!.user('jit-bot').tokens][0];
    const mr1 = await openMr(first, 'note-1');
    const statuses1 = await deliveredTo(first, hookId, 1);
    expect(statuses1.length).toBeGreaterThan(0);
    for (const s of statuses1) expect(s >= 200 && s < 300, `delivery answered ${s}`).toBe(true);
    const secret1 = first.webhookSecret;
    await stop(first);

    const second = await start(dir, {}, logs);
    expect(second.sandbox!.persistence!.restored).toBe(true);
    const hooks2 = second.sandbox!.project(P).hooks;
    expect(hooks2.map((h) => h.id)).toEqual([hookId]); // reconciled in place, not added
    expect(portOf.get(second)).not.toBe(portOf.get(first));
    expect(hooks2[0]!.url).toBe(`http://127.0.0.1:${portOf.get(second)}/webhooks/gitlab`); // follows JIT_PORT
    expect(second.webhookSecret).not.toBe(secret1); // generated anew, and the hook follows it
    expect(hooks2[0]!.token).toBe(second.webhookSecret);
    expect([...second.sandbox!.user('jit-bot').tokens][0]).toBe(botToken);
    expect(second.sandbox!.project(P).mergeRequests.map((m) => m.iid)).toEqual([mr1.iid]);
    const mr2 = await openMr(second, 'note-2');
    expect(mr2.iid).toBe(mr1.iid + 1);
    expect(mr2.id).toBeGreaterThan(mr1.id);
    const statuses = await deliveredTo(second, hookId, 1);
    expect(statuses.length).toBeGreaterThan(0);
    for (const s of statuses) expect(s >= 200 && s < 300, `delivery answered ${s}`).toBe(true);
    await stop(second);

    // a configured secret and a signing secret replace the generated ones on the same hook
    const signing = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const third = await start(dir, { JIT_WEBHOOK_SECRET: 'configured-secret-0123456789', JIT_WEBHOOK_SIGNING_SECRET: signing });
    expect(third.sandbox!.project(P).hooks).toEqual([expect.objectContaining({ id: hookId, token: 'configured-secret-0123456789', signingToken: signing })]);
    await openMr(third, 'note-3');
    const statuses3 = await deliveredTo(third, hookId, 1);
    for (const s of statuses3) expect(s >= 200 && s < 300, `delivery answered ${s}`).toBe(true);

    // the secrets live in the 0600 state file, never in a log line
    const secrets = [secret1!, second.webhookSecret!, botToken!];
    expect(await readFile(stateFile, 'utf8')).toContain('configured-secret-0123456789');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs.join('')).not.toContain(secret);
  });

  it('JIT_SANDBOX_SEED shapes only a fresh data dir', async () => {
    const dir = await dataDir();
    const seedPath = join(dir, 'seed.yaml');
    const demo = await readFile(new URL('../../../deploy/sandbox/demo-seed.yaml', import.meta.url), 'utf8');
    await writeFile(
      seedPath,
      demo
        .replace('users:\n', 'users:\n  - { username: zoe, token: zoe-token-00001 }\n')
        .replaceAll('files_from: demo-repo', `files_from: ${join(import.meta.dirname, '../../../deploy/sandbox/demo-repo')}`),
    );
    const first = await start(dir, { JIT_SANDBOX_SEED: seedPath });
    expect(first.sandbox!.state.userByUsername('zoe')).toBeDefined();
    await stop(first);
    const logs: string[] = [];
    const second = await start(dir, {}, logs); // default seed now, but the file wins
    expect(second.sandbox!.state.userByUsername('zoe')).toBeDefined();
    expect(logs.join('')).not.toMatch(/starts afresh/);
  });

  it('a corrupt state file stops start-up with the file named; a missing one under an old bus log is warned about', async () => {
    const dir = await dataDir();
    const first = await start(dir);
    await stop(first);
    const stateFile = join(dir, 'sandbox', 'state.json');
    const good = await readFile(stateFile, 'utf8');
    await writeFile(stateFile, good.slice(0, 100));
    const err = (await start(dir).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('JIT_ERR_SANDBOX_STATE_CORRUPT');
    expect(err.message).toContain(stateFile);
    expect(await readFile(stateFile, 'utf8')).toBe(good.slice(0, 100)); // not re-seeded over

    await rm(stateFile);
    const logs: string[] = [];
    const again = await start(dir, {}, logs);
    expect(again.sandbox!.persistence!.restored).toBe(false);
    expect(logs.join('')).toMatch(/starts afresh from its seed, but .* holds elevations of an earlier sandbox/);
  });
});
