// A test double of what GitLab answers about callers (GET /api/v4/user per token, OIDC discovery,
// the JWKS) behind an injected fetch, with an RS256 key that signs CI-ID-token-shaped JWTs. For
// unit tests (no sockets); integration tests use the GitLab sandbox itself.
import { webcrypto } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';

type CryptoKey = webcrypto.CryptoKey;

export interface FakeGitlabIdentity {
  url: string;
  fetch: (req: Request) => Promise<Response>;
  /** Every path fetched, in order (to prove what was and was not asked). */
  calls: string[];
  /** Token → user; delete an entry to revoke the token. */
  tokens: Map<string, { id: number; username: string; bot?: boolean; state?: string }>;
  /** 'up' answers; 'down' fails the connection; a number answers that status to everything. */
  mode: 'up' | 'down' | number;
  /** A CI ID token as GitLab would issue it for the job; `claims` and `header` override. */
  idToken(claims?: Partial<JWTPayload> & Record<string, unknown>, opts?: { expiresIn?: string | number; notBefore?: string | number; key?: CryptoKey; kid?: string }): Promise<string>;
  /** A key GitLab does not publish. */
  strangerKey: CryptoKey;
  /** The published public key as a JWK (for hostile tokens built from it). */
  publicJwk: Record<string, unknown>;
  audience: string;
}

export async function createFakeGitlabIdentity(opts: { url?: string; audience?: string } = {}): Promise<FakeGitlabIdentity> {
  const url = opts.url ?? 'https://gitlab.test';
  const audience = opts.audience ?? 'https://jit.test';
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const stranger = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'gitlab-key-1', use: 'sig', alg: 'RS256' };
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fake: FakeGitlabIdentity = {
    url,
    calls: [],
    tokens: new Map(),
    mode: 'up',
    strangerKey: stranger.privateKey,
    publicJwk,
    audience,
    async fetch(req) {
      const u = new URL(req.url);
      fake.calls.push(u.pathname);
      if (fake.mode === 'down') throw new TypeError('fetch failed');
      if (typeof fake.mode === 'number') return json(fake.mode, { message: 'unavailable' });
      if (u.pathname === '/api/v4/user') {
        const auth = req.headers.get('authorization') ?? '';
        const user = fake.tokens.get(auth.replace(/^Bearer /, ''));
        return user ? json(200, { ...user, bot: user.bot ?? false, state: user.state ?? 'active' }) : json(401, { message: '401 Unauthorized' });
      }
      if (u.pathname === '/.well-known/openid-configuration') return json(200, { issuer: url, jwks_uri: `${url}/oauth/discovery/keys`, id_token_signing_alg_values_supported: ['RS256'] });
      if (u.pathname === '/oauth/discovery/keys') return json(200, { keys: [publicJwk] });
      return json(404, { message: '404 Not Found' });
    },
    async idToken(claims = {}, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({
        namespace_id: '7',
        namespace_path: 'apps',
        project_id: '42',
        project_path: 'apps/agent',
        user_id: '5',
        user_login: 'deploy-agent',
        user_email: 'deploy-agent@example.com',
        pipeline_id: '1001',
        pipeline_source: 'push',
        job_id: '2002',
        ref: 'main',
        ref_type: 'branch',
        ref_protected: 'true',
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: o.kid ?? 'gitlab-key-1' })
        .setIssuer(typeof claims.iss === 'string' ? claims.iss : url)
        .setAudience((claims.aud as string | undefined) ?? audience)
        .setSubject('project_path:apps/agent:ref_type:branch:ref:main')
        .setIssuedAt(now - 5)
        .setNotBefore(o.notBefore ?? now - 5)
        .setExpirationTime(o.expiresIn ?? '5m')
        .setJti(`jti-${Math.random().toString(36).slice(2)}`);
      return jwt.sign(o.key ?? privateKey);
    },
  };
  return fake;
}
