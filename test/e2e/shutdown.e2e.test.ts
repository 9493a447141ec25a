// Stopping the all-in-one the way a terminal does: Ctrl-C (SIGINT) or `kill -TERM -<pgid>` reaches
// every process of the foreground group — jit and the demo PostgreSQL it started — in whatever
// order. Each order must end in a quick, clean exit (code 0, PostgreSQL gone) and leave no stale
// bus lock for the next start. The demo database's stop used to wait for an `exit` event that had
// already fired (PostgreSQL got the signal first), and the bus, closed last, kept its lock.
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@jit/testing';
import { startJitProcess, type JitChild } from './jit-process';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A clean stop is quick: jit's close takes about a second; the bound allows for a busy machine. */
const QUICK_MS = 8_000;

describe('the all-in-one stops cleanly whatever order the terminal signal reaches its processes in', () => {
  it('group SIGINT, PostgreSQL first, jit first: exit 0 within the bound, PostgreSQL gone, no stale bus lock at the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-e2e-shutdown-'));
    await chmod(dir, 0o755);
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'demo-pg', 'data', 'postmaster.pid');
    let child: JitChild | undefined;
    cleanup.push(async () => {
      if (child && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    });
    const start = async () => {
      child = await startJitProcess({ JIT_DATA_DIR: dir, JIT_PORT: String(await freePort()), JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0' }, 120_000, { detached: true });
      expect(child.output()).not.toMatch(/taking over a stale embedded bus lock/);
      const pg = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
      expect(alive(pg)).toBe(true);
      return { jit: child, pg };
    };
    const orders: Array<[string, (jit: JitChild, pg: number) => Promise<void>]> = [
      ['Ctrl-C: SIGINT to the whole group', async (jit) => void process.kill(-jit.pid, 'SIGINT')],
      [
        'PostgreSQL first (fast shutdown), then SIGTERM to the group',
        async (jit, pg) => {
          process.kill(pg, 'SIGINT');
          await waitFor(() => !alive(pg), { timeoutMs: 30_000, what: 'PostgreSQL to stop on its own signal' });
          process.kill(-jit.pid, 'SIGTERM');
        },
      ],
      [
        'jit first, then PostgreSQL',
        async (jit, pg) => {
          process.kill(jit.pid, 'SIGTERM');
          process.kill(pg, 'SIGTERM');
        },
      ],
    ];
    for (const [name, signal] of orders) {
      const { jit, pg } = await start();
      const at = Date.now();
      await signal(jit, pg);
      const code = await jit.stop('SIGCONT'); // waits for the exit the signals above caused
      const took = Date.now() - at;
      expect({ name, code, lastLines: code === 0 ? '' : jit.output().slice(-2000) }).toEqual({ name, code: 0, lastLines: '' });
      expect(took, `${name}: stopped in ${took} ms`).toBeLessThan(QUICK_MS);
      await waitFor(() => !alive(pg), { timeoutMs: 10_000, what: `${name}: the demo PostgreSQL gone` });
      expect(jit.output(), name).not.toMatch(/did not stop in time/);
    }
    const last = await start(); // the lock check is in start()
    process.kill(-last.jit.pid, 'SIGINT');
    const code = await last.jit.stop('SIGCONT');
    expect({ code, lastLines: code === 0 ? '' : last.jit.output().slice(-3000) }).toEqual({ code: 0, lastLines: '' });
  });
});
