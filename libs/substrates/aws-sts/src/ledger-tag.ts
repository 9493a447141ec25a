// The per-grant ledger kept as one IAM role tag (`jit:<session base>`), because STS cannot list
// sessions: it records the grant id, the attempt count, the grant's expiry, the latest natural
// expiry of any session issued for it, and whether it was revoked.
// Tag values allow letters, digits, spaces and _ . : / = + - @ and at most 256 characters.

export interface LedgerEntry {
  grantId: string;
  attempt: number;
  /** When the grant ends (the revoker's deadline). */
  expiresAt: Date;
  /** Latest natural expiry of any STS session of this grant, plus the skew margin. */
  sessionExpiresAt: Date;
  state: 'issued' | 'revoked';
}

const RAW_GRANT_RE = /^[A-Za-z0-9_.:/=+@-]{1,150}$/;

export function encodeLedger(e: LedgerEntry): string {
  const grant = RAW_GRANT_RE.test(e.grantId) ? `g=${e.grantId}` : `g64=${Buffer.from(e.grantId).toString('base64url')}`;
  return `${grant} n=${e.attempt} exp=${e.expiresAt.toISOString()} nat=${e.sessionExpiresAt.toISOString()} st=${e.state}`;
}

/** undefined when the value is not one of ours (or was altered beyond use). */
export function decodeLedger(value: string | undefined): LedgerEntry | undefined {
  if (typeof value !== 'string' || value.length > 256) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.split(' ')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const g64 = fields.get('g64');
  const grantId = fields.get('g') ?? (g64 !== undefined ? Buffer.from(g64, 'base64url').toString('utf8') : undefined);
  const attempt = Number(fields.get('n'));
  const expiresAt = new Date(fields.get('exp') ?? 'x');
  const sessionExpiresAt = new Date(fields.get('nat') ?? 'x');
  const state = fields.get('st');
  if (!grantId || !Number.isInteger(attempt) || attempt < 1) return undefined;
  if (Number.isNaN(expiresAt.getTime()) || Number.isNaN(sessionExpiresAt.getTime())) return undefined;
  if (state !== 'issued' && state !== 'revoked') return undefined;
  return { grantId, attempt, expiresAt, sessionExpiresAt, state };
}
