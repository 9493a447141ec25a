// Deterministic resource names derived from a grant id (jit_<grant>, jit-<grant>), so a retried
// issue finds its own work and the orphan sweep recognises what jit created.
import { createHash } from 'node:crypto';

export interface NameAfterGrantOptions {
  /** Fixed prefix, e.g. `jit_` (postgres role) or `jit-` (STS session). */
  prefix: string;
  /** Longest name the backend accepts (63 bytes for a PostgreSQL identifier, 64 for an STS session). */
  maxLength: number;
  /** One character the backend accepts; everything else is replaced. Default /[A-Za-z0-9_-]/. */
  allowed?: RegExp;
  /** Replacement for a disallowed character. Default `_`. */
  replacement?: string;
}

const HASH_LEN = 10;

/**
 * `prefix + grantId` when that is already a valid name; otherwise the sanitised, truncated name
 * with a hash of the raw grant id appended, so distinct grant ids never collide. Same input,
 * same output.
 */
export function nameAfterGrant(grantId: string, opts: NameAfterGrantOptions): string {
  const allowed = opts.allowed ?? /[A-Za-z0-9_-]/;
  const replacement = opts.replacement ?? '_';
  if (opts.maxLength < opts.prefix.length + HASH_LEN + 2) throw new Error('nameAfterGrant: maxLength too small');
  if (grantId.length === 0) throw new Error('nameAfterGrant: empty grant id');
  let changed = false;
  let body = '';
  for (const ch of grantId) {
    if (allowed.test(ch)) body += ch;
    else {
      body += replacement;
      changed = true;
    }
  }
  const plain = opts.prefix + body;
  if (!changed && plain.length <= opts.maxLength) return plain;
  const hash = createHash('sha256').update(grantId).digest('hex').slice(0, HASH_LEN);
  const room = opts.maxLength - opts.prefix.length - HASH_LEN - 1;
  return `${opts.prefix}${body.slice(0, room)}${replacement}${hash}`;
}
