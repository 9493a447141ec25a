// The CLI authenticates every call to jit, against a real HTTP server: which token it sends and
// from where, one clear line when there is none or jit refuses it, and the token never printed —
// not even when a hostile server quotes it back.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './program';

const GITLAB_TOKEN = 'glpat-alice-0123456789abcdef';
const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX2xvZ2luIjoiZGVwbG95LWFnZW50In0.c2lnbmF0dXJl';
const REVOKED = 'glpat-revoked-000000000000';
const EXPIRED_ID = 'eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.ZXhwaXJlZA';
const GITLAB_DOWN = 'glpat-while-gitlab-is-down';
const ECHOED = 'glpat-echoed-by-a-hostile-server';
const ELEVATION = { id: 'gl-1-2', state: 'granted', requester: 'alice', target: 'orders-db', scope: 'write', timeline: [] };

let server: FastifyInstance;
let url: string;
let seen: Array<string | undefined>;
let dir: string;

beforeAll(async () => {
  server = Fastify();
  // What jit's auth answers (libs/identity: JIT_ERR_AUTH_*), keyed by the token presented.
  server.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization;
    seen.push(header);
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (token === undefined) return reply.code(401).send({ code: 'JIT_ERR_AUTH_MISSING', message: 'authentication required' });
    if (token === REVOKED) return reply.code(401).send({ code: 'JIT_ERR_AUTH_TOKEN_REFUSED', message: 'GitLab does not accept this token (401 from GitLab)' });
    if (token === EXPIRED_ID) return reply.code(401).send({ code: 'JIT_ERR_AUTH_ID_TOKEN_INVALID', message: 'the CI ID token is not valid: expired' });
    if (token === GITLAB_DOWN) return reply.code(503).send({ code: 'JIT_ERR_AUTH_UNAVAILABLE', message: 'cannot check the caller right now: GitLab unreachable; try again shortly' });
    if (token === ECHOED) return reply.code(401).send({ code: `JIT_ERR_${token}`, message: `your token ${token} is refused` });
    if (token !== GITLAB_TOKEN && token !== ID_TOKEN) return reply.code(401).send({ code: 'JIT_ERR_AUTH_TOKEN_REFUSED', message: 'GitLab does not accept this token' });
  });
  server.get('/v1/catalog', async () => ({ entries: [] }));
  server.get('/v1/elevations', async () => ({ elevations: [ELEVATION] }));
  // alice's own elevation; anything else is not hers to see
  server.get('/v1/elevations/:id', async (req, reply) =>
    (req.params as { id: string }).id === 'gl-1-2' ? ELEVATION : reply.code(404).send({ code: 'JIT_ERR_API_NOT_FOUND', message: 'no such elevation' }),
  );
  server.get('/v1/elevations/:id/credential', async (_req, reply) => reply.code(404).send({ code: 'JIT_ERR_API_NOT_FOUND', message: 'no such elevation' }));
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  seen = [];
  dir = await mkdtemp(join(tmpdir(), 'jit-cli-auth-'));
});

