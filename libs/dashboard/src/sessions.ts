// The dashboard's state, sealed into the browser's cookies so that any replica holding the key can
// open it (ADR 0011): a sign-in under way (state, PKCE verifier, return path; ten minutes) and a
// session (the user's GitLab OAuth tokens, their expiry, the username and the session's
// anti-forgery token). Each is a JWE (jose: `dir` + A256GCM, compact, the key's id in the header):
// encrypted and authenticated, so the browser can neither read the token nor change a byte
// unnoticed. Keys come from JIT_UI_SESSION_KEY(_FILE): the first seals, every one opens (rotation).
// A sign-out is remembered by this process until the session would have ended; another replica
// refuses the replayed cookie when GitLab refuses its revoked token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { SessionTooLarge } from './errors';

export interface PendingSignIn {
  state: string;
  codeVerifier: string;
  returnTo: string;
}

export interface Session {
  /** The session's own id (the JWE's `jti`): a sign-out forgets it. */
  id: string;
  /** The GitLab OAuth access token the read API is called with. */
  token: string;
  /** GitLab's refresh token for it, when GitLab gave one. */
  refreshToken?: string;
  /** When the access token expires (ms since the epoch), when GitLab said. */
  tokenExpiresAt?: number;
  username: string;
  /** The anti-forgery token of this session's forms (sign-out). */
  csrf: string;
  /** When the session ends whatever the tokens say (JIT_UI_SESSION_TTL_MS after sign-in). */
  expiresAt: number;
}

export interface SessionSealer {
  /** A sealed sign-in (ten minutes) and its state, for the cookie and the authorize URL. */
  startSignIn(p: Omit<PendingSignIn, 'state'>): Promise<{ cookie: string; state: string }>;
  /** The sign-in a cookie holds, if it opens, is unexpired and was sealed as a sign-in. */
  openSignIn(cookie: string | undefined): Promise<PendingSignIn | undefined>;
  /** A new session (new id, new anti-forgery token), sealed. */
  create(p: { token: string; refreshToken?: string; tokenExpiresAt?: number; username: string; ttlMs: number }): Promise<{ session: Session; cookie: string }>;
  /** The same session with new tokens (a refresh), sealed again with the current key. */
  reseal(s: Session): Promise<string>;
  get(cookie: string | undefined): Promise<Session | undefined>;
  /** Signs a session out here: its cookie no longer opens in this process. */
  destroy(s: Session): void;
}

/** Bytes a cookie's name and value may take (RFC 6265 §6.1: browsers keep at least 4096 per cookie, attributes included). */
export const MAX_COOKIE_BYTES = 3800;

const newId = () => randomBytes(32).toString('base64url');

export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A key's id in the JWE header: a digest, so it says nothing of the key and picks it without trial decryption. */
function keyId(key: Uint8Array): string {
  return createHash('sha256').update('jit-ui-session-key').update(key).digest('base64url').slice(0, 16);
}

interface Keyring {
  sealing: { kid: string; key: Uint8Array };
  byId: Map<string, Uint8Array>;
}

const SIGN_IN = 'jit-ui-sign-in';
const SESSION = 'jit-ui-session';

export interface SessionSealerOptions {
  /** The keys (32 bytes each, base64 or base64url), first one sealing; read at every use (rotation). */
  keys: () => readonly string[];
  signInTtlMs?: number;
  /** Sign-outs remembered at once (bounded; the oldest go first). */
  maxSignedOut?: number;
  now?: () => number;
}

