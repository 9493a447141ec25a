// Names derived from a grant id, so a retry and the orphan sweep find what jit created on a role.
// STS session names allow [\w+=,.@-]{2,64}; we keep `.` for the attempt suffix (`jit-<grant>.2`)
// and `,` out (IAM tag keys refuse it), so a base name never contains either.
import { createHash } from 'node:crypto';
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

/** `g` + 16 hex digits of the grant id's SHA-256: fixed length, so `*@<tag>*` reaches no other grant. */
export function grantTag(grantId: string): string {
  return `g${createHash('sha256').update(grantId).digest('hex').slice(0, 16)}`;
}

/**
 * STS SourceIdentity of one attempt: `<requester>@<grant tag>[.<attempt>]`, within
 * [\w+=,.@-]{2,64} and never starting with `aws:`. Unique per grant (and attempt), and it survives
 * role chaining (STS copies it into every session assumed from this one and nobody can change it),
 * so the revoke deny matches on it beside aws:userid. The requester part keeps CloudTrail readable.
 */
export function sourceIdentityFor(requester: string, grantId: string, attempt = 1): string {
  const suffix = `@${grantTag(grantId)}${attempt > 1 ? `.${attempt}` : ''}`;
  const who = requester.replace(/[^\w+=,.-]/g, '-').slice(0, 64 - suffix.length) || '-';
  return `${who}${suffix}`;
}

/** StringLike pattern for aws:SourceIdentity: every attempt of the grant (`<who>@<tag>` and `<who>@<tag>.<n>`). */
export function sourceIdentityPattern(grantId: string): string {
  return `*@${grantTag(grantId)}*`;
}

/** StringLike pattern for aws:SourceIdentity: exactly one attempt of the grant. */
export function sourceIdentityAttemptPattern(grantId: string, attempt: number): string {
  return `*@${grantTag(grantId)}${attempt > 1 ? `.${attempt}` : ''}`;
}
