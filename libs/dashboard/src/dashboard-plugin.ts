// The web dashboard under /ui: sign-in with GitLab (OAuth 2 authorization code + PKCE), a
// session sealed into the browser's cookie (the user's GitLab token encrypted with a key every
// replica holds), and server-rendered pages that read everything through the read API with that
// token, so each user sees exactly what the API's role table lets them see (requester: own,
// approver: eligible, auditor: all). The browser gets HTML, one stylesheet and one script from
// 'self' under a strict CSP, and an HttpOnly, SameSite=Lax cookie it cannot read or alter.
// See docs/adr/0011-dashboard-server-rendered.md.
import { hash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type {} from '@fastify/swagger'; // schema.hide
import { parseCookie, stringifySetCookie } from 'cookie';
import { ELEVATION_ID_PATTERN } from '@jit/contracts';
import { JitError } from '@jit/errors';
import { createPkce, type OAuthTokens } from '@jit/gitlab';
import { loadAssets } from './assets';
import { cspReportRoute } from './csp-reports';
import type { DashboardOptions } from './dashboard-options';
import { CONTENT_SECURITY_POLICY } from './dashboard-routes';
import { CsrfRefused, ReadApiUnavailable, SignInRefused, SignInUnavailable } from './errors';
import { html } from './html';
import { layout, type Viewer } from './pages/layout';
import type { Elevation } from './pages/types';
import { elevationPage } from './pages/elevation-page';
import { healthPage, type Ratification } from './pages/health-page';
import { apiQuery, historyCsv, historyPage, type HistoryQuery } from './pages/history-page';
import { livePage } from './pages/live-page';
import { waitingPage } from './pages/waiting-page';
import { DASHBOARD_HOME, safeReturnTo } from './return-to';
import { createSessionSealer, sameToken, type Session } from './sessions';

/** An elevation id in a page path (the route parameter's bound). */
const ELEVATION_ID_PARAM = new RegExp(ELEVATION_ID_PATTERN);

/** The session ended under the page (token revoked or expired at GitLab): sign in again. */
class SessionEnded extends Error {}

/** What a session keeps of GitLab's token answer. */
const sessionTokens = (t: OAuthTokens, now: number) => ({
  token: t.accessToken,
  ...(t.refreshToken ? { refreshToken: t.refreshToken } : {}),
  ...(t.expiresIn !== undefined ? { tokenExpiresAt: now + t.expiresIn * 1000 } : {}),
});

/** An access token this close to its expiry is refreshed before a page uses it. */
const REFRESH_BEFORE_MS = 60_000;

export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const secure = new URL(opts.publicUrl).protocol === 'https:';
  const origin = new URL(opts.publicUrl).origin;
  // __Host-: only ever set over https by this host for path / (no Domain), so no sibling can plant it
  const SESSION = secure ? '__Host-jit_session' : 'jit_session';
  const SIGN_IN = secure ? '__Host-jit_signin' : 'jit_signin';
  const now = opts.now ?? Date.now;
  const sessions = opts.sessions ?? createSessionSealer({ keys: opts.sessionKeys, now });
  // refreshes under way or just done, by the refresh token's digest: a page's parallel requests
  // carry the same cookie and must not spend its single-use refresh token twice
  const refreshing = new LRUCache<string, Promise<Session>>({ max: 10_000, ttl: 30_000 });
  const ttlMs = opts.sessionTtlMs ?? 8 * 3600_000;
  const assets = loadAssets();

  const cookies = (req: FastifyRequest): Record<string, string | undefined> => parseCookie(req.headers.cookie ?? '');
  const setCookie = (reply: FastifyReply, name: string, value: string, maxAgeSeconds: number) =>
    reply.header('set-cookie', [
      ...[reply.getHeader('set-cookie') ?? []].flat().map(String),
      stringifySetCookie({ name, value, httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge: maxAgeSeconds }),
    ]);
  const sessionOf = (req: FastifyRequest): Promise<Session | undefined> => sessions.get(cookies(req)[SESSION]);
  const sessionCookie = (reply: FastifyReply, s: Session, cookie: string) => setCookie(reply, SESSION, cookie, Math.floor((s.expiresAt - now()) / 1000));

  /**
   * The session with an access token that is good for a while: one about to expire (GitLab's live
   * 2 h) is refreshed at GitLab with the session's refresh token, and the new pair goes back into
   * the cookie. Refused (revoked at sign-out, spent, no refresh token): the session has ended.
   */
  const withLiveToken = async (session: Session, reply: FastifyReply): Promise<Session> => {
    if (session.tokenExpiresAt === undefined || session.tokenExpiresAt - now() > REFRESH_BEFORE_MS) return session;
    const refreshToken = session.refreshToken;
    if (!refreshToken) throw new SessionEnded();
    const key = hash('sha256', refreshToken, 'hex');
    let refreshed = refreshing.get(key);
    if (!refreshed) {
      refreshed = opts.oauth.refresh(refreshToken).then((t) => ({ ...session, ...sessionTokens(t, now()) }));
      refreshing.set(key, refreshed);
      refreshed.catch(() => refreshing.delete(key));
    }
    let next: Session;
    try {
      next = await refreshed;
    } catch (err) {
      const e = err as JitError;
      app.log.info({ code: e.code }, 'dashboard session token refresh failed');
      if (e.retriable) throw SignInUnavailable(e.code ?? 'no answer');
      throw new SessionEnded();
    }
    sessionCookie(reply, next, await sessions.reseal(next));
    return next;
  };

  // pages, not API: kept out of the OpenAPI document
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    // no Referer leaves the dashboard (an MR link); same-origin keeps Origin on its own form posts
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (!req.url.startsWith('/ui/assets/') && req.url !== '/favicon.ico') reply.header('cache-control', 'no-store');
    return payload;
  });

  const sendPage = (reply: FastifyReply, status: number, page: string) => reply.code(status).type('text/html; charset=utf-8').send(page);
  const problemPage = (reply: FastifyReply, err: JitError, viewer?: Viewer) =>
    sendPage(
      reply,
      err.statusCode,
      layout(
        { title: 'Something went wrong', ...(viewer ? { viewer } : {}) },
        html`<p class="notice error" role="alert">${err.message} <span class="muted">(${err.code})</span></p><p><a href="/ui/sign-in">Sign in</a></p>`,
      ),
    );
  const toSignIn = (req: FastifyRequest, reply: FastifyReply) => reply.redirect(`/ui/sign-in?return=${encodeURIComponent(safeReturnTo(req.url))}`, 303);

  /** GET on the read API as the session's user (the API's auth and role table decide). */
  const readApi = async <T>(session: Session, path: string): Promise<{ status: number; body: T }> => {
    const res = await app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${session.token}` } });
    if (res.statusCode === 401) throw new SessionEnded();
    if (res.statusCode >= 500) throw ReadApiUnavailable(`HTTP ${res.statusCode}`);
    return { status: res.statusCode, body: res.json() as T };
  };
  const list = async (session: Session, query: Record<string, string | undefined>) => {
    const qs = new URLSearchParams(Object.entries(query).filter((kv): kv is [string, string] => !!kv[1])).toString();
    const res = await readApi<{ elevations?: Elevation[]; message?: string; code?: string }>(session, `/v1/elevations${qs ? `?${qs}` : ''}`);
    return res;
  };
  const detail = async (session: Session, id: string) => {
    const res = await readApi<Elevation>(session, `/v1/elevations/${encodeURIComponent(id)}`);
    return res.status === 200 ? res.body : undefined;
  };

  /** A page for signed-in users only: no session, a browser redirect to sign-in; its data comes from the read API. */
  const page =
    (render: (ctx: { req: FastifyRequest; session: Session; viewer: Viewer; reply: FastifyReply }) => Promise<FastifyReply | string>) => async (req: FastifyRequest, reply: FastifyReply) => {
      const opened = await sessionOf(req);
      if (!opened) return toSignIn(req, reply);
      const viewer = { username: opened.username, csrf: opened.csrf };
      let session = opened;
      try {
        session = await withLiveToken(opened, reply);
        const out = await render({ req, session, viewer, reply });
        return typeof out === 'string' ? sendPage(reply, 200, out) : out;
      } catch (err) {
        if (err instanceof SessionEnded) {
          sessions.destroy(session);
          setCookie(reply, SESSION, '', 0);
          return toSignIn(req, reply);
        }
        if (err instanceof JitError) return problemPage(reply, err, viewer);
        throw err;
      }
    };

  // no icon: an empty answer the browser caches, rather than a 401 on every page
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).header('cache-control', 'public, max-age=86400').send());
  cspReportRoute(app, { now });
  app.get('/ui', async (_req, reply) => reply.redirect(DASHBOARD_HOME, 302));
  app.get('/ui/', async (_req, reply) => reply.redirect(DASHBOARD_HOME, 302));
  app.get('/ui/*', async (req, reply) => {
    const session = await sessionOf(req);
    if (!session) return toSignIn(req, reply);
    return sendPage(
      reply,
      404,
      layout({ title: 'Not found', viewer: { username: session.username, csrf: session.csrf } }, html`<p>There is no such page. <a href="${DASHBOARD_HOME}">Back to the dashboard</a>.</p>`),
    );
  });
  app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => {
    // own keys only: `__proto__` or `constructor` is no asset
    const asset = Object.hasOwn(assets, req.params.name) ? assets[req.params.name] : undefined;
    if (!asset) return reply.code(404).type('text/plain').send('not found');
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).header('etag', asset.etag).header('cache-control', 'public, max-age=300').send(asset.body);
  });

  app.get<{ Querystring: { return?: string } }>('/ui/sign-in', async (req, reply) => {
    if (await sessionOf(req)) return reply.redirect(safeReturnTo(req.query.return), 303);
    const returnTo = safeReturnTo(req.query.return);
    return sendPage(
      reply,
      200,
      layout(
        { title: 'Sign in' },
        html`<p>jit's dashboard shows elevations as the read API lets you see them: your own requests, those you may approve, or everything if the policy names you an auditor.</p>
<p><a class="button" href="/ui/auth/login?return=${encodeURIComponent(returnTo)}">Sign in with GitLab</a></p>`,
      ),
    );
  });

  app.get<{ Querystring: { return?: string } }>('/ui/auth/login', async (req, reply) => {
    const pkce = createPkce();
    const flow = await sessions.startSignIn({ codeVerifier: pkce.verifier, returnTo: safeReturnTo(req.query.return) });
    setCookie(reply, SIGN_IN, flow.cookie, 600);
    return reply.redirect(opts.oauth.authorizeUrl({ state: flow.state, codeChallenge: pkce.challenge }), 302);
  });

  app.get<{ Querystring: { code?: string; state?: string; error?: string } }>('/ui/auth/callback', async (req, reply) => {
    const jar = cookies(req);
    // the sign-in this browser started, once (its cookie is cleared now): a callback from another
    // browser, a replayed one or one with another state (login CSRF) finds nothing to finish
    const flow = await sessions.openSignIn(jar[SIGN_IN]);
    setCookie(reply, SIGN_IN, '', 0);
    if (!flow || !sameToken(req.query.state, flow.state)) return problemPage(reply, SignInRefused('this sign-in was not started by this browser, or it was already used'));
    if (req.query.error || !req.query.code)
      return problemPage(
        reply,
        SignInRefused(
          `GitLab did not grant access (${String(req.query.error ?? 'no code')
            .slice(0, 64)
            .replace(/[^\w.-]/g, '')})`,
        ),
      );
    let tokens: OAuthTokens;
    let username: string;
    try {
      tokens = await opts.oauth.exchangeCode({ code: req.query.code, codeVerifier: flow.codeVerifier });
      username = (await opts.tokenOwner(tokens.accessToken)).username;
    } catch (err) {
      const e = err as JitError;
      req.log.info({ code: e.code }, 'dashboard sign-in failed');
      return problemPage(reply, e.retriable ? SignInUnavailable(e.code ?? 'no answer') : SignInRefused('GitLab refused the authorization code (expired, already used, or not issued to this sign-in)'));
    }
    // a new session at every sign-in, whatever the browser held before (session fixation)
    // a refresh token keeps the session for its whole TTL; without one it ends with the access token
    const { session, cookie } = await sessions.create({
      ...sessionTokens(tokens, now()),
      username,
      ttlMs: tokens.refreshToken || tokens.expiresIn === undefined ? ttlMs : Math.min(ttlMs, tokens.expiresIn * 1000),
    });
    sessionCookie(reply, session, cookie);
    req.log.info({ username }, 'dashboard sign-in');
    return reply.redirect(flow.returnTo, 303);
  });

  app.post<{ Body: { csrf?: string } | undefined }>('/ui/auth/logout', async (req, reply) => {
    const session = await sessionOf(req);
    const from = req.headers.origin;
    if (!session || (from !== undefined && from !== origin) || !sameToken(req.body?.csrf, session.csrf)) return problemPage(reply, CsrfRefused());
    sessions.destroy(session);
    setCookie(reply, SESSION, '', 0);
    await opts.oauth.revoke(session.token);
    return reply.redirect('/ui/sign-in?signed-out=1', 303);
  });

  app.get(
    '/ui/waiting',
    page(async ({ session, viewer }) => {
      const res = await list(session, { state: 'pending' });
      const ids = (res.body.elevations ?? []).map((e) => e.id).slice(-200);
      const pending = (await Promise.all(ids.map((id) => detail(session, id)))).filter((e): e is Elevation => !!e);
      return layout({ title: 'Waiting for me', current: '/ui/waiting', viewer, refreshSeconds: 15 }, waitingPage({ username: session.username, pending, now: Date.now() }));
    }),
  );

  app.get(
    '/ui/live',
    page(async ({ session, viewer }) => {
      const res = await list(session, { state: 'granted' });
      return layout({ title: 'Live grants', current: '/ui/live', viewer, refreshSeconds: 15 }, livePage({ grants: res.body.elevations ?? [], now: Date.now() }));
    }),
  );

  /** The history's rows for a form's query: the read API's list, or the problems with the query. */
  const history = async (session: Session, q: HistoryQuery) => {
    const { query, problems } = apiQuery(q);
    if (problems.length > 0) return { elevations: [], problems };
    const res = await list(session, query);
    if (res.status !== 200) return { elevations: [], problems: [res.body.message ?? `the read API answered ${res.status}`] };
    return { elevations: res.body.elevations ?? [], problems: [] };
  };
  const historyQuery = (raw: Record<string, unknown>): HistoryQuery => {
    const q: HistoryQuery = {};
    for (const k of ['state', 'target', 'requester', 'since', 'until'] as const) if (typeof raw[k] === 'string' && (raw[k] as string).length <= 255) q[k] = raw[k] as string;
    return q;
  };
  app.get(
    '/ui/history',
    page(async ({ req, session, viewer }) => {
      const q = historyQuery(req.query as Record<string, unknown>);
      const { elevations, problems } = await history(session, q);
      const csvHref = `/ui/history.csv?${new URLSearchParams(Object.entries(q).filter((kv): kv is [string, string] => !!kv[1])).toString()}`;
      return layout({ title: 'History', current: '/ui/history', viewer }, historyPage({ q, elevations, problems, csvHref }));
    }),
  );
  app.get(
    '/ui/history.csv',
    page(async ({ req, reply, session }) => {
      const { elevations, problems } = await history(session, historyQuery(req.query as Record<string, unknown>));
      if (problems.length > 0)
        return reply
          .code(400)
          .type('text/plain; charset=utf-8')
          .send(`${problems.join('; ')}\n`);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="jit-history.csv"').send(historyCsv(elevations));
    }),
  );
  app.get<{ Params: { id: string } }>(
    '/ui/elevations/:id',
    page(async ({ req, reply, session, viewer }) => {
      const id = (req.params as { id: string }).id;
      const e = ELEVATION_ID_PARAM.test(id) ? await detail(session, id) : undefined;
      // not found and not yours look the same, as on the API
      if (!e)
        return sendPage(
          reply,
          404,
          layout({ title: 'No such elevation', current: '/ui/history', viewer }, html`<p>There is no elevation ${id} you may see. <a href="/ui/history">Back to the history</a>.</p>`),
        );
      return layout({ title: `Elevation ${e.id}`, current: '/ui/history', viewer }, elevationPage(e));
    }),
  );
  app.get(
    '/ui/health',
    page(async ({ session, viewer }) => {
      const res = await list(session, { limit: '10000' });
      const elevations = res.body.elevations ?? [];
      // merge→granted needs the approved event's time: the timelines of the latest 50 grants
      const granted = elevations.filter((e) => e.issuedAt).slice(-50);
      const details = (await Promise.all(granted.map((e) => detail(session, e.id)))).filter((e): e is Elevation => !!e);
      const catalog = await readApi<{ version?: string; ratified?: Ratification }>(session, '/v1/catalog');
      const own = catalog.status === 404 && opts.policyInForce ? await opts.policyInForce() : undefined;
      const policy =
        catalog.status === 200
          ? { ...(catalog.body.version ? { version: catalog.body.version } : {}), ...(catalog.body.ratified ? { ratified: catalog.body.ratified } : {}) }
          : catalog.status === 404 && opts.policyInForce
            ? own
              ? { version: own.version, ratified: { ...own, by: [] } }
              : {}
            : undefined;
      return layout({ title: 'Health', current: '/ui/health', viewer }, healthPage({ elevations, details, ...(policy ? { policy } : {}), now: Date.now() }));
    }),
  );
};
