// A test process that dies without cleaning up (SIGKILL runs no exit hook) must not leak its
// servers: the watchdog kills them and removes their data.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
});
