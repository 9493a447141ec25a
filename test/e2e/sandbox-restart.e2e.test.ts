// End-to-end, `npm start` sandbox mode across restarts: the GitLab sandbox lives in the data
// dir, so after SIGTERM (and after kill -9) old MRs and elevations are still there and a new
// request gets a new iid, is validated and granted — instead of colliding with a finished
// elevation id and being ignored.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGitlabClient } from '@jit/gitlab';
import { freePort, waitFor } from '@jit/testing';
import { JitApi } from '../../apps/jit/src/cli/api-client';
import { runCli } from '../../apps/jit/src/cli/program';
import { startJitProcess, type JitChild } from './jit-process';

const P = 'ops/elevations';
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Running {
  child: JitChild;
  gitlabUrl: string;
}

describe('npm start sandbox mode survives a restart', () => {
  it('keeps MRs, approvals and elevations across SIGTERM and kill -9; new requests get new iids and are granted', async () => {
    const dir = await tempDir('jit-e2e-sandbox-restart-');
    const home = await tempDir('jit-e2e-home-');
    const stateFile = join(dir, 'sandbox', 'state.json');
    let run: Running | undefined;
    cleanup.push(async () => {
      // after a failure half-way: no jit and no demo PostgreSQL may outlive the test
      await run?.child.stop('SIGKILL');
      await killPostmaster(join(dir, 'demo-pg', 'data', 'postmaster.pid')).catch(() => undefined);
    });

    /** Start `npm start`'s process on fresh ports (the sandbox hook must follow JIT_PORT). */
    const start = async (): Promise<Running> => {
      const sandboxPort = await freePort();
      const child = await startJitProcess({
        JIT_DATA_DIR: dir,
        JIT_PORT: String(await freePort()),
        JIT_OPS_PORT: '0',
        JIT_SANDBOX_PORT: String(sandboxPort),
        JIT_SWEEP_INTERVAL_MS: '0',
      });
      return { child, gitlabUrl: `http://127.0.0.1:${sandboxPort}` };
    };
    const api = () => new JitApi(run!.child.url, fetch, async () => ({ token: 'alice-token-0001', from: 'alice', kind: 'GitLab token' }));
    const gitlab = (token: string) => createGitlabClient({ url: run!.gitlabUrl, token });
    const io = (extra: Record<string, string> = {}) => ({
      out: () => undefined,
      err: () => undefined,
      env: { HOME: home, JIT_URL: run!.child.url, GITLAB_URL: run!.gitlabUrl, JIT_ELEVATIONS_PROJECT: P, ...extra },
    });
    const stateOf = async (id: string) =>
      (
        await api()
          .elevation(id)
          .catch(() => undefined)
      )?.state ?? '';
    const waitState = (id: string, states: string[], what: string) => waitFor(async () => states.includes(await stateOf(id)), { timeoutMs: 120_000, what: `${id} ${what}` });
    /** GET the sandbox's REST API as alice. */
    const rest = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${run!.gitlabUrl}/api/v4${path}`, { headers: { 'PRIVATE-TOKEN': 'alice-token-0001' } });
      expect(res.status, path).toBe(200);
      return (await res.json()) as T;
    };
    const mrPath = (iid: number) => `/projects/${encodeURIComponent(P)}/merge_requests/${iid}`;
    const allNotes = async (iid: number): Promise<string[]> => {
      const bodies: string[] = [];
      for (let page = 1; ; page++) {
        const rows = await rest<Array<{ body: string }>>(`${mrPath(iid)}/notes?per_page=100&page=${page}`);
        bodies.push(...rows.map((n) => n.body));
        if (rows.length < 100) return bodies;
      }
    };

    /** `jit request` as carol, then the gate's checks, two approvals, a merge and the grant. */
    const requestAndGrant = async (): Promise<{ id: string; mrIid: number }> => {
      const out: string[] = [];
      const code = await runCli(
        [
          '--json',
          'request',
          '--target',
          'demo-db',
          '--scope',
          'write',
          '--ttl',
          '30m',
          '--tier',
          'reversible-write',
          '--justification',
          'restart drill for the sandbox-restart e2e',
          // sandbox mode generated carol's identity; its key is registered to her in the seed policy
          '--identity',
          join(dir, 'identities', 'carol.txt'),
        ],
        { ...io({ GITLAB_TOKEN: 'carol-token-0001' }), out: (s) => out.push(s) },
      );
      expect(code).toBe(0);
      const { elevationId: id, mrIid } = JSON.parse(out.join('')) as { elevationId: string; mrIid: number };
      await waitState(id, ['pending'], 'validated');
      // validated: the gate commented on the MR as jit-bot and emitted elevation.requested
      await waitFor(async () => (await rest<Array<{ author: { username: string } }>>(`${mrPath(mrIid)}/notes`)).some((n) => n.author.username === 'jit-bot'), {
        timeoutMs: 60_000,
        what: `jit-bot's comment on !${mrIid}`,
      });
      expect((await api().elevation(id)).timeline!.map((t) => t.type)).toContain('dev.jit.elevation.requested.v1');
      const projectId = (await rest<{ id: number }>(`/projects/${encodeURIComponent(P)}`)).id;
      for (const t of ['alice-token-0001', 'bob-token-00001']) await gitlab(t).mergeRequests.approve(projectId, mrIid);
      await gitlab('alice-token-0001').mergeRequests.merge(projectId, mrIid);
      await waitState(id, ['granted'], 'granted');
      return { id, mrIid };
    };

    run = await start();
    const first = await requestAndGrant();
    expect(first.id).toMatch(/^gl-\d+-1$/);

    // --- graceful stop: a change made just before SIGTERM is flushed at close
    const projectId = Number(/^gl-(\d+)-/.exec(first.id)![1]);
    await gitlab('alice-token-0001').notes.create(projectId, first.mrIid, 'noted right before SIGTERM');
    const stopping = Date.now();
    expect(await run.child.stop('SIGTERM')).toBe(0);
    // the note's webhook is in flight at SIGTERM: its keep-alive connection must not hold the
    // stop for fastify's 72 s keep-alive timeout (a stop takes ~1 s; the bound is for a busy box)
    expect(Date.now() - stopping).toBeLessThan(45_000);

    run = await start();
    expect(run.child.output()).not.toMatch(/starts afresh from its seed/);
    expect(await stateOf(first.id)).toBe('granted');
    const oldMr = await rest<{ iid: number; state: string }>(mrPath(first.mrIid));
    expect(oldMr).toMatchObject({ iid: first.mrIid, state: 'merged' });
    const oldApprovals = await rest<{ approved_by: Array<{ user: { username: string } }> }>(`${mrPath(first.mrIid)}/approvals`);
    expect(oldApprovals.approved_by.map((a) => a.user.username).sort()).toEqual(['alice', 'bob']);
    expect(await allNotes(first.mrIid)).toContain('noted right before SIGTERM');
    const hooks = await rest<Array<{ url: string }>>(`/projects/${encodeURIComponent(P)}/hooks`);
    expect(hooks.map((h) => h.url)).toEqual([`${run.child.url.replace(/\/$/, '')}/webhooks/gitlab`]);

    const second = await requestAndGrant();
    expect(second.mrIid).toBe(first.mrIid + 1);
    expect(second.id).not.toBe(first.id);
    expect(await stateOf(first.id)).toBe('granted'); // the old elevation is untouched

    // --- kill -9: what reached the state file is what the next start loads, and the sandbox
    // writes every change before it answers it: every note answered before the kill survives.
    await gitlab('alice-token-0001').notes.create(projectId, second.mrIid, 'persisted before kill -9');
    await waitFor(async () => (await readFile(stateFile, 'utf8')).includes('persisted before kill -9'), {
      timeoutMs: 30_000,
      what: 'the note to reach the sandbox state file',
    });
    let burst = 0;
    let bursting = true;
    const noisy = (async () => {
      while (bursting) {
        await gitlab('bob-token-00001')
          .notes.create(projectId, second.mrIid, `burst ${burst}`)
          .then(() => burst++)
          .catch(() => undefined);
      }
    })();
    await waitFor(async () => (await readFile(stateFile, 'utf8')).includes('"burst 2"'), { timeoutMs: 30_000, what: 'a burst in the state file' });
    const onDiskBeforeKill = (await readFile(stateFile, 'utf8')).match(/"burst \d+"/g)!.length;
    await run.child.stop('SIGKILL');
    bursting = false;
    await noisy;
    const answeredBeforeKill = burst;
    // The demo PostgreSQL outlives a kill -9 of jit alone (its postmaster is not jit's process):
    // the next start stops that leftover and starts the database again on the same data dir.
    const pidFile = join(dir, 'demo-pg', 'data', 'postmaster.pid');
    const leftover = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    expect(() => process.kill(leftover, 0), 'the demo PostgreSQL outlived jit').not.toThrow();

    run = await start(); // a torn write would stop start-up here with JIT_ERR_SANDBOX_STATE_CORRUPT
    expect(Number((await readFile(pidFile, 'utf8')).split('\n')[0])).not.toBe(leftover);
    const notesAfterKill = await allNotes(second.mrIid);
    expect(notesAfterKill).toContain('persisted before kill -9');
    expect(notesAfterKill.filter((b) => /^burst \d+$/.test(b)).length).toBeGreaterThanOrEqual(Math.max(onDiskBeforeKill, answeredBeforeKill));
    expect(await stateOf(first.id)).toBe('granted');
    expect(await stateOf(second.id)).toBe('granted');
    const third = await requestAndGrant();
    expect(third.mrIid).toBe(second.mrIid + 1);
    expect(await run.child.stop('SIGTERM')).toBe(0);
  });
});

/** SIGKILL the PostgreSQL whose postmaster.pid this is, and wait until it is gone. */
async function killPostmaster(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  expect(pid).toBeGreaterThan(1);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(pid, 'SIGKILL');
  await waitFor(() => !alive(), { timeoutMs: 30_000, what: `postgres ${pid} to exit` });
}
