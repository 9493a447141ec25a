// The dashboard's answers that need no session — /favicon.ico and the CSP report endpoint — and
// what a report leaves in the log: the directive, the blocked origin and path, the page's path;
// never a query string, a header or a cookie; bodies bounded, reports per minute bounded.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPlugin } from './dashboard-plugin';
import { CONTENT_SECURITY_POLICY } from './dashboard-routes';
import { ephemeralSessionKey } from './sessions';

let app: FastifyInstance;
let clock = Date.parse('2030-01-01T00:00:00Z');
const log: string[] = [];
const COOKIE = 'jit_session=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.secret-cookie-value';

beforeAll(async () => {
  app = Fastify({ logger: { level: 'info', stream: { write: (l: string) => void log.push(l) } } });
  await app.register(dashboardPlugin, {
    oauth: {
      authorizeUrl: () => 'http://127.0.0.1:9/oauth/authorize',
      exchangeCode: async () => Promise.reject(new Error('no')),
      refresh: async () => Promise.reject(new Error('no')),
      revoke: async () => undefined,
    },
    tokenOwner: async () => Promise.reject(new Error('no')),
    publicUrl: 'http://127.0.0.1:8080',
    sessionKeys: () => [ephemeralSessionKey()],
    now: () => clock,
  });
});
afterAll(() => app.close());

const legacy = (over: Record<string, string> = {}) => ({
  'csp-report': {
    'document-uri': 'http://127.0.0.1:8080/ui/history?requester=carol&return=%2Fui%2Fsecret',
    'effective-directive': 'script-src-elem',
    'violated-directive': 'script-src-elem',
    'blocked-uri': 'inline',
    disposition: 'enforce',
    ...over,
  },
});
const post = (body: unknown, type = 'application/csp-report') =>
  app.inject({ method: 'POST', url: '/ui/csp-report', headers: { 'content-type': type, cookie: COOKIE }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
const reported = () => log.filter((l) => l.includes('CSP violation reported')).map((l) => (JSON.parse(l) as { csp: Record<string, string> }).csp);

describe('answers without a session', () => {
  it('/favicon.ico is an empty 204 the browser may cache, not a sign-in redirect', async () => {
    const r = await app.inject({ url: '/favicon.ico' });
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe('');
    expect(r.headers['cache-control']).toBe('public, max-age=86400');
  });

  it('every page names the report endpoint in its CSP', async () => {
    const r = await app.inject({ url: '/ui/sign-in' });
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    // report-uri alone: with report-to beside it Chromium ignores report-uri and batches reports for up to a minute
    expect(CONTENT_SECURITY_POLICY).toMatch(/; report-uri \/ui\/csp-report$/);
  });

  it('logs a report (legacy and Reporting API) with the directive, blocked origin+path and page path only', async () => {
    expect((await post(legacy())).statusCode).toBe(204);
    expect(
      (
        await post(
          [
            {
              type: 'csp-violation',
              url: 'http://127.0.0.1:8080/ui/live?x=1',
              body: { documentURL: 'http://127.0.0.1:8080/ui/live?token=abc', effectiveDirective: 'img-src', blockedURL: 'https://evil.example/pixel.gif?c=stolen#f', disposition: 'enforce' },
            },
          ],
          'application/reports+json',
        )
      ).statusCode,
    ).toBe(204);
    expect(reported()).toEqual([
      { directive: 'script-src-elem', blocked: 'inline', page: '/ui/history', disposition: 'enforce' },
      { directive: 'img-src', blocked: 'https://evil.example/pixel.gif', page: '/ui/live', disposition: 'enforce' },
    ]);
    const all = log.join('');
    for (const s of ['secret-cookie-value', 'requester=carol', 'stolen', 'token=abc', '%2Fui%2Fsecret']) expect(all, s).not.toContain(s);
  });

  it('refuses a body over 8 KiB or not JSON; ignores what is not a CSP report', async () => {
    expect((await post(legacy({ 'script-sample': 'x'.repeat(9000) }))).statusCode).toBe(413);
    expect((await post('{not json')).statusCode).toBe(400);
    const before = reported().length;
    expect((await post({ hello: 'world' }, 'application/csp-report')).statusCode).toBe(204);
    expect((await post([{ type: 'deprecation', body: {} }], 'application/reports+json')).statusCode).toBe(204);
    expect(reported().length).toBe(before);
  });

  it('logs at most 60 reports a minute; the rest are counted once the minute is over', async () => {
    clock += 120_000;
    const before = reported().length;
    const codes: number[] = [];
    for (let i = 0; i < 70; i++) codes.push((await post(legacy())).statusCode);
    expect(codes.filter((c) => c === 204)).toHaveLength(60);
    expect(codes.filter((c) => c === 429)).toHaveLength(10);
    expect(reported().length - before).toBe(60);
    clock += 60_000;
    expect((await post(legacy())).statusCode).toBe(204);
    expect(log.some((l) => l.includes('"dropped":10'))).toBe(true);
  });
});
