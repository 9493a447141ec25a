// GitLab as an OAuth 2 provider (doorkeeper as GitLab configures it): registered applications,
// authorization codes (single use, 10 minutes, bound to client, redirect URI and PKCE challenge),
// access tokens (2 hours, as GitLab issues them) and their refresh tokens (no expiry, single use:
// a refresh revokes the old pair and answers a new one, as doorkeeper does for GitLab; revoking
// either token of a pair revokes both). Kept in memory only: an OAuth token is a short-lived
// session credential, and a restarted sandbox simply asks its users to sign in again.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface OAuthApplication {
  id: number;
  /** `client_id` (GitLab's "Application ID"). */
  uid: string;
  secret: string;
  name: string;
  /** Exact redirect URIs (GitLab takes one per line). */
  redirectUris: string[];
  scopes: string[];
  confidential: boolean;
}

interface Grant {
  app: OAuthApplication;
  userId: number;
  redirectUri: string;
  scopes: string[];
  challenge?: { value: string; method: 'plain' | 'S256' };
  expiresAt: number;
}

interface AccessToken {
  userId: number;
  appUid: string;
  scopes: string[];
  expiresAt: number;
  refreshToken: string;
}

/** GitLab's token answer (RFC 6749 §5.1). */
export interface IssuedTokens {
  token: string;
  refreshToken: string;
  scopes: string[];
  expiresIn: number;
  createdAt: number;
}

/** doorkeeper's `authorization_code_expires_in` default. */
export const OAUTH_CODE_TTL_SECONDS = 600;
/** GitLab's `access_token_expires_in` (2 hours since GitLab 15.0). */
export const OAUTH_TOKEN_TTL_SECONDS = 7200;

/** The error body doorkeeper answers at /oauth/token (RFC 6749 §5.2). */
export class OAuthError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

const INVALID_GRANT = 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';
const INVALID_CLIENT = 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class OAuthProvider {
  private readonly apps = new Map<string, OAuthApplication>();
  private readonly grants = new Map<string, Grant>();
  private readonly tokens = new Map<string, AccessToken>();
  /** refresh token → its access token */
  private readonly refreshTokens = new Map<string, string>();
  private nextId = 1;

  constructor(private readonly now: () => Date) {}

  addApplication(input: { name: string; redirectUri: string | string[]; scopes: string[]; confidential?: boolean }): OAuthApplication {
    const app: OAuthApplication = {
      id: this.nextId++,
      uid: randomBytes(32).toString('hex'),
      secret: `gloas-${randomBytes(32).toString('hex')}`,
      name: input.name,
      redirectUris: (Array.isArray(input.redirectUri) ? input.redirectUri : input.redirectUri.split(/\s+/)).filter(Boolean),
      scopes: input.scopes,
      confidential: input.confidential ?? true,
    };
    this.apps.set(app.uid, app);
    return app;
  }

  application(clientId: string): OAuthApplication | undefined {
    return this.apps.get(clientId);
  }

  /** A code for `userId`, after the user allowed the application (the sandbox's sign-in form). */
  issueCode(input: Omit<Grant, 'expiresAt'>): string {
    const code = randomBytes(32).toString('hex');
    this.grants.set(code, { ...input, expiresAt: this.now().getTime() + OAUTH_CODE_TTL_SECONDS * 1000 });
    return code;
  }

  /** grant_type=authorization_code: the code is spent whether or not the exchange succeeds. */
  exchangeCode(p: { code: string; clientId: string; clientSecret?: string; redirectUri: string; codeVerifier?: string }): IssuedTokens {
    const app = this.client(p.clientId, p.clientSecret);
    const grant = this.grants.get(p.code);
    this.grants.delete(p.code);
    if (!grant || grant.app.uid !== app.uid || grant.redirectUri !== p.redirectUri || grant.expiresAt <= this.now().getTime()) throw new OAuthError(400, 'invalid_grant', INVALID_GRANT);
    if (grant.challenge) {
      if (!p.codeVerifier) throw new OAuthError(400, 'invalid_request', 'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.');
      const derived = grant.challenge.method === 'S256' ? createHash('sha256').update(p.codeVerifier).digest('base64url') : p.codeVerifier;
      if (!sameSecret(derived, grant.challenge.value)) throw new OAuthError(400, 'invalid_grant', INVALID_GRANT);
    }
    return this.issue(grant.userId, app.uid, grant.scopes);
  }

  /**
   * grant_type=refresh_token: the pair the refresh token belongs to is revoked (its access token
   * too, expired or not) and a new pair answered. A spent, revoked or unknown refresh token, or
   * one of another client, is invalid_grant.
   */
  refresh(p: { refreshToken: string; clientId: string; clientSecret?: string }): IssuedTokens {
    const app = this.client(p.clientId, p.clientSecret);
    const access = this.refreshTokens.get(p.refreshToken);
    const t = access !== undefined ? this.tokens.get(access) : undefined;
    if (!t || t.appUid !== app.uid) throw new OAuthError(400, 'invalid_grant', INVALID_GRANT);
    this.tokens.delete(access!);
    this.refreshTokens.delete(p.refreshToken);
    return this.issue(t.userId, app.uid, t.scopes);
  }

  private client(clientId: string, clientSecret: string | undefined): OAuthApplication {
    const app = this.apps.get(clientId);
    if (!app || (app.confidential && (!clientSecret || !sameSecret(clientSecret, app.secret)))) throw new OAuthError(401, 'invalid_client', INVALID_CLIENT);
    return app;
  }

  private issue(userId: number, appUid: string, scopes: string[]): IssuedTokens {
    const token = randomBytes(32).toString('hex');
    const refreshToken = randomBytes(32).toString('hex');
    const createdAt = Math.floor(this.now().getTime() / 1000);
    this.tokens.set(token, { userId, appUid, scopes, expiresAt: (createdAt + OAUTH_TOKEN_TTL_SECONDS) * 1000, refreshToken });
    this.refreshTokens.set(refreshToken, token);
    return { token, refreshToken, scopes, expiresIn: OAUTH_TOKEN_TTL_SECONDS, createdAt };
  }

  /** The user an unexpired OAuth access token belongs to. */
  userIdOf(token: string): number | undefined {
    const t = this.tokens.get(token);
    // an expired access token stays on record: its refresh token still answers a new pair
    if (!t || t.expiresAt <= this.now().getTime()) return undefined;
    return t.userId;
  }

  /** POST /oauth/revoke: always "done" (RFC 7009 §2.2); an access or refresh token of the client's revokes its whole pair. */
  revoke(token: string, clientId: string): void {
    const access = this.tokens.has(token) ? token : this.refreshTokens.get(token);
    const t = access !== undefined ? this.tokens.get(access) : undefined;
    if (!t || t.appUid !== clientId) return;
    this.tokens.delete(access!);
    this.refreshTokens.delete(t.refreshToken);
  }
}
