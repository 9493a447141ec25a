// The plugin alone (no GitLab reached): assets, the pages' answer without a session, the headers.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPlugin } from './dashboard-plugin';
import { CONTENT_SECURITY_POLICY } from './dashboard-routes';
import { ephemeralSessionKey } from './sessions';

const app = Fastify();
beforeAll(async () => {
  await app.register(dashboardPlugin, {
    oauth: {
      authorizeUrl: () => 'http://127.0.0.1:9/oauth/authorize',
      exchangeCode: async () => Promise.reject(new Error('not here')),
      refresh: async () => Promise.reject(new Error('not here')),
      revoke: async () => undefined,
    },
    tokenOwner: async () => Promise.reject(new Error('not here')),
    publicUrl: 'http://127.0.0.1:8080',
    sessionKeys: () => [ephemeralSessionKey()],
  });
});
afterAll(() => app.close());

describe('dashboard plugin', () => {
  it('serves its two assets with an ETag, and nothing else under /ui/assets (prototype names included)', async () => {
    const js = await app.inject({ url: '/ui/assets/dashboard.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await app.inject({ url: '/ui/assets/dashboard.js', headers: { 'if-none-match': String(js.headers.etag) } })).statusCode).toBe(304);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '..%2Fpackage.json', 'missing.css']) {
      const r = await app.inject({ url: `/ui/assets/${name}` });
      expect(r.statusCode, name).toBe(404);
    }
  });

  it('sends a browser without a session to sign in, under the strict CSP', async () => {
    const r = await app.inject({ url: '/ui/history?state=granted' });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/ui/sign-in?return=%2Fui%2Fhistory%3Fstate%3Dgranted');
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(r.headers['cache-control']).toBe('no-store');
    const post = await app.inject({ method: 'POST', url: '/ui/auth/logout', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'csrf=x' });
    expect(post.statusCode).toBe(403);
    expect(post.body).toContain('JIT_ERR_UI_CSRF');
  });
});
