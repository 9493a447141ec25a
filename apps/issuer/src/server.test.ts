// The issuer process in distributed mode serves the whole read API (list, one elevation with its
// timeline, the sealed credential), the SLO counters of the read model on /metrics and an OpenAPI
// document listing the routes — on an in-memory bus and the GitLab sandbox (no real servers).
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS, type CloudEventJson } from '@jit/contracts';
import { FIXTURE_ELEVATION, FIXTURE_SEALED, createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus } from '@jit/bus/testing';
import { createSessionSealer } from '@jit/dashboard';
import type { EventBus } from '@jit/bus';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { setTimeout as delay } from 'node:timers/promises';
import { parseConfig } from './config';
import { buildServer, type IssuerServer } from './server';

const BOT_TOKEN = 'jit-bot-token-0123456789';
const VAULT_TOKEN = 'hvs.issuer-unit-vault-secret';
const issuerKey = createTestSigningKey();
const gateKey = createTestSigningKey();
const revokerKey = createTestSigningKey();
const KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-issuer-server-')), 'signing-key.pem');
writeFileSync(KEY_FILE, issuerKey.pem, { mode: 0o600 });
// the dashboard's session key as the chart mounts it, with the previous key after a comma (rotation)
const SESSION_KEY = randomBytes(32).toString('base64');
const PREVIOUS_SESSION_KEY = randomBytes(32).toString('base64');
const SESSION_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-issuer-ui-')), 'session-key');
writeFileSync(SESSION_KEY_FILE, `${SESSION_KEY},${PREVIOUS_SESSION_KEY}\n`, { mode: 0o600 });

let sandbox: Sandbox;
let bus: EventBus;
let server: IssuerServer;
/** Another replica with the same session key, and one with a key of its own. */
let replica: IssuerServer;
let stranger: IssuerServer;
let oauthApp: { uid: string; secret: string };
const dashboardAnswers: string[] = [];
/** Sealed session cookies handed out: never in a log line. */
const sessionCookies: string[] = [];
const logLines: string[] = [];

