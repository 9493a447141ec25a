// End-to-end, `npm start` as a supervisor runs it (`docker stop` with npm as PID 1): SIGTERM to the
// npm process alone must stop jit cleanly. npm passes the signal to its script's child; when that
// child was `sh -c "tsx …"`, dash died and jit, the demo PostgreSQL, the ports and the bus lock
// outlived it. The script now execs node on the compiled build, so the signal reaches jit.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, waitFor } from '@jit/testing';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Whether something accepts connections on 127.0.0.1:port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('npm start', () => {
  it('stops jit, the demo PostgreSQL, its ports and the bus lock on a SIGTERM to the npm process alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-e2e-npm-start-'));
    await chmod(dir, 0o755); // the demo PostgreSQL (user postgres when run as root) must reach its data
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const [port, opsPort, sandboxPort] = [await freePort(), await freePort(), await freePort()];
    const npm = spawn('npm', ['start'], {
      cwd: REPO_ROOT,
      env: { ...process.env, JIT_DATA_DIR: dir, JIT_PORT: String(port), JIT_OPS_PORT: String(opsPort), JIT_SANDBOX_PORT: String(sandboxPort), JIT_SWEEP_INTERVAL_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a failed run can be cleared whole
    });
    let out = '';
    npm.stdout.on('data', (d) => (out += String(d)));
    npm.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    const pidFile = join(dir, 'demo-pg', 'data', 'postmaster.pid');
    const pids: number[] = [];
    cleanup.push(async () => {
      // after a failure half-way: nothing this test started may outlive it
      if (alive(npm.pid!)) process.kill(-npm.pid!, 'SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });

    await waitFor(() => /listening on http/.test(out) || npm.exitCode !== null, { timeoutMs: 180_000, what: 'npm start to listen' });
    expect(npm.exitCode, out.slice(-3000)).toBeNull();
    expect((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status).toBe(200);
    const children = (await readFile(`/proc/${npm.pid}/task/${npm.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
    const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    pids.push(...children, postmaster);
    expect(alive(postmaster)).toBe(true);
    expect(existsSync(join(dir, 'bus', 'LOCK'))).toBe(true);
    expect(await listening(sandboxPort)).toBe(true);

    process.kill(npm.pid!, 'SIGTERM');
    // npm returns once its script's process has exited; everything jit started must be gone by then
    await exited;
    expect(/"msg":"stopping"/.test(out), out.slice(-2000)).toBe(true);
    expect(children.filter(alive)).toEqual([]);
    expect(alive(postmaster)).toBe(false);
    expect(existsSync(join(dir, 'bus', 'LOCK'))).toBe(false);
    expect(await listening(port)).toBe(false);
    expect(await listening(opsPort)).toBe(false);
    expect(await listening(sandboxPort)).toBe(false);
    expect(out).not.toMatch(/shutdown took longer|error while stopping/);
  });
});
