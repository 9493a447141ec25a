// Authentication of a GitLab delivery: the shared `X-Gitlab-Token` (constant-time, several accepted
// for rotation) and/or Standard Webhooks signing (`webhook-signature` over `id.timestamp.body`, GitLab 19+,
// verified with the `standardwebhooks` package, timestamps more than 5 minutes off rejected).
// When both are configured both must pass. Reasons returned are fixed strings: no value ever echoed.
// Either can be rotated while running (a live source: X_FILE re-read); the values a rotation
// replaced stay accepted for a grace window, so deliveries already signed with them are not lost.
import { hash, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { InvalidConfig } from './errors';

/** A secret that can be rotated while the intake runs (`SecretFeed` of @jit/service: X_FILE re-read). */
export interface RotatingSecret<T> {
  current(): T;
  onChange(listener: (value: T) => void): () => void;
}

export interface AuthOptions {
  /** Accepted `X-Gitlab-Token` values (several while rotating), or a live source of them. */
  tokens?: string[] | RotatingSecret<string[]>;
  /** Accepted signing tokens, `whsec_<base64 key>` (several while rotating), or a live source of them. */
  signingSecrets?: string[] | RotatingSecret<string[]>;
  /**
   * How long the values a rotation replaced are still accepted, so deliveries GitLab signed (or
   * queued for retry) with the old secret are not lost. Default 10 minutes.
   */
  graceMs?: number;
  /** Clock for the grace window (tests). */
  now?: () => number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export interface DeliveryVerifier {
  readonly tokenRequired: boolean;
  readonly signatureRequired: boolean;
  checkToken(header: string | string[] | undefined): VerifyResult;
  checkSignature(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): VerifyResult;
  /**
   * Puts new values in force; the ones they replace stay accepted for the grace window. Throws
   * InvalidConfig (and changes nothing) for a bad value, or an empty list where one is required.
   */
  rotate(next: { tokens?: string[]; signingSecrets?: string[] }): void;
}

export const DEFAULT_SECRET_GRACE_MS = 10 * 60_000;

// One-shot hashing (no Hash object per request): the hot path of every delivery.
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

function tokenDigests(values: readonly string[]): Buffer[] {
  return values.map((t, i) => {
    if (typeof t !== 'string' || t.length === 0) throw InvalidConfig(`auth.tokens[${i}] is empty`);
    return digest(t);
  });
}

function signingHooks(values: readonly string[]): Webhook[] {
  return values.map((s, i) => {
    if (typeof s !== 'string' || !s.startsWith('whsec_')) {
      throw InvalidConfig(`auth.signingSecrets[${i}] must be a whsec_<base64> signing token`);
    }
    try {
      return new Webhook(s);
    } catch {
      throw InvalidConfig(`auth.signingSecrets[${i}] is not valid base64 after the whsec_ prefix`);
    }
  });
}

const valuesOf = (v: string[] | RotatingSecret<string[]> | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : v.current());

/**
 * The values in force and, for `graceMs` after a rotation, the ones it replaced: a check compares
 * against these two sets only, and the expiry is one clock read while a previous set exists.
 */
class Accepted<T> {
  private previous: T[] = [];
  private previousUntil = 0;
  constructor(
    private current: T[],
    private readonly graceMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.current.length;
  }

  all(): T[] {
    if (this.previous.length === 0) return this.current;
    if (this.now() < this.previousUntil) return this.current.concat(this.previous);
    this.previous = [];
    return this.current;
  }

  replace(next: T[]): void {
    this.previous = this.current;
    this.previousUntil = this.now() + this.graceMs;
    this.current = next;
  }
}

export function createDeliveryVerifier(options: AuthOptions): DeliveryVerifier {
  const graceMs = options.graceMs ?? DEFAULT_SECRET_GRACE_MS;
  if (!Number.isInteger(graceMs) || graceMs < 0) throw InvalidConfig('auth.graceMs must be a whole number of milliseconds >= 0');
  const now = options.now ?? Date.now;
  const tokens = new Accepted(tokenDigests(valuesOf(options.tokens)), graceMs, now);
  const hooks = new Accepted(signingHooks(valuesOf(options.signingSecrets)), graceMs, now);
  if (tokens.size === 0 && hooks.size === 0) {
    throw InvalidConfig('configure at least one secret token or signing token; an unauthenticated webhook endpoint is refused');
  }
  // What is required is fixed at start: a rotation never switches a check off.
  const tokenRequired = tokens.size > 0;
  const signatureRequired = hooks.size > 0;

  return {
    tokenRequired,
    signatureRequired,

    rotate(next) {
      const t = next.tokens === undefined ? undefined : tokenDigests(next.tokens);
      const h = next.signingSecrets === undefined ? undefined : signingHooks(next.signingSecrets);
      if (t && t.length === 0 && tokenRequired) throw InvalidConfig('auth.tokens: a rotation cannot remove every secret token');
      if (h && h.length === 0 && signatureRequired) throw InvalidConfig('auth.signingSecrets: a rotation cannot remove every signing token');
      if (t && !tokenRequired && t.length > 0) throw InvalidConfig('auth.tokens: not configured at start; restart to require a secret token');
      if (h && !signatureRequired && h.length > 0) throw InvalidConfig('auth.signingSecrets: not configured at start; restart to require signing');
      if (t) tokens.replace(t);
      if (h) hooks.replace(h);
    },

    checkToken(header) {
      if (!tokenRequired) return { ok: true };
      if (typeof header !== 'string' || header.length === 0) return { ok: false, reason: 'X-Gitlab-Token missing' };
      // Equal-length digests, and every accepted token compared, so timing says nothing about which or how close.
      const given = digest(header);
      let match = false;
      for (const t of tokens.all()) match = timingSafeEqual(given, t) || match;
      return match ? { ok: true } : { ok: false, reason: 'X-Gitlab-Token does not match' };
    },

    checkSignature(rawBody, headers) {
      if (!signatureRequired) return { ok: true };
      const id = headers['webhook-id'];
      const timestamp = headers['webhook-timestamp'];
      const signature = headers['webhook-signature'];
      if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string') {
        return { ok: false, reason: 'webhook-id, webhook-timestamp or webhook-signature missing' };
      }
      if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not unix seconds' };
      const wanted = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
      let reason = 'webhook-signature does not match';
      for (const hook of hooks.all()) {
        try {
          hook.verify(rawBody, wanted, { jsonParse: false });
          return { ok: true };
        } catch (err) {
          // The library's messages are fixed strings ("Message timestamp too old", ...): safe to report.
          if (err instanceof WebhookVerificationError && /timestamp/i.test(err.message)) reason = err.message;
        }
      }
      return { ok: false, reason };
    },
  };
}