const publish = (e: CloudEventJson) => bus.publish(TOPIC_ELEVATIONS, String((e.data as { elevationId: string }).elevationId), e);
const CAROL_TOKEN = 'carol-token-0123456789';
/** As carol, the fixtures' requester (the read API answers from the caller's view). */
const get = async (url: string) => server.app.inject({ url, headers: { authorization: `Bearer ${CAROL_TOKEN}` } });
const ops = async (url: string) => server.ops.inject({ url });
/** Polls until `check` holds (apps may not use @jit/testing's waitFor: module boundaries). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}
const bypasses = async () => Number(/^jit_bypasses_total (\d+)$/m.exec((await ops('/metrics')).body)?.[1] ?? NaN);

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: 'jit-bot', token: BOT_TOKEN, bot: true },
        { username: 'carol', token: CAROL_TOKEN },
      ],
      projects: [{ path: 'ops/elevations', files: { 'policy.yaml': 'tiers: {}\n' }, members: [{ username: 'jit-bot', access_level: 40 }] }],
    },
  });
  bus = createMemoryBus();
  // one partition: once a later event is applied, every earlier one was
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 1, retentionMs: -1 }]);
  // history the issuer finds at start: a rejected request, a bypass, a live grant
  for (const e of [
    sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-8' }),
    sampleEvent(EVENT_TYPES.rejected, { elevationId: 'gl-42-8' }),
    sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-9' }),
    sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-9' }),
    sampleEvent(EVENT_TYPES.requested),
    gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved)),
    issuerKey.signer.sign(sampleEvent(EVENT_TYPES.granted)),
    // a granted nobody trusted signed: the read model does not take it
    sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-11' }),
    sampleEvent(EVENT_TYPES.granted, { elevationId: 'gl-42-11', grantId: `gl-42-11-${'c'.repeat(40)}` }),
  ])
    await publish(e);
  // the dashboard's OAuth application, as an admin registers it in GitLab
  oauthApp = sandbox.addOAuthApplication({ name: 'jit dashboard', redirectUri: 'https://jit.example.com/ui/auth/callback', scopes: ['read_user'] });
  const env = {
    JIT_UI_OAUTH_CLIENT_ID: oauthApp.uid,
    JIT_UI_SESSION_KEY_FILE: SESSION_KEY_FILE,
    JIT_UI_OAUTH_CLIENT_SECRET: oauthApp.secret,
    KAFKA_BROKERS: '127.0.0.1:9',
    GITLAB_URL: sandbox.url,
    GITLAB_TOKEN: BOT_TOKEN,
    JIT_ELEVATIONS_PROJECT: 'ops/elevations',
    JIT_SUBSTRATES: JSON.stringify({ vault: { addr: 'http://127.0.0.1:9', tokenRef: 'env:VAULT_TOKEN', tokenRole: 'jit' } }),
    VAULT_TOKEN,
    JIT_PUBLIC_URL: 'https://jit.example.com',
    JIT_SIGNING_KEY_FILE: KEY_FILE,
    JIT_TRUSTED_GATE_KEYS: gateKey.signer.publicKey.x,
    JIT_TRUSTED_REVOKER_KEYS: revokerKey.signer.publicKey.x,
  };
  const config = parseConfig(env);
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ name: 'issuer-test', destination });
  server = await buildServer(config, { bus, logger });
  replica = await buildServer(parseConfig(env), { bus, logger });
  stranger = await buildServer(parseConfig({ ...env, JIT_UI_SESSION_KEY_FILE: undefined, JIT_UI_SESSION_KEY: randomBytes(32).toString('base64url') }), { bus, logger });
});

afterAll(async () => {
  await stranger?.app.close();
  await replica?.app.close();
  await server?.app.close();
  await bus?.close();
  await sandbox?.close();
});

describe('issuer HTTP in distributed mode', () => {
  it('lists elevations with the filters jit audit uses', async () => {
    const all = await get('/v1/elevations');
    expect(all.statusCode).toBe(200);
    expect(
      all
        .json()
        .elevations.map((e: { id: string }) => e.id)
        .sort(),
    ).toEqual(['gl-42-11', FIXTURE_ELEVATION, 'gl-42-8', 'gl-42-9']);
    expect((await get('/v1/elevations?state=bypassed')).json().elevations.map((e: { id: string }) => e.id)).toEqual(['gl-42-9']);
    expect((await get('/v1/elevations?state=granted&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z')).json().elevations).toHaveLength(1);
    expect(all.body).not.toContain('BEGIN AGE');
  });

  it('shows one elevation with its timeline, and the sealed credential on its own route', async () => {
    const one = await get(`/v1/elevations/${FIXTURE_ELEVATION}`);
    expect(one.statusCode).toBe(200);
    expect(one.json().state).toBe('granted');
    expect(one.json().timeline.map((t: { type: string }) => t.type)).toEqual(expect.arrayContaining([EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted]));
    expect(one.body).not.toContain('BEGIN AGE');
    expect((await get(`/v1/elevations/${FIXTURE_ELEVATION}/credential`)).json().sealedCredential).toBe(FIXTURE_SEALED);
  });

  it('serves no credential a granted not signed by an issuer brought, and lists its own public key', async () => {
    expect((await get('/v1/elevations/gl-42-11')).json().state).toBe('pending');
    expect((await get('/v1/elevations/gl-42-11/credential')).statusCode).toBe(409);
    expect(await server.ops.inject({ url: '/metrics' }).then((r) => r.body)).toMatch(/jit_events_refused_total\{consumer="read-model",type="granted",reason="unsigned"\} 1/);
    const keys = (await get('/v1/keys')).json().keys;
    expect(keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: issuerKey.signer.publicKey.kid, x: issuerKey.signer.publicKey.x, roles: ['issuer'] }]);
  });

  it('refuses malformed, hostile and unknown requests with a clear error', async () => {
    expect((await get('/v1/elevations/gl-42-99')).json().code).toBe('JIT_ERR_API_NOT_FOUND');
    expect((await get('/v1/elevations/..%2F..%2Fetc%2Fpasswd')).statusCode).toBe(400);
    for (const bad of ['/v1/elevations?state=owned', '/v1/elevations?since=yesterday', `/v1/elevations?requester=${'x'.repeat(5000)}`]) {
      const res = await get(bad);
      expect(res.statusCode, bad).toBe(400);
    }
    const order = await get('/v1/elevations?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z');
    expect(order.json().code).toBe('JIT_ERR_API_BAD_QUERY');
  });

  it('exposes the SLO counters of the read model, history included, and counts a live bypass', async () => {
    const text = (await ops('/metrics')).body;
    expect((await get('/metrics')).statusCode, 'metrics are on the ops listener only').toBe(404);
    expect(text).toMatch(/^jit_rejections_total 1$/m);
    expect(text).toMatch(/^jit_elevations\{state="granted"\} 1$/m);
    expect(await bypasses()).toBe(1);
    await publish(sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-10' }));
    await publish(sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: 'gl-42-10' }));
    await until(async () => (await bypasses()) === 2, 'the live bypass on /metrics');
    expect(await bypasses()).toBe(2);
  });

  it('serves an OpenAPI document listing the read API (and not the operational routes)', async () => {
    const doc = (await get('/docs/openapi.json')).json();
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/elevations', '/v1/elevations/{id}', '/v1/elevations/{id}/credential', '/v1/keys']);
    expect(doc.servers).toEqual([{ url: 'https://jit.example.com' }]);
    expect(doc.paths['/v1/elevations'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['state', 'target', 'requester', 'since', 'until']));
  });

  it('serves the dashboard beside the read API: GitLab sign-in, a Secure __Host- session cookie, pages as the signed-in user', async () => {
    expect((await server.app.inject({ url: '/ui/live' })).headers.location).toBe('/ui/sign-in?return=%2Fui%2Flive');
    const login = await server.app.inject({ url: '/ui/auth/login?return=/ui/live' });
    const authorize = new URL(String(login.headers.location));
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${sandbox.url}/oauth/authorize`);
    expect(authorize.searchParams.get('redirect_uri')).toBe('https://jit.example.com/ui/auth/callback');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const signInCookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect(String(login.headers['set-cookie'])).toMatch(/^__Host-jit_signin=[^;]+; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    // carol allows it on the sandbox's authorize page; GitLab sends the browser back with a code
    const form = new URLSearchParams(authorize.searchParams);
    form.set('username', 'carol');
    const back = new URL(String((await fetch(`${sandbox.url}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' })).headers.get('location')));
    const callback = await server.app.inject({ url: `/ui/auth/callback${back.search}`, headers: { cookie: signInCookie } });
    expect(callback.statusCode).toBe(303);
    expect(callback.headers.location).toBe('/ui/live');
    const session = [callback.headers['set-cookie']]
      .flat()
      .map(String)
      .find((c) => c.startsWith('__Host-jit_session='))!;
    expect(session).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const live = await server.app.inject({ url: '/ui/live', headers: { cookie: session.split(';')[0]! } });
    expect(live.statusCode).toBe(200);
    expect(live.headers['content-security-policy']).toContain("script-src 'self'");
    expect(live.body).toContain(`data-elevation="${FIXTURE_ELEVATION}"`);
    dashboardAnswers.push(login.body, callback.body, live.body, JSON.stringify(callback.headers));
    // Health: the gate serves the catalog; the issuer says what its own fold of the log knows (nothing ratified here)
    const health = await server.app.inject({ url: '/ui/health', headers: { cookie: session.split(';')[0]! } });
    expect(health.statusCode).toBe(200);
    expect(health.body).toMatch(/<h2>Policy in force<\/h2>\s*<p>none yet<\/p>/);
    // no session, no token: the browser's icon request and its CSP reports are not refused by the API's auth
    expect((await server.app.inject({ url: '/favicon.ico' })).statusCode).toBe(204);
    const report = await server.app.inject({
      method: 'POST',
      url: '/ui/csp-report',
      headers: { 'content-type': 'application/csp-report' },
      payload: JSON.stringify({ 'csp-report': { 'document-uri': 'https://jit.example.com/ui/live', 'effective-directive': 'script-src-elem', 'blocked-uri': 'inline' } }),
    });
    expect(report.statusCode).toBe(204);
    expect(logLines.join('')).toContain('CSP violation reported by a browser');
  });

  it('replicas sharing the session key serve each other’s sign-ins and sessions; another key, an altered cookie or a signed-out one is refused', async () => {
    const cookieOf = (r: { headers: Record<string, unknown> }, name: string) =>
      [r.headers['set-cookie']]
        .flat()
        .map(String)
        .find((c) => c.startsWith(`${name}=`))
        ?.split(';')[0];
    /** Carol's sign-in started on `from` and finished on `to` (the load balancer's choice); her session cookie. */
    const signIn = async (from: IssuerServer, to: IssuerServer) => {
      const login = await from.app.inject({ url: '/ui/auth/login?return=/ui/history' });
      const form = new URLSearchParams(new URL(String(login.headers.location)).searchParams);
      form.set('username', 'carol');
      const back = new URL(String((await fetch(`${sandbox.url}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' })).headers.get('location')));
      const callback = await to.app.inject({ url: `/ui/auth/callback${back.search}`, headers: { cookie: cookieOf(login, '__Host-jit_signin')! } });
      expect(callback.headers.location).toBe('/ui/history');
      dashboardAnswers.push(callback.body, JSON.stringify(callback.headers));
      const cookie = cookieOf(callback, '__Host-jit_session')!;
      sessionCookies.push(cookie.slice(cookie.indexOf('=') + 1));
      return cookie;
    };
    const session = await signIn(server, replica);
    for (const app of [server.app, replica.app]) {
      const page = await app.inject({ url: '/ui/history', headers: { cookie: session } });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain(`data-elevation="${FIXTURE_ELEVATION}"`);
    }
    // a replica with another key, and a cookie with one character changed: sign in again
    expect((await stranger.app.inject({ url: '/ui/history', headers: { cookie: session } })).headers.location).toBe('/ui/sign-in?return=%2Fui%2Fhistory');
    const at = session.length - 30;
    const altered = `${session.slice(0, at)}${session[at] === 'A' ? 'B' : 'A'}${session.slice(at + 1)}`;
    expect((await server.app.inject({ url: '/ui/history', headers: { cookie: altered } })).statusCode).toBe(303);
    // a session sealed with the previous key (the second in the file) still opens
    const previous = createSessionSealer({ keys: () => [Buffer.from(PREVIOUS_SESSION_KEY, 'base64').toString('base64url')] });
    const sealedBefore = await previous.create({ token: CAROL_TOKEN, username: 'carol', ttlMs: 600_000 });
    expect((await replica.app.inject({ url: '/ui/live', headers: { cookie: `__Host-jit_session=${sealedBefore.cookie}` } })).statusCode).toBe(200);

    // sign-out on one replica revokes the token at GitLab: the cookie replayed there is refused at
    // once, and on a replica whose auth cache does not hold the token, by GitLab
    const second = await signIn(replica, replica);
    const page = await replica.app.inject({ url: '/ui/live', headers: { cookie: second } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const out = await replica.app.inject({
      method: 'POST',
      url: '/ui/auth/logout',
      headers: { cookie: second, origin: 'https://jit.example.com', 'content-type': 'application/x-www-form-urlencoded' },
      payload: `csrf=${csrf}`,
    });
    expect(out.headers.location).toBe('/ui/sign-in?signed-out=1');
    for (const app of [replica.app, server.app]) {
      const replay = await app.inject({ url: '/ui/live', headers: { cookie: second } });
      expect(replay.statusCode).toBe(303);
      expect(replay.headers.location).toBe('/ui/sign-in?return=%2Fui%2Flive');
    }
    dashboardAnswers.push(page.body);
  });

  it('puts no secret in its answers or its log lines', async () => {
    const answers = await Promise.all([ops('/metrics'), get('/docs/openapi.json'), get('/v1/elevations'), ops('/readyz')].map(async (r) => (await r).body));
    const places = { answers: [...answers, ...dashboardAnswers].join('\n'), logs: logLines.join('') };
    expect(places.logs).toMatch(/read model loaded/);
    for (const [where, text] of Object.entries(places))
      for (const s of [BOT_TOKEN, VAULT_TOKEN, oauthApp.secret, SESSION_KEY, PREVIOUS_SESSION_KEY]) expect(text.includes(s), `${s} in ${where}`).toBe(false);
    expect(sessionCookies.length).toBeGreaterThan(0);
    for (const c of sessionCookies) expect(places.logs.includes(c.slice(0, 40)), 'a session cookie in the log').toBe(false);
  });
});
