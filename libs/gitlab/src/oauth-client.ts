// jit as an OAuth 2 client of GitLab (docs.gitlab.com/api/oauth2): the authorization code flow
// with PKCE (S256) for the dashboard's sign-in, and token revocation at sign-out. The code
// exchange is tried once only: a code is single use, so a retry after a lost answer could only be
// refused. Codes, verifiers, secrets and tokens are in no URL, error or log line.
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
  scope: string;
}

export interface OAuthClient {
  /** Where the browser is sent to sign in; `state` and the PKCE challenge travel with it. */
  authorizeUrl(p: { state: string; codeChallenge: string }): string;
  exchangeCode(p: { code: string; codeVerifier: string }): Promise<OAuthTokens>;
  /** Best effort (RFC 7009): the caller signs the user out whatever GitLab answers. */
  revoke(token: string): Promise<void>;
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
      const res = await once(
        'oauth/token',
        form({ grant_type: 'authorization_code', client_id: options.clientId, client_secret: options.clientSecret?.(), code, redirect_uri: options.redirectUri, code_verifier: codeVerifier }),
      );
      const body = res.body as { access_token?: unknown; token_type?: unknown; expires_in?: unknown; scope?: unknown };
      if (typeof body?.access_token !== 'string' || !/^bearer$/i.test(String(body.token_type))) throw GitlabBadResponse('POST /oauth/token', 'no bearer access_token');
      return {
        accessToken: body.access_token,
        ...(typeof body.expires_in === 'number' ? { expiresIn: body.expires_in } : {}),
        scope: typeof body.scope === 'string' ? body.scope : '',
      };
    },
    async revoke(token) {
      await once('oauth/revoke', form({ token, client_id: options.clientId, client_secret: options.clientSecret?.() })).catch((err: { code?: string }) =>
        options.logger?.warn({ code: err.code }, 'GitLab did not confirm the revocation of a signed-out session token'),
      );
    },
  };
}
