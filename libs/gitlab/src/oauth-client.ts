// jit as an OAuth 2 client of GitLab (docs.gitlab.com/api/oauth2): the authorization code flow
// with PKCE (S256) for the dashboard's sign-in, the refresh of its access token (GitLab's expire
// after 2 hours), and token revocation at sign-out. The code exchange and the refresh are tried
// once only: a code and a refresh token are single use, so a retry after a lost answer could only
// be refused. Codes, verifiers, secrets and tokens are in no URL, error or log line.
import { createHash, randomBytes } from 'node:crypto';
import { GitlabBadResponse } from './errors';
import { createRequestHandler, type FetchFn } from './requester';
import type { Logger } from '@jit/observability';

export interface OAuthClientOptions {
  /** GitLab base URL as the browser reaches it (no /api/v4). */
  url: string;
  /** The application's id (client_id). */
  clientId: string;
  /** The application's secret (confidential applications), read when needed (rotation). */
  clientSecret?: () => string | undefined;
  /** Exactly as registered with the application. */
  redirectUri: string;
  scopes: string[];
  fetch?: FetchFn;
  timeoutMs?: number;
  logger?: Logger;
}

export interface OAuthTokens {
  accessToken: string;
  /** Seconds the access token lives (GitLab: 7200), when GitLab says. */
  expiresIn?: number;
  /** GitLab's refresh token (single use: a refresh answers a new one). */
  refreshToken?: string;
  scope: string;
}

export interface OAuthClient {
  /** Where the browser is sent to sign in; `state` and the PKCE challenge travel with it. */
  authorizeUrl(p: { state: string; codeChallenge: string }): string;
  exchangeCode(p: { code: string; codeVerifier: string }): Promise<OAuthTokens>;
  /** grant_type=refresh_token: a new access token (and refresh token) for a refresh token; refused (JIT_ERR_GITLAB_FORBIDDEN) once it is revoked or spent. */
  refresh(refreshToken: string): Promise<OAuthTokens>;
  /** Best effort (RFC 7009): the caller signs the user out whatever GitLab answers. */
  revoke(token: string): Promise<void>;
}

/** GitLab's token answer (RFC 6749 §5.1); tokens longer than GitLab ever issues are refused (they go into a cookie). */
function tokens(res: { body: unknown }): OAuthTokens {
  const body = res.body as { access_token?: unknown; token_type?: unknown; expires_in?: unknown; refresh_token?: unknown; scope?: unknown };
  const usable = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;
  if (!usable(body?.access_token) || !/^bearer$/i.test(String(body.token_type))) throw GitlabBadResponse('POST /oauth/token', 'no bearer access_token');
  return {
    accessToken: body.access_token,
    ...(typeof body.expires_in === 'number' && body.expires_in > 0 ? { expiresIn: body.expires_in } : {}),
    ...(usable(body.refresh_token) ? { refreshToken: body.refresh_token } : {}),
    scope: typeof body.scope === 'string' ? body.scope : '',
  };
}

/** A fresh PKCE pair (RFC 7636): 32 random bytes as the verifier, its SHA-256 as the challenge. */
export function createPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function createOAuthClient(options: OAuthClientOptions): OAuthClient {
  const base = options.url.replace(/\/+$/, '');
  const once = createRequestHandler({ fetch: options.fetch, timeoutMs: options.timeoutMs ?? 10_000, retry: { maxAttempts: 1 }, logger: options.logger });
  const form = (fields: Record<string, string | undefined>) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
    return { method: 'POST', prefixUrl: base, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: body.toString() };
  };
  return {
    authorizeUrl({ state, codeChallenge }) {
      const u = new URL(`${base}/oauth/authorize`);
      u.search = new URLSearchParams({
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        response_type: 'code',
        state,
        scope: options.scopes.join(' '),
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      }).toString();
      return u.toString();
    },
    async exchangeCode({ code, codeVerifier }) {
      return tokens(
        await once(
          'oauth/token',
          form({ grant_type: 'authorization_code', client_id: options.clientId, client_secret: options.clientSecret?.(), code, redirect_uri: options.redirectUri, code_verifier: codeVerifier }),
        ),
      );
    },
    async refresh(refreshToken) {
      return tokens(
        await once(
          'oauth/token',
          form({ grant_type: 'refresh_token', client_id: options.clientId, client_secret: options.clientSecret?.(), refresh_token: refreshToken, redirect_uri: options.redirectUri }),
        ),
      );
    },
    async revoke(token) {
      await once('oauth/revoke', form({ token, client_id: options.clientId, client_secret: options.clientSecret?.() })).catch((err: { code?: string }) =>
        options.logger?.warn({ code: err.code }, 'GitLab did not confirm the revocation of a signed-out session token'),
      );
    },
  };
}
