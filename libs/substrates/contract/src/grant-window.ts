// How long a credential issued now may live: the requested TTL, cut at the grant's absolute expiry
// (`IssueRequest.notAfter`). A late issue — an issuer replica that lost its partition and woke up,
// a retry long after the approval — then never outlives the grant, and one past it creates nothing.
import type { IssueRequest } from './substrate';
import { SubstrateGrantExpired, SubstrateRejected } from './errors';

export interface GrantWindow {
  /** When the credential must stop working: min(at + ttl, notAfter). */
  expiresAt: Date;
  /** Whole seconds from `at` to `expiresAt`, rounded down (a backend TTL never reaches past notAfter); at least 1. */
  seconds: number;
}

/**
 * The window for `req` issued at `at`. Throws JIT_ERR_SUBSTRATE_GRANT_EXPIRED (not retriable) when
 * less than a second is left before `notAfter`, and JIT_ERR_SUBSTRATE_REJECTED for a notAfter that is
 * not a date. Without notAfter (callers outside the issuer), the TTL alone.
 */
export function grantWindow(substrate: string, req: Pick<IssueRequest, 'grantId' | 'ttlSeconds' | 'notAfter'>, at: Date): GrantWindow {
  const ttlEnd = at.getTime() + req.ttlSeconds * 1000;
  if (req.notAfter === undefined) return { expiresAt: new Date(ttlEnd), seconds: req.ttlSeconds };
  const notAfter = typeof req.notAfter === 'string' ? Date.parse(req.notAfter) : NaN;
  if (!Number.isFinite(notAfter)) throw SubstrateRejected(substrate, 'notAfter must be an ISO 8601 date-time');
  const end = Math.min(ttlEnd, notAfter);
  const seconds = Math.floor((end - at.getTime()) / 1000);
  if (seconds < 1) throw SubstrateGrantExpired(substrate, String(req.grantId), new Date(notAfter).toISOString());
  return { expiresAt: new Date(end), seconds };
}
