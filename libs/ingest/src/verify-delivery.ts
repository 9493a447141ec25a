// Authentication of a GitLab delivery: the shared `X-Gitlab-Token` (constant-time, several accepted
// for rotation) and/or Standard Webhooks signing (`webhook-signature` over `id.timestamp.body`, GitLab 19+,
// verified with the `standardwebhooks` package, timestamps more than 5 minutes off rejected).
// When both are configured both must pass. Reasons returned are fixed strings: no value ever echoed.
import { hash, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { InvalidConfig } from './errors';

export interface AuthOptions {
  /** Accepted `X-Gitlab-Token` values (several while rotating). */
  tokens?: string[];
  /** Accepted signing tokens, `whsec_<base64 key>` (several while rotating). */
  signingSecrets?: string[];
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export interface DeliveryVerifier {
  readonly tokenRequired: boolean;
  readonly signatureRequired: boolean;
  checkToken(header: string | string[] | undefined): VerifyResult;
  checkSignature(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): VerifyResult;
}

// One-shot hashing (no Hash object per request): the hot path of every delivery.
const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

export function createDeliveryVerifier(options: AuthOptions): DeliveryVerifier {
  const tokens = (options.tokens ?? []).map((t, i) => {
    if (typeof t !== 'string' || t.length === 0) throw InvalidConfig(`auth.tokens[${i}] is empty`);
    return digest(t);
  });
  const hooks = (options.signingSecrets ?? []).map((s, i) => {
    if (typeof s !== 'string' || !s.startsWith('whsec_')) {
      throw InvalidConfig(`auth.signingSecrets[${i}] must be a whsec_<base64> signing token`);
    }
    try {
      return new Webhook(s);
    } catch {
      throw InvalidConfig(`auth.signingSecrets[${i}] is not valid base64 after the whsec_ prefix`);
    }
  });
  if (tokens.length === 0 && hooks.length === 0) {
    throw InvalidConfig('configure at least one secret token or signing token; an unauthenticated webhook endpoint is refused');
  }

  return {
    tokenRequired: tokens.length > 0,
    signatureRequired: hooks.length > 0,

    checkToken(header) {
      if (tokens.length === 0) return { ok: true };
      if (typeof header !== 'string' || header.length === 0) return { ok: false, reason: 'X-Gitlab-Token missing' };
      // Equal-length digests, and every accepted token compared, so timing says nothing about which or how close.
      const given = digest(header);
      let match = false;
      for (const t of tokens) match = timingSafeEqual(given, t) || match;
      return match ? { ok: true } : { ok: false, reason: 'X-Gitlab-Token does not match' };
    },

    checkSignature(rawBody, headers) {
      if (hooks.length === 0) return { ok: true };
      const id = headers['webhook-id'];
      const timestamp = headers['webhook-timestamp'];
      const signature = headers['webhook-signature'];
      if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string') {
        return { ok: false, reason: 'webhook-id, webhook-timestamp or webhook-signature missing' };
      }
      if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not unix seconds' };
      const wanted = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
      let reason = 'webhook-signature does not match';
      for (const hook of hooks) {
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
