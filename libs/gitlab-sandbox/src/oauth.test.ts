// GitLab's OAuth 2 provider as the sandbox serves it (docs.gitlab.com/api/oauth2): authorization
// code with PKCE, the token answer's shape, doorkeeper's errors, and an OAuth token as a user token.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SEED } from './testing';
import { startSandbox, type Sandbox } from './sandbox';
import type { OAuthApplication } from './oauth';

let now = new Date('2030-01-02T03:04:05Z');
let sandbox: Sandbox;
let app: OAuthApplication;
const REDIRECT = 'http://127.0.0.1:9/ui/auth/callback';
const verifier = 'a-verifier-of-forty-three-characters-at-least-0001';
const challenge = createHash('sha256').update(verifier).digest('base64url');

beforeEach(async () => {
  now = new Date('2030-01-02T03:04:05Z');
  sandbox = await startSandbox({ seed: DEMO_SEED, now: () => now });
  app = sandbox.addOAuthApplication({ name: 'jit dashboard', redirectUri: REDIRECT, scopes: ['read_user', 'openid'] });
});
afterEach(async () => sandbox.close());

const authorizeQuery = (over: Record<string, string> = {}) =>
  new URLSearchParams({ client_id: app.uid, redirect_uri: REDIRECT, response_type: 'code', state: 'st-1', scope: 'read_user', code_challenge: challenge, code_challenge_method: 'S256', ...over });

