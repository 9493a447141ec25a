// scripts/services/start.sh and stop.sh as CI runs them, in a private JIT_SERVICES_DIR so the
// run's shared services are not touched.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvFile } from './env-file';
import { REPO_ROOT } from './paths';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('start.sh / stop.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jit-scripts-'));
  const env = { ...process.env, JIT_SERVICES_DIR: dir };
  const script = (name: string, ...args: string[]) => run('bash', [join(REPO_ROOT, 'scripts', 'services', name), ...args], { env, cwd: tmpdir(), timeout: 180_000 });

  afterAll(async () => {
    await script('stop.sh').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects an unknown service name, starting nothing', async () => {
    const err = (await script('start.sh', 'kafak').catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).not.toBe(0);
    expect(err.stderr).toContain('unknown service "kafak"');
    expect(existsSync(join(dir, 'env'))).toBe(false);
  });

  it('starts, is idempotent, and stops everything it started', async () => {
    const first = await script('start.sh', 'openbao', 'moto');
    expect(first.stdout).toMatch(/openbao: ready in/);
    expect(first.stdout).toMatch(/moto: ready in/);
    // the token goes to the env file only, never to the console
    const vars = parseEnvFile(readFileSync(join(dir, 'env'), 'utf8'));
    expect(first.stdout + first.stderr).not.toContain(vars.JIT_TEST_VAULT_TOKEN);
    expect(Object.keys(vars).sort()).toEqual(['JIT_TEST_AWS_ENDPOINT', 'JIT_TEST_VAULT_ADDR', 'JIT_TEST_VAULT_TOKEN']);
    const health = await fetch(`${vars.JIT_TEST_VAULT_ADDR}/v1/sys/health`);
    expect(health.status).toBe(200);

    const pids = ['openbao', 'moto'].map((n) => Number(readFileSync(join(dir, `${n}.pid`), 'utf8')));
    const dirs = ['openbao', 'moto'].map((n) => readFileSync(join(dir, `${n}.dir`), 'utf8').trim());
    expect(pids.every(alive)).toBe(true);

    const again = await script('start.sh', 'openbao', 'moto');
    expect(again.stdout).toContain('openbao: already running');
    expect(again.stdout).toContain('moto: already running');

    await script('stop.sh');
    expect(pids.some(alive)).toBe(false);
    expect(dirs.some((d) => existsSync(d))).toBe(false);
    expect(existsSync(join(dir, 'env'))).toBe(false);
  });
});
