// GitLab as an OAuth 2 provider (doorkeeper as GitLab configures it): registered applications,
// authorization codes (single use, 10 minutes, bound to client, redirect URI and PKCE challenge)
// and access tokens (2 hours, as GitLab issues them). Kept in memory only: an OAuth token is a
// short-lived session credential, and a restarted sandbox simply asks its users to sign in again.
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

const INVALID_GRANT =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';
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
  exchangeCode(p: { code: string; clientId: string; clientSecret?: string; redirectUri: string; codeVerifier?: string }): {
    token: string;
    scopes: string[];
    expiresIn: number;
    createdAt: number;
  } {
    const app = this.apps.get(p.clientId);
    if (!app || (app.confidential && (!p.clientSecret || !sameSecret(p.clientSecret, app.secret)))) throw new OAuthError(401, 'invalid_client', INVALID_CLIENT);
    const grant = this.grants.get(p.code);
    this.grants.delete(p.code);
    if (!grant || grant.app.uid !== app.uid || grant.redirectUri !== p.redirectUri || grant.expiresAt <= this.now().getTime()) throw new OAuthError(400, 'invalid_grant', INVALID_GRANT);
    if (grant.challenge) {
      if (!p.codeVerifier) throw new OAuthError(400, 'invalid_request', 'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.');
      const derived = grant.challenge.method === 'S256' ? createHash('sha256').update(p.codeVerifier).digest('base64url') : p.codeVerifier;
      if (!sameSecret(derived, grant.challenge.value)) throw new OAuthError(400, 'invalid_grant', INVALID_GRANT);
    }
    const token = randomBytes(32).toString('hex');
    const createdAt = Math.floor(this.now().getTime() / 1000);
    this.tokens.set(token, { userId: grant.userId, appUid: app.uid, scopes: grant.scopes, expiresAt: (createdAt + OAUTH_TOKEN_TTL_SECONDS) * 1000 });
    return { token, scopes: grant.scopes, expiresIn: OAUTH_TOKEN_TTL_SECONDS, createdAt };
  }

  /** The user an unexpired OAuth access token belongs to. */
  userIdOf(token: string): number | undefined {
    const t = this.tokens.get(token);
    if (!t) return undefined;
    if (t.expiresAt <= this.now().getTime()) {
      this.tokens.delete(token);
      return undefined;
    }
    return t.userId;
  }

  /** POST /oauth/revoke: always "done" (RFC 7009 §2.2), the token gone when it was the client's. */
  revoke(token: string, clientId: string): void {
    const t = this.tokens.get(token);
    if (t && t.appUid === clientId) this.tokens.delete(token);
  }
}
