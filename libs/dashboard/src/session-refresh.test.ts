// A session outlives GitLab's 2-hour access token: the dashboard refreshes it with the refresh
// token (the sandbox's /oauth/token, grant_type=refresh_token, on a clock both share) and puts
// the new pair back in the cookie; when GitLab refuses the refresh (signed out, spent), the user
// is sent to sign in. The read API is stood in for by one route that asks GitLab who the token is.
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallerLookup } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { DEMO_SEED } from '@jit/gitlab-sandbox/testing';
import { dashboardOptions } from './dashboard-options';
import { dashboardPlugin } from './dashboard-plugin';

const PUBLIC = 'http://127.0.0.1:8080';
let clock = Date.parse('2030-01-02T03:04:05Z');
let sandbox: Sandbox;
let app: FastifyInstance;
/** Another replica with the same session key. */
let replica: FastifyInstance;
const logLines: string[] = [];
const revealed: string[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: DEMO_SEED, now: () => new Date(clock) });
  const oauth = sandbox.addOAuthApplication({ name: 'jit dashboard', redirectUri: `${PUBLIC}/ui/auth/callback`, scopes: ['read_user'] });
  const key = randomBytes(32).toString('base64url');
  revealed.push(key, oauth.secret);
  const lookup = createCallerLookup({ url: sandbox.url });
  const server = async () => {
    const a = Fastify({ logger: { level: 'info', stream: { write: (l: string) => void logLines.push(l) } } });
    a.get('/v1/elevations', async (req, reply) => {
      const token = String(req.headers.authorization).replace(/^Bearer /, '');
      return lookup.tokenOwner(token).then(
        (u) => ({ elevations: [{ id: 'gl-1-1', state: 'granted', requester: u.username, target: 't', scope: 's', tier: 'x', updatedAt: new Date(clock).toISOString(), revokeFailures: 0 }] }),
        () => reply.code(401).send({ code: 'JIT_ERR_AUTH_TOKEN_REFUSED' }),
      );
    });
    await a.register(dashboardPlugin, {
      ...dashboardOptions({ gitlabUrl: sandbox.url, clientId: oauth.uid, clientSecret: oauth.secret, publicUrl: PUBLIC, sessionTtlMs: 8 * 3600_000, sessionKeys: () => [key] }),
      now: () => clock,
    });
    return a;
  };
  app = await server();
  replica = await server();
});
afterAll(async () => {
  await replica?.close();
  await app?.close();
  await sandbox?.close();
});

const cookieOf = (r: { headers: Record<string, unknown> }, name: string) =>
  [r.headers['set-cookie']]
    .flat()
    .map(String)
    .find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`))
    ?.split(';')[0];

async function signIn(username: string): Promise<string> {
  const login = await app.inject({ url: '/ui/auth/login?return=/ui/live' });
  const form = new URLSearchParams(new URL(String(login.headers.location)).searchParams);
  form.set('username', username);
  const back = new URL(String((await fetch(`${sandbox.url}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' })).headers.get('location')));
  const callback = await app.inject({ url: `/ui/auth/callback${back.search}`, headers: { cookie: cookieOf(login, 'jit_signin')! } });
  expect(callback.headers.location).toBe('/ui/live');
  return cookieOf(callback, 'jit_session')!;
}

describe('dashboard session past the access token’s 2 hours', () => {
  it('refreshes the token when it expires and keeps the session; the cookie carries the new pair', async () => {
    const first = await signIn('dave');
    expect((await app.inject({ url: '/ui/live', headers: { cookie: first } })).statusCode).toBe(200);
    clock += 7200_000 - 30_000; // within a minute of GitLab's expiry
    const refreshed = await app.inject({ url: '/ui/live', headers: { cookie: first } });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.body).toContain('data-testid="username">dave<');
    const second = cookieOf(refreshed, 'jit_session')!;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // well past the first token's life: the new cookie still works, on either replica, with no further refresh
    clock += 3600_000;
    for (const a of [app, replica]) {
      const later = await a.inject({ url: '/ui/live', headers: { cookie: second } });
      expect(later.statusCode).toBe(200);
      expect(cookieOf(later, 'jit_session')).toBeUndefined();
    }
    // the old cookie's refresh token was spent by the refresh: on a replica that did not refresh it, a sign-in
    const stale = await replica.inject({ url: '/ui/live', headers: { cookie: first } });
    expect(stale.statusCode).toBe(303);
    expect(stale.headers.location).toBe('/ui/sign-in?return=%2Fui%2Flive');
    revealed.push(first.split('=')[1]!, second.split('=')[1]!);
  });

  it('parallel requests with one cookie spend its refresh token once', async () => {
    const cookie = await signIn('alice');
    clock += 7200_000;
    const answers = await Promise.all(Array.from({ length: 4 }, () => app.inject({ url: '/ui/live', headers: { cookie } })));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
  });

  it('a refresh GitLab refuses (signed out elsewhere) sends the user to sign in again', async () => {
    const cookie = await signIn('bob');
    const page = await app.inject({ url: '/ui/live', headers: { cookie } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    // signed out in another tab: the token pair is revoked at GitLab
    await app.inject({ method: 'POST', url: '/ui/auth/logout', headers: { cookie, origin: PUBLIC, 'content-type': 'application/x-www-form-urlencoded' }, payload: `csrf=${csrf}` });
    // once the token is due, its refresh is refused at GitLab (as on a replica that never saw the sign-out)
    clock += 7200_000;
    const r = await app.inject({ url: '/ui/live', headers: { cookie } });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toMatch(/^\/ui\/sign-in/);
  });

  it('logs no token, key or cookie', () => {
    const log = logLines.join('');
    expect(log).toContain('dashboard sign-in');
    for (const s of revealed) expect(log.includes(s.slice(0, 32)), 'a secret in the log').toBe(false);
    expect(log).not.toMatch(/refresh_token|access_token/);
  });
});
