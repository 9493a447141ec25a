// What Vault's answers mean: the HTTP status and Vault's own error strings of a failed call, a copy
// of the error safe to keep (no X-Vault-Token header), and the exact answers that mean "already gone".

export function statusOf(err: unknown): number | undefined {
  const s = (err as { response?: { statusCode?: unknown; status?: unknown } } | null)?.response;
  const v = s?.statusCode ?? s?.status;
  return typeof v === 'number' ? v : undefined;
}

/**
 * A copy of a client error safe to keep as `cause`: axios errors carry the request config with
 * the X-Vault-Token header, so only name, code, status and Vault's own error strings survive.
 */
export function scrub(err: unknown): Error {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; response?: { body?: { errors?: unknown } } };
  const status = statusOf(err);
  const vaultErrors = Array.isArray(e.response?.body?.errors) ? (e.response.body.errors as unknown[]).map(String).join('; ').slice(0, 300) : '';
  const out = new Error(status ? `vault HTTP ${status}${vaultErrors ? `: ${vaultErrors}` : ''}` : `vault client ${String(e.code ?? e.name ?? 'error')}`);
  return Object.assign(out, {
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(status ? { response: { statusCode: status } } : {}),
  });
}

/** Vault's own error strings of a failed call (`{"errors": [...]}`), trimmed. */
export function vaultMessages(err: unknown): string[] {
  const errors = (err as { response?: { body?: { errors?: unknown } } } | null)?.response?.body?.errors;
  return Array.isArray(errors) ? errors.map((m) => String(m).trim()) : [];
}

export const isVaultError = (err: unknown, status: number, text?: RegExp): boolean => statusOf(err) === status && (!text || vaultMessages(err).some((m) => text.test(m)));

/** The calls whose "no such thing" answers mean the credential is already gone. */
export type VaultGoneOperation = 'lookup accessor' | 'revoke accessor' | 'revoke lease' | 'lookup lease';

/**
 * Whether Vault's error answer to `op` says the token or lease no longer exists, which for a
 * revoke is success. Only these exact answers count (checked against OpenBao 2.x and Vault's
 * token store): everything else - a malformed request (400 "missing accessor", "failed to decode
 * JSON"), a denial (403 "permission denied"), an unknown namespace or route (404), a 5xx - stays
 * an error, so a misconfigured instance can never report a live credential as revoked.
 *  - lookup accessor: 400 "invalid accessor" (no accessor index entry: expired and reaped, or
 *    revoked); 403 "bad token" alone (the index entry is still there but the token is past its
 *    expiry or being revoked by Vault's expiration manager, so Vault no longer honours it).
 *  - revoke accessor: 400 "token not found" (same window as "bad token"); 400 "invalid accessor"
 *    (Vault before 1.10; newer servers and OpenBao answer 200 with the warning "No token found
 *    with this accessor", which is success anyway).
 *  - revoke / lookup lease: 400 "invalid lease" or "lease not found" (OpenBao answers 204 to a
 *    revoke of a gone lease; the 400s are older servers and lookups).
 */
export function isGoneAnswer(op: VaultGoneOperation, err: unknown): boolean {
  const status = statusOf(err);
  const messages = vaultMessages(err);
  switch (op) {
    case 'lookup accessor':
      return (status === 400 && messages.some((m) => /\binvalid accessor\b/.test(m))) || (status === 403 && messages.length > 0 && messages.every((m) => m === 'bad token'));
    case 'revoke accessor':
      return status === 400 && messages.some((m) => /\b(?:token not found|invalid accessor)\b/.test(m));
    case 'revoke lease':
    case 'lookup lease':
      return status === 400 && messages.some((m) => /\b(?:invalid lease|lease not found)\b/.test(m));
  }
}