async function jit(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', url, ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: dir, ...env } });
  const printed = [...out, ...err].join('\n');
  // whatever happened, no token this suite knows was printed
  for (const t of [GITLAB_TOKEN, ID_TOKEN, REVOKED, EXPIRED_ID, GITLAB_DOWN, ECHOED]) expect(printed).not.toContain(t);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe("jit CLI: the caller's token on every call", () => {
  it.each([
    ['catalog', ['catalog']],
    ['status', ['status', 'gl-1-2']],
    ['audit', ['audit']],
  ])('%s sends Authorization: Bearer <GITLAB_TOKEN>', async (_name, argv) => {
    const r = await jit(argv, { GITLAB_TOKEN });
    expect(r.code, r.err).toBe(0);
    expect(seen).toEqual([`Bearer ${GITLAB_TOKEN}`]);
  });

  it('takes JIT_ID_TOKEN before GITLAB_TOKEN (in CI, GITLAB_TOKEN may be meant for GitLab only)', async () => {
    expect((await jit(['catalog'], { GITLAB_TOKEN: REVOKED, JIT_ID_TOKEN: ID_TOKEN })).code).toBe(0);
    expect(seen).toEqual([`Bearer ${ID_TOKEN}`]);
  });

  it('takes the flags before the environment, and a token from a file (trimmed) or the _FILE variables', async () => {
    const file = join(dir, 'token');
    await writeFile(file, `${ID_TOKEN}\n`, { mode: 0o600 });
    expect((await jit(['--id-token', ID_TOKEN, 'catalog'], { GITLAB_TOKEN: REVOKED })).code).toBe(0);
    expect((await jit(['--token', GITLAB_TOKEN, 'catalog'], { JIT_ID_TOKEN: EXPIRED_ID })).code).toBe(0);
    expect((await jit(['catalog', '--token-file', file], { GITLAB_TOKEN: REVOKED })).code).toBe(0);
    expect((await jit(['catalog'], { JIT_ID_TOKEN_FILE: file })).code).toBe(0);
    expect((await jit(['catalog'], { GITLAB_TOKEN_FILE: file })).code).toBe(0);
    expect(seen).toEqual([`Bearer ${ID_TOKEN}`, `Bearer ${GITLAB_TOKEN}`, `Bearer ${ID_TOKEN}`, `Bearer ${ID_TOKEN}`, `Bearer ${ID_TOKEN}`]);
  });

  it('a missing token: one line saying which variable to set, and no call made', async () => {
    const r = await jit(['status', 'gl-1-2']);
    expect(r.code).toBe(1);
    expect(r.err).toBe("jit: no token to authenticate to jit: set GITLAB_TOKEN to your GitLab token (in GitLab CI, JIT_ID_TOKEN from `id_tokens:` with aud = jit's URL), or pass --token-file <file>");
    expect(seen).toEqual([]);
    expect((await jit(['catalog'], { GITLAB_TOKEN: '' })).err).toMatch(/set GITLAB_TOKEN/);
  });

  it('a token that is no token, an empty or unreadable file, or several flags: refused before any call, naming the source only', async () => {
    const crlf = await jit(['catalog'], { GITLAB_TOKEN: `${GITLAB_TOKEN}\r\nX-Injected: 1` });
    expect(crlf.err).toBe('jit: the value from GITLAB_TOKEN is not a token (it has spaces, line breaks or other characters no token has)');
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    expect((await jit(['--token-file', empty, 'catalog'])).err).toMatch(new RegExp(`the token from --token-file ${empty} is empty; set GITLAB_TOKEN`));
    expect((await jit(['--token-file', join(dir, 'nope'), 'catalog'])).err).toMatch(/cannot read the token file .*nope \(ENOENT\)/);
    expect((await jit(['--token', GITLAB_TOKEN, '--id-token', ID_TOKEN, 'catalog'])).err).toBe('jit: pass one of --token, --id-token, not several');
    expect(seen).toEqual([]);
  });

  it('commands that never call jit need no token', async () => {
    expect((await jit(['keygen', '--identity', join(dir, 'id.txt')])).code).toBe(0);
    expect(seen).toEqual([]);
  });
});

describe('jit CLI: when jit says no', () => {
  it('401 for a GitLab token: "jit refused the GitLab token from GITLAB_TOKEN", with what to do', async () => {
    const r = await jit(['status', 'gl-1-2'], { GITLAB_TOKEN: REVOKED });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'jit: jit refused the GitLab token from GITLAB_TOKEN (401): the GitLab token is unknown, expired or revoked, or belongs to a blocked user; create a new one (scope read_user or api) [GitLab does not accept this token (401 from GitLab) (JIT_ERR_AUTH_TOKEN_REFUSED)]',
    );
  });

  it('401 for a CI ID token points at id_tokens: and the audience', async () => {
    const r = await jit(['catalog'], { JIT_ID_TOKEN: EXPIRED_ID });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^jit: jit refused the CI ID token from JIT_ID_TOKEN \(401\): .*id_tokens: JIT_ID_TOKEN: aud: <jit URL>.*\[the CI ID token is not valid: expired \(JIT_ERR_AUTH_ID_TOKEN_INVALID\)\]$/,
    );
  });

  it('404: not found or not visible, never "forbidden" (jit does not confirm it exists)', async () => {
    const r = await jit(['status', 'gl-9-9'], { GITLAB_TOKEN });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^jit: elevation gl-9-9 not found, or not visible to you /);
    const c = await jit(['credential', 'gl-9-9'], { GITLAB_TOKEN });
    expect(c.err).toMatch(/^jit: the credential of elevation gl-9-9 not found, or not visible to you /);
  });

  it('503 while GitLab is unreachable from jit: says so, and exits 75 (try again later)', async () => {
    const r = await jit(['catalog'], { GITLAB_TOKEN: GITLAB_DOWN });
    expect(r.code).toBe(75);
    expect(r.err).toMatch(/^jit: jit cannot reach GitLab to check your token right now \(503\); retry in a moment \[/);
  });

  it('a server that quotes the token back gets it cut out of the message', async () => {
    const r = await jit(['catalog'], { GITLAB_TOKEN: ECHOED });
    expect(r.code).toBe(1);
    expect(r.err).toContain('your token [REDACTED] is refused (JIT_ERR_[REDACTED])');
  });
});