/** The user's "Authorize" on the sandbox's page: the redirect back to the client. */
async function authorize(username: string, over: Record<string, string> = {}): Promise<URL> {
  const body = authorizeQuery(over);
  body.set('username', username);
  const res = await fetch(`${sandbox.url}/oauth/authorize`, { method: 'POST', body, redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}
const token = (fields: Record<string, string>) => fetch(`${sandbox.url}/oauth/token`, { method: 'POST', body: new URLSearchParams(fields) });
const exchange = (code: string, over: Record<string, string> = {}) =>
  token({ grant_type: 'authorization_code', client_id: app.uid, client_secret: app.secret, code, redirect_uri: REDIRECT, code_verifier: verifier, ...over });

describe('sandbox OAuth 2 provider (authorization code + PKCE)', () => {
  it('shows a sign-in form for a registered client and redirect URI, and sends the code and state back', async () => {
    const page = await fetch(`${sandbox.url}/oauth/authorize?${authorizeQuery()}`);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('<label for="username">Username</label>');
    expect(text).toContain(`value="${challenge}"`);
    const back = await authorize('alice');
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('st-1');
    expect(back.searchParams.get('code')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers the token request as GitLab does, and the token works as the user’s on the REST API', async () => {
    const code = (await authorize('alice')).searchParams.get('code')!;
    const res = await exchange(code);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      scope: 'read_user',
      created_at: Math.floor(now.getTime() / 1000),
    });
    const me = await fetch(`${sandbox.url}/api/v4/user`, { headers: { authorization: `Bearer ${String(body['access_token'])}` } });
    expect(((await me.json()) as { username: string }).username).toBe('alice');
    // expired after GitLab's two hours
    now = new Date(now.getTime() + 7200_000);
    expect((await fetch(`${sandbox.url}/api/v4/user`, { headers: { authorization: `Bearer ${String(body['access_token'])}` } })).status).toBe(401);
  });

  it('a code is single use, lives 10 minutes, and is bound to its client, redirect URI and PKCE verifier', async () => {
    const expectGrantError = async (res: Response, error = 'invalid_grant', status = 400) => {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: string }).error).toBe(error);
    };
    const used = (await authorize('alice')).searchParams.get('code')!;
    expect((await exchange(used)).status).toBe(200);
    await expectGrantError(await exchange(used));
    await expectGrantError(await exchange((await authorize('alice')).searchParams.get('code')!, { code_verifier: 'another-verifier-of-forty-three-characters-00' }));
    await expectGrantError(await exchange((await authorize('alice')).searchParams.get('code')!, { redirect_uri: 'http://127.0.0.1:9/elsewhere' }));
    await expectGrantError(await exchange((await authorize('alice')).searchParams.get('code')!, { client_secret: 'wrong' }), 'invalid_client', 401);
    await expectGrantError(await exchange((await authorize('alice')).searchParams.get('code')!, { code_verifier: '' }), 'invalid_request');
    const late = (await authorize('alice')).searchParams.get('code')!;
    now = new Date(now.getTime() + 600_000);
    await expectGrantError(await exchange(late));
    await expectGrantError(await token({ grant_type: 'password', username: 'alice', password: 'x' }), 'unsupported_grant_type');
  });

  it('a refresh token answers a new pair after the access token expired, once; the old pair is revoked', async () => {
    const first = (await (await exchange((await authorize('alice')).searchParams.get('code')!)).json()) as { access_token: string; refresh_token: string };
    const me = (t: string) => fetch(`${sandbox.url}/api/v4/user`, { headers: { authorization: `Bearer ${t}` } });
    const refresh = (rt: string, over: Record<string, string> = {}) =>
      token({ grant_type: 'refresh_token', client_id: app.uid, client_secret: app.secret, refresh_token: rt, redirect_uri: REDIRECT, code_verifier: verifier, ...over });
    now = new Date(now.getTime() + 7200_000);
    expect((await me(first.access_token)).status).toBe(401);
    // another client, or a wrong secret: refused, the refresh token not spent
    const other = sandbox.addOAuthApplication({ name: 'other', redirectUri: REDIRECT, scopes: ['read_user'] });
    expect(((await (await refresh(first.refresh_token, { client_id: other.uid, client_secret: other.secret })).json()) as { error: string }).error).toBe('invalid_grant');
    expect((await refresh(first.refresh_token, { client_secret: 'wrong' })).status).toBe(401);
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    const second = (await res.json()) as Record<string, unknown>;
    expect(second).toEqual({
      access_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      scope: 'read_user',
      created_at: Math.floor(now.getTime() / 1000),
    });
    expect(second['refresh_token']).not.toBe(first.refresh_token);
    expect(((await (await me(String(second['access_token']))).json()) as { username: string }).username).toBe('alice');
    // single use
    const again = await refresh(first.refresh_token);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    // revoking the access token revokes its refresh token too (sign-out)
    await fetch(`${sandbox.url}/oauth/revoke`, { method: 'POST', body: new URLSearchParams({ token: String(second['access_token']), client_id: app.uid, client_secret: app.secret }) });
    expect((await refresh(String(second['refresh_token']))).status).toBe(400);
  });

  it('never redirects to an unregistered URI or for an unknown client; bots and unknown users cannot sign in', async () => {
    for (const q of [authorizeQuery({ redirect_uri: 'https://evil.example/cb' }), authorizeQuery({ client_id: 'nope' })]) {
      const res = await fetch(`${sandbox.url}/oauth/authorize?${q}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
    const wrongScope = await fetch(`${sandbox.url}/oauth/authorize?${authorizeQuery({ scope: 'api' })}`, { redirect: 'manual' });
    expect(new URL(wrongScope.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
    for (const username of ['deploy-agent', 'nobody']) {
      const body = authorizeQuery();
      body.set('username', username);
      expect((await fetch(`${sandbox.url}/oauth/authorize`, { method: 'POST', body, redirect: 'manual' })).status).toBe(401);
    }
  });

  it('revokes a token for its client; an admin registers applications through the API', async () => {
    const t = ((await (await exchange((await authorize('alice')).searchParams.get('code')!)).json()) as { access_token: string }).access_token;
    expect((await fetch(`${sandbox.url}/oauth/revoke`, { method: 'POST', body: new URLSearchParams({ token: t, client_id: app.uid, client_secret: app.secret }) })).status).toBe(200);
    expect((await fetch(`${sandbox.url}/api/v4/user`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(401);
    const created = await fetch(`${sandbox.url}/api/v4/applications`, {
      method: 'POST',
      headers: { 'private-token': 'root-token-0001' },
      body: new URLSearchParams({ name: 'x', redirect_uri: 'https://x.example/cb', scopes: 'read_user' }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      application_name: 'x',
      callback_url: 'https://x.example/cb',
      confidential: true,
      application_id: expect.any(String),
      secret: expect.stringMatching(/^gloas-/),
    });
    const refused = await fetch(`${sandbox.url}/api/v4/applications`, {
      method: 'POST',
      headers: { 'private-token': 'alice-token-0001' },
      body: new URLSearchParams({ name: 'x', redirect_uri: 'https://x.example/cb', scopes: 'read_user' }),
    });
    expect(refused.status).toBe(403);
  });
});
