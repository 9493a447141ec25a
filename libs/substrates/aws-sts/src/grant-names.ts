// Names derived from a grant id, so a retry and the orphan sweep find what jit created on a role.
// STS session names allow [\w+=,.@-]{2,64}; we keep `.` for the attempt suffix (`jit-<grant>.2`)
// and `,` out (IAM tag keys refuse it), so a base name never contains either.
import { nameAfterGrant } from '@jit/substrates';

/** Highest attempt number a grant may reach (the suffix must fit in the 64-char session name). */
export const MAX_ATTEMPTS = 99;

/** `jit-<grant>`, sanitised, with a hash suffix when it had to change or was too long. */
export function sessionBaseName(grantId: string): string {
  return nameAfterGrant(grantId, { prefix: 'jit-', maxLength: 60, allowed: /[A-Za-z0-9_+=@-]/, replacement: '-' });
}

/** RoleSessionName of one attempt: the base name, then `.<n>` from the second attempt on. */
export function sessionName(base: string, attempt: number): string {
  return attempt <= 1 ? base : `${base}.${attempt}`;
}

/** Name of the inline policy that denies the grant's sessions (`jit-revoke-<grant>`). */
export function denyPolicyName(base: string): string {
  return `jit-revoke-${base.slice('jit-'.length)}`;
}

export const DENY_POLICY_PREFIX = 'jit-revoke-';

/** IAM role tag key of the grant's ledger entry. */
export function ledgerTagKey(base: string): string {
  return `jit:${base}`;
}

export const LEDGER_TAG_PREFIX = 'jit:';

const BASE_RE = /^jit-[A-Za-z0-9_+=@-]{1,56}$/;
export function isSessionBaseName(s: unknown): s is string {
  return typeof s === 'string' && BASE_RE.test(s);
}

/** STS SourceIdentity: [\w+=,.@-]{2,64}, and it may not start with `aws:`. */
export function sourceIdentityFor(requester: string): string {
  let s = requester.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  if (s.length < 2) s = `${s}--`.slice(0, 2);
  return s;
}
