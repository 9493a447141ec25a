// A test process that dies without cleaning up (SIGKILL runs no exit hook) must not leak its
// servers: the watchdog kills them and removes their data.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './paths';
import { waitFor } from './wait-for';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('servers owned by a test process', () => {
  it('are killed and their data removed when that process is SIGKILLed, whether running, restarted or stopped', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'hold-servers.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('\n') || child.exitCode !== null, { timeoutMs: 90_000, what: 'the fixture to start its servers' });
    const { pids, dirs } = JSON.parse(out) as { pids: number[]; dirs: string[] };
    expect(pids.every(alive)).toBe(true);
    expect(dirs.every((d) => existsSync(d))).toBe(true);

    child.kill('SIGKILL');

    await waitFor(() => pids.every((p) => !alive(p)) && dirs.every((d) => !existsSync(d)), {
      timeoutMs: 30_000,
      what: 'the orphaned servers to be reaped',
    });
  });

  it('leave alone a process that only reuses the pid in a stale pid file (pid_max is 32768: pids come round)', async () => {
    // What a stale pid file names after the server ended and the kernel reused its pid: a process
    // that is not the server (another test's broker, a chaos run's revoker). Here, a sleep elsewhere.
    const dir = mkdtempSync(join(tmpdir(), 'jit-watchdog-'));
    const bystander = spawn('sleep', ['120'], { cwd: tmpdir(), stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'server.pid'), `${bystander.pid}\n`);
      const owner = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import('${join(import.meta.dirname, 'watchdog.ts')}').then((m) => { m.watchDirectory(${JSON.stringify(dir)}, ${JSON.stringify(join(dir, 'server.pid'))}, 'SIGKILL'); process.stdout.write('armed\\n'); })`,
        ],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      owner.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await waitFor(() => out.includes('armed') || owner.exitCode !== null, { timeoutMs: 60_000, what: 'the owner to arm its watchdog' });
      owner.kill('SIGKILL');
      // The watchdog's last step is removing the directory: once it is gone, the watchdog has decided.
      await waitFor(() => !existsSync(dir), { timeoutMs: 30_000, what: 'the watchdog to dispose of the directory' });
      expect(alive(bystander.pid!)).toBe(true);
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
