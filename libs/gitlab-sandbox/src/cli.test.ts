// The `npm run sandbox` entry point: starts on 127.0.0.1, prints the URL once ready,
// and refuses a bad seed with its error code.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = new URL('./cli.ts', import.meta.url).pathname;
const TSX = new URL('../../../node_modules/.bin/tsx', import.meta.url).pathname;

function run(args: string[]): { lines: Promise<string>; exit: Promise<{ code: number | null; stderr: string }>; kill: () => void } {
  const child = spawn(TSX, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines = new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) resolve(m[1] as string);
    });
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { lines, exit, kill: () => child.kill('SIGTERM') };
}

/** A response's JSON body, for assertions. */
const body = async (res: Response): Promise<any> => res.json();

describe('sandbox CLI', () => {
  it('starts with a seed on 127.0.0.1, prints "listening on <url>" and serves the API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-cli-'));
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, 'users: [{ username: alice, token: alice-cli-token }]\n');
    const proc = run(['--seed', seed, '--port', '0']);
    try {
      const url = await proc.lines;
      const res = await fetch(`${url}/api/v4/user`, { headers: { 'PRIVATE-TOKEN': 'alice-cli-token' } });
      expect((await body(res)).username).toBe('alice');
    } finally {
      proc.kill();
    }
    expect((await proc.exit).code).toBe(0);
  });

  it('exits 1 with the error code on a bad seed or a bad port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-cli-'));
    const seed = join(dir, 'bad.yaml');
    writeFileSync(seed, 'groups: [{ path: g, members: [ghost] }]\n');
    const bad = await run(['--seed', seed]).exit;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF');
    const port = await run(['--port', 'eighty']).exit;
    expect(port.code).not.toBe(0);
    expect(port.stderr).toContain('must be an integer');
  });
});
