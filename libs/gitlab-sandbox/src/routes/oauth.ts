// GitLab's OAuth 2 provider endpoints (docs.gitlab.com/api/oauth2): the authorization code flow
// with PKCE (`GET/POST /oauth/authorize`, `POST /oauth/token` with `grant_type` authorization_code
// or refresh_token), token revocation (`/oauth/revoke`)
// and the admin applications API (`POST /api/v4/applications`). Where GitLab shows its sign-in and
// "Authorize" pages, the sandbox shows one form that asks which user signs in (the sandbox has no
// passwords: it is a stand-in bound to loopback). Invalid client or redirect URI: an error page,
// never a redirect (doorkeeper); other errors go back to the client's redirect URI.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forbidden } from '../http-error';
import { OAuthError, type IssuedTokens, type OAuthApplication } from '../oauth';
import { bool, needUser, params, str, type Params, type RouteContext } from './context';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · GitLab sandbox</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

interface AuthorizeRequest {
  app: OAuthApplication;
  redirectUri: string;
  state?: string;
  scopes: string[];
  challenge?: { value: string; method: 'plain' | 'S256' };
}

class RedirectError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

function sendPage(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'")
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(page(title, body));
}

export function oauthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state, oauth } = ctx;

  /** Client and redirect URI checked first: when either is wrong nothing may be sent to that URI. */
  const readAuthorize = (p: Params): AuthorizeRequest | { page: string } => {
    const client = oauth.application(str(p, 'client_id', { max: 255 }) ?? '');
    if (!client) return { page: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.' };
    const redirectUri = str(p, 'redirect_uri', { max: 2048 }) ?? '';
    if (!client.redirectUris.includes(redirectUri)) return { page: 'The redirect URI included is not valid.' };
    return { app: client, redirectUri, scopes: [] };
  };
  const checkAuthorize = (p: Params, req: AuthorizeRequest): AuthorizeRequest => {
    const st = str(p, 'state', { max: 2048 });
    const out: AuthorizeRequest = { ...req, ...(st !== undefined ? { state: st } : {}) };
    if (str(p, 'response_type') !== 'code') throw Object.assign(new RedirectError('unsupported_response_type', 'The authorization server does not support this response type.'), { out });
    const scopes = (str(p, 'scope', { max: 1024 }) ?? req.app.scopes.join(' ')).split(/\s+/).filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !req.app.scopes.includes(s)))
      throw Object.assign(new RedirectError('invalid_scope', 'The requested scope is invalid, unknown, or malformed.'), { out });
    out.scopes = scopes;
    const challenge = str(p, 'code_challenge', { max: 128 });
    const method = str(p, 'code_challenge_method') ?? (challenge ? 'plain' : undefined);
    if (challenge !== undefined) {
      if (method !== 'plain' && method !== 'S256') throw Object.assign(new RedirectError('invalid_request', 'Code challenge method is not supported.'), { out });
      out.challenge = { value: challenge, method };
    }
    return out;
  };
  const back = (req: AuthorizeRequest, q: Record<string, string>): string => {
    const u = new URL(req.redirectUri);
    for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
    if (req.state !== undefined) u.searchParams.set('state', req.state);
    return u.toString();
  };
  const authorize = (handle: (req: AuthorizeRequest, p: Params, reply: FastifyReply) => FastifyReply) => async (r: FastifyRequest, reply: FastifyReply) => {
    const p = params(r);
    const first = readAuthorize(p);
    if ('page' in first) return sendPage(reply, 400, 'An error has occurred', `<p>${escapeHtml(first.page)}</p>`);
    let checked: AuthorizeRequest;
    try {
      checked = checkAuthorize(p, first);
    } catch (err) {
      if (!(err instanceof RedirectError)) throw err;
      return reply.redirect(back((err as RedirectError & { out: AuthorizeRequest }).out, { error: err.error, error_description: err.description }), 302);
    }
    return handle(checked, p, reply);
  };

  app.get(
    '/oauth/authorize',
    authorize((req, p, reply) => {
      const hidden = ['client_id', 'redirect_uri', 'response_type', 'state', 'scope', 'code_challenge', 'code_challenge_method']
        .map((k) => [k, str(p, k, { max: 2048 })] as const)
        .filter((kv): kv is readonly [string, string] => kv[1] !== undefined)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`)
        .join('');
      return sendPage(
        reply,
        200,
        `Authorize ${req.app.name}`,
        `<p>${escapeHtml(req.app.name)} asks to use your account (scopes: ${escapeHtml(req.scopes.join(', '))}).</p>` +
          `<form method="post" action="/oauth/authorize">${hidden}<label for="username">Username</label> <input id="username" name="username" autocomplete="username" required> <button type="submit">Authorize</button></form>`,
      );
    }),
  );

  app.post(
    '/oauth/authorize',
    authorize((req, p, reply) => {
      const username = str(p, 'username', { max: 255 }) ?? '';
      const user = state.userByUsername(username);
      // bots and blocked users cannot sign in to GitLab's web UI
      if (!user || user.state !== 'active' || user.bot) return sendPage(reply, 401, 'Invalid login or password.', '<p>Invalid login or password.</p>');
      const code = oauth.issueCode({ app: req.app, userId: user.id, redirectUri: req.redirectUri, scopes: req.scopes, ...(req.challenge ? { challenge: req.challenge } : {}) });
      return reply.redirect(back(req, { code }), 302);
    }),
  );

  const clientOf = (r: FastifyRequest, p: Params): { id: string; secret?: string } => {
    const basic = /^Basic\s+(\S+)$/i.exec(r.headers.authorization ?? '');
    if (basic) {
      const [id, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      return { id: decodeURIComponent(id ?? ''), secret: decodeURIComponent(rest.join(':')) };
    }
    const secret = str(p, 'client_secret', { max: 255 });
    return { id: str(p, 'client_id', { max: 255 }) ?? '', ...(secret !== undefined ? { secret } : {}) };
  };

  app.post('/oauth/token', async (r, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const p = params(r);
    try {
      const grantType = str(p, 'grant_type');
      const client = clientOf(r, p);
      const secret = client.secret !== undefined ? { clientSecret: client.secret } : {};
      let t: IssuedTokens;
      if (grantType === 'authorization_code') {
        const verifier = str(p, 'code_verifier', { max: 128 });
        t = oauth.exchangeCode({
          code: str(p, 'code', { max: 255 }) ?? '',
          clientId: client.id,
          ...secret,
          redirectUri: str(p, 'redirect_uri', { max: 2048 }) ?? '',
          ...(verifier !== undefined ? { codeVerifier: verifier } : {}),
        });
      } else if (grantType === 'refresh_token') {
        // doorkeeper reads neither redirect_uri nor code_verifier on a refresh (GitLab's docs send them)
        t = oauth.refresh({ refreshToken: str(p, 'refresh_token', { max: 255 }) ?? '', clientId: client.id, ...secret });
      } else throw new OAuthError(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
      return { access_token: t.token, token_type: 'Bearer', expires_in: t.expiresIn, refresh_token: t.refreshToken, scope: t.scopes.join(' '), created_at: t.createdAt };
    } catch (err) {
      if (err instanceof OAuthError) return reply.code(err.statusCode).send({ error: err.error, error_description: err.description });
      throw err;
    }
  });

  app.post('/oauth/revoke', async (r, reply) => {
    const p = params(r);
    const token = str(p, 'token', { max: 255 });
    if (token) oauth.revoke(token, clientOf(r, p).id);
    return reply.code(200).send({});
  });

  // Admin: register an instance-wide application (GitLab's Applications API).
  app.post('/api/v4/applications', async (r, reply) => {
    const admin = needUser(ctx, r);
    if (!admin.admin) throw forbidden();
    const p = params(r);
    const created = oauth.addApplication({
      name: str(p, 'name', { required: true, max: 255 })!,
      redirectUri: str(p, 'redirect_uri', { required: true, max: 4096 })!,
      scopes: (str(p, 'scopes', { required: true, max: 1024 }) ?? '').split(/\s+/).filter(Boolean),
      confidential: bool(p, 'confidential') ?? true,
    });
    return reply.code(201).send({
      id: created.id,
      application_id: created.uid,
      application_name: created.name,
      secret: created.secret,
      callback_url: created.redirectUris.join('\n'),
      confidential: created.confidential,
    });
  });
}
