// The `npm run sandbox` entry point: starts on 127.0.0.1, prints the URL once ready,
// and refuses a bad seed with its error code.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

function run(
  args: string[],
  env: Record<string, string> = {},
): { lines: Promise<string>; exit: Promise<{ code: number | null; stderr: string; stdout: string }>; kill: (signal?: NodeJS.Signals) => void } {
  // node --import tsx (not the tsx wrapper, which forks): the pid signalled is the sandbox's own,
  // so a SIGKILL really kills it.
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GITLAB_TOKEN: '', GITLAB_URL: '', ...env } });
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
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exit = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr, stdout })));
  return { lines, exit, kill: (signal = 'SIGTERM') => child.kill(signal) };
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

  it('with --state, a change answered before a kill -9 is there after the restart: every answered note, the MR created last', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-cli-'));
    const seed = join(dir, 'seed.yaml');
    writeFileSync(seed, 'users: [{ username: alice, token: alice-cli-token }]\nprojects: [{ path: ops/elevations, members: [{ username: alice, access_level: 40 }], files: { README.md: hi } }]\n');
    const state = join(dir, 'state.json');
    const P = encodeURIComponent('ops/elevations');
    const call = (url: string, path: string, init: RequestInit = {}) =>
      fetch(`${url}/api/v4${path}`, { ...init, headers: { 'PRIVATE-TOKEN': 'alice-cli-token', 'Content-Type': 'application/json', ...(init.headers ?? {}) } });
    const first = run(['--seed', seed, '--port', '0', '--state', state]);
    let answered = 0;
    try {
      const url = await first.lines;
      expect((await call(url, `/projects/${P}/repository/branches`, { method: 'POST', body: JSON.stringify({ branch: 'req-1', ref: 'main' }) })).status).toBe(201);
      const mr = await call(url, `/projects/${P}/merge_requests`, { method: 'POST', body: JSON.stringify({ source_branch: 'req-1', target_branch: 'main', title: 'Elevate' }) });
      expect(mr.status).toBe(201);
      const iid = (await body(mr)).iid as number;
      // Notes as fast as the sandbox answers; kill -9 right after one is answered, another in flight.
      for (let i = 0; i < 20; i++) {
        expect((await call(url, `/projects/${P}/merge_requests/${iid}/notes`, { method: 'POST', body: JSON.stringify({ body: `note ${i}` }) })).status).toBe(201);
        answered++;
      }
      void call(url, `/projects/${P}/merge_requests/${iid}/notes`, { method: 'POST', body: JSON.stringify({ body: 'in flight' }) }).catch(() => undefined);
      first.kill('SIGKILL');
    } finally {
      first.kill('SIGKILL');
    }
    expect((await first.exit).code).toBeNull();
    const second = run(['--seed', seed, '--port', '0', '--state', state]);
    try {
      const url = await second.lines;
      const mrs = (await body(await call(url, `/projects/${P}/merge_requests`))) as Array<{ iid: number; title: string }>;
      expect(mrs.map((m) => m.title)).toEqual(['Elevate']);
      const notes = (await body(await call(url, `/projects/${P}/merge_requests/${mrs[0]!.iid}/notes?per_page=100`))) as Array<{ body: string }>;
      const kept = notes.map((n) => n.body).filter((b) => /^note \d+$/.test(b));
      expect(kept).toHaveLength(answered);
    } finally {
      second.kill();
    }
    expect((await second.exit).code).toBe(0);
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

  it('id-token: prints a CI ID token from a running sandbox (kept with --state across a restart); refusals name no token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-cli-'));
    const seed = join(dir, 'seed.yaml');
    const state = join(dir, 'state.json');
    writeFileSync(
      seed,
      'users: [{ username: agent, token: agent-cli-token-1 }, { username: eve, token: eve-cli-token-01 }]\nprojects: [{ path: ops/jobs, members: [{ username: agent, access_level: 40 }] }]\n',
    );
    let proc = run(['--seed', seed, '--port', '0', '--state', state]);
    try {
      let url = await proc.lines;
      const aud = 'http://127.0.0.1:8080';
      const minted = await run(['id-token', '--url', url, '--user', 'agent', '--project', 'ops/jobs', '--aud', aud, '--timeout', '3600'], { GITLAB_TOKEN: 'agent-cli-token-1' }).exit;
      expect(minted.stderr).toBe('');
      expect(minted.code).toBe(0);
      const token = minted.stdout.trim();
      proc.kill();
      await proc.exit;
      proc = run(['--seed', seed, '--port', '0', '--state', state]);
      url = await proc.lines;
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${url}/oauth/discovery/keys`)), { audience: aud, algorithms: ['RS256'] });
      expect(payload).toMatchObject({ user_login: 'agent', project_path: 'ops/jobs', ref: 'main' });
      expect(payload.exp! - payload.iat!).toBe(3600); // --timeout: the job's timeout
      const refused = await run(['id-token', '--url', url, '--user', 'agent', '--project', 'ops/jobs', '--aud', aud], { GITLAB_TOKEN: 'eve-cli-token-01' }).exit;
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('the sandbox refused: 403');
      expect(refused.stderr).not.toContain('eve-cli-token-01');
      const missing = await run(['id-token', '--url', url, '--user', 'agent', '--project', 'ops/jobs', '--aud', aud]).exit;
      expect(missing.stderr).toContain('set GITLAB_TOKEN');
    } finally {
      proc.kill();
    }
  }, 120_000);
});