export function createSessionSealer(options: SessionSealerOptions): SessionSealer {
  const now = options.now ?? Date.now;
  const signInTtlMs = options.signInTtlMs ?? 600_000;
  const signedOut = new LRUCache<string, true>({ max: options.maxSignedOut ?? 100_000 });
  let cached: { from: readonly string[]; ring: Keyring } | undefined;
  const keyring = (): Keyring => {
    const from = options.keys();
    if (cached?.from === from) return cached.ring;
    const keys = from.map((k) => new Uint8Array(Buffer.from(k, 'base64url')));
    if (keys.length === 0 || keys.some((k) => k.length !== 32)) throw new Error('the dashboard session keys must be 32 bytes each');
    const ring = { sealing: { kid: keyId(keys[0]!), key: keys[0]! }, byId: new Map(keys.map((k) => [keyId(k), k])) };
    cached = { from, ring };
    return ring;
  };
  const seal = async (purpose: string, claims: JWTPayload, expiresAtMs: number): Promise<string> => {
    const { kid, key } = keyring().sealing;
    const jwe = await new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
      .setAudience(purpose)
      .setIssuedAt(Math.floor(now() / 1000))
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .encrypt(key);
    if (jwe.length > MAX_COOKIE_BYTES) throw SessionTooLarge(jwe.length);
    return jwe;
  };
  const open = async (purpose: string, cookie: string | undefined): Promise<JWTPayload | undefined> => {
    if (!cookie || cookie.length > MAX_COOKIE_BYTES) return undefined;
    try {
      const { byId } = keyring();
      const { payload } = await jwtDecrypt(
        cookie,
        (header) => {
          // a kid that names no key of the ring is refused: never a fallback key (a constant key opens forgeries)
          const key = typeof header.kid === 'string' ? byId.get(header.kid) : undefined;
          if (!key) throw new Error('unknown session key');
          return key;
        },
        {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          audience: purpose,
          currentDate: new Date(now()),
          requiredClaims: ['exp'],
        },
      );
      return payload;
    } catch {
      // not ours, altered, another key, another purpose or expired: no session, whatever the cause
      return undefined;
    }
  };
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const sealSession = (s: Session) =>
    seal(
      SESSION,
      {
        jti: s.id,
        sub: s.username,
        tok: s.token,
        csrf: s.csrf,
        ...(s.refreshToken ? { rt: s.refreshToken } : {}),
        ...(s.tokenExpiresAt !== undefined ? { tex: s.tokenExpiresAt } : {}),
        sex: s.expiresAt,
      },
      s.expiresAt,
    );

  return {
    async startSignIn(p) {
      const state = newId();
      return { state, cookie: await seal(SIGN_IN, { jti: newId(), st: state, cv: p.codeVerifier, rt: p.returnTo }, now() + signInTtlMs) };
    },
    async openSignIn(cookie) {
      const c = await open(SIGN_IN, cookie);
      const state = str(c?.['st']);
      const codeVerifier = str(c?.['cv']);
      const returnTo = str(c?.['rt']);
      return state && codeVerifier && returnTo ? { state, codeVerifier, returnTo } : undefined;
    },
    async create({ token, refreshToken, tokenExpiresAt, username, ttlMs }) {
      const session: Session = {
        id: newId(),
        token,
        ...(refreshToken ? { refreshToken } : {}),
        ...(tokenExpiresAt !== undefined ? { tokenExpiresAt } : {}),
        username,
        csrf: newId(),
        expiresAt: now() + ttlMs,
      };
      return { session, cookie: await sealSession(session) };
    },
    reseal: sealSession,
    async get(cookie) {
      const c = await open(SESSION, cookie);
      const id = str(c?.jti);
      const token = str(c?.['tok']);
      const username = str(c?.sub);
      const csrf = str(c?.['csrf']);
      const expiresAt = num(c?.['sex']);
      if (!id || !token || !username || !csrf || expiresAt === undefined || expiresAt <= now() || signedOut.has(id)) return undefined;
      const refreshToken = str(c?.['rt']);
      const tokenExpiresAt = num(c?.['tex']);
      return { id, token, username, csrf, expiresAt, ...(refreshToken ? { refreshToken } : {}), ...(tokenExpiresAt !== undefined ? { tokenExpiresAt } : {}) };
    },
    destroy(s) {
      signedOut.set(s.id, true, { ttl: Math.max(1, s.expiresAt - now()) });
    },
  };
}

/** A key for a process that was given none (the all-in-one): its sessions end when it stops. */
export function ephemeralSessionKey(): string {
  return randomBytes(32).toString('base64url');
}
