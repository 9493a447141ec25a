// Server-side state of the dashboard: sign-ins under way (state, PKCE verifier, return path; ten
// minutes, single use) and sessions (the user's GitLab token, never sent to the browser). The
// browser holds only a random 256-bit id for each, in an HttpOnly cookie. Both live in this
// process's memory (lru-cache, bounded): a restart signs everyone out, which is the safe failure.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface PendingSignIn {
  state: string;
  codeVerifier: string;
  returnTo: string;
}

export interface Session {
  id: string;
  /** The GitLab OAuth token the read API is called with. */
  token: string;
  username: string;
  /** The anti-forgery token of this session's forms (sign-out). */
  csrf: string;
  expiresAt: number;
}

export interface SessionStore {
  startSignIn(p: Omit<PendingSignIn, 'state'>): { id: string; state: string };
  /** The sign-in started with cookie `id`, once: a second call finds nothing. */
  takeSignIn(id: string | undefined): PendingSignIn | undefined;
  create(p: { token: string; username: string; ttlMs: number }): Session;
  get(id: string | undefined): Session | undefined;
  destroy(id: string | undefined): Session | undefined;
}

const newId = () => randomBytes(32).toString('base64url');

export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSessionStore(options: { maxSessions?: number; signInTtlMs?: number; now?: () => number } = {}): SessionStore {
  const now = options.now ?? Date.now;
  const pending = new LRUCache<string, PendingSignIn>({ max: 10_000, ttl: options.signInTtlMs ?? 600_000 });
  const sessions = new LRUCache<string, Session>({ max: options.maxSessions ?? 10_000 });
  return {
    startSignIn(p) {
      const id = newId();
      const state = newId();
      pending.set(id, { ...p, state });
      return { id, state };
    },
    takeSignIn(id) {
      if (!id) return undefined;
      const p = pending.get(id);
      pending.delete(id);
      return p;
    },
    create({ token, username, ttlMs }) {
      const s: Session = { id: newId(), token, username, csrf: newId(), expiresAt: now() + ttlMs };
      sessions.set(s.id, s, { ttl: ttlMs });
      return s;
    },
    get(id) {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (s && s.expiresAt <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return s;
    },
    destroy(id) {
      if (!id) return undefined;
      const s = sessions.get(id);
      sessions.delete(id);
      return s;
    },
  };
}
