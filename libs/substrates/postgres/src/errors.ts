// Error catalogue of the PostgreSQL adapter (JIT_ERR_POSTGRES_*), documented in docs/errors.md under
// "## substrate-postgres": TLS to the target. Other failures use @jit/substrates' codes.
import { defineError } from '@jit/errors';

export const PostgresTlsUntrusted = defineError<[string, string, string]>(
  'JIT_ERR_POSTGRES_TLS_UNTRUSTED',
  'postgres %s: the server %s presented a certificate the configured CA does not trust (%s); set tls.caFile to the CA bundle that signed the server certificate',
  { retriable: false, statusCode: 502 },
);

export const PostgresTlsHostname = defineError<[string, string]>(
  'JIT_ERR_POSTGRES_TLS_HOSTNAME',
  'postgres %s: the server certificate does not name %s, the host jit connects to (tls.mode verify-full); connect by a name the certificate lists, or reissue it with this one',
  { retriable: false, statusCode: 502 },
);

export const PostgresTlsUnavailable = defineError<[string, string]>(
  'JIT_ERR_POSTGRES_TLS_UNAVAILABLE',
  'postgres %s: the server %s does not offer TLS and tls is configured, so jit does not connect in plaintext; turn ssl on at the server',
  { retriable: false, statusCode: 502 },
);

export const PostgresTlsFile = defineError<[string, string, string]>(
  'JIT_ERR_POSTGRES_TLS_FILE',
  'postgres %s: %s cannot be read (%s); mount the file readable by jit, it is read again at the next connection',
  { retriable: true, statusCode: 503 },
);

/** A settings problem at start-up: the configured URLs carry their own ssl parameters, or a client certificate without its key. */
export const PostgresTlsConflict = defineError<[string, string]>('JIT_ERR_POSTGRES_TLS_CONFLICT', 'postgres %s: %s', { retriable: false, statusCode: 500 });

/**
 * The grant was revoked on this server (its role is kept NOLOGIN as the grant's tombstone, or a
 * revoke of it is under way): a late issue of it — an issuer replica that lost its partition and
 * woke after the revoke — is refused, and nothing that logs in is created or kept.
 */
export const PostgresGrantRevoked = defineError<[string, string, string]>(
  'JIT_ERR_POSTGRES_GRANT_REVOKED',
  'postgres %s: grant %s was already revoked on %s, so it is not issued again; open a new elevation request',
  { retriable: false, statusCode: 409 },
);

/**
 * The server refused the admin login while the admin URL comes from a file (`adminUrlRef: file:`). A
 * secret manager rotates the role's password first and the mounted file after it (kubelet syncs a
 * secret volume up to a minute or two later), so a refusal in that gap is retried: the next
 * connection reads the file again. A password that stays wrong ends the caller's retry budget.
 */
export const PostgresCredentialRefused = defineError<[string, string]>(
  'JIT_ERR_POSTGRES_CREDENTIAL_REFUSED',
  "postgres %s: the server refused the admin credential at login (%s); it is read from a file, which may be mid-rotation, so the call is retried with the file's next content — if this persists, put the role's current password in the file",
  { retriable: true, statusCode: 503 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const POSTGRES_ERRORS = [PostgresTlsUntrusted, PostgresTlsHostname, PostgresTlsUnavailable, PostgresTlsFile, PostgresTlsConflict, PostgresGrantRevoked, PostgresCredentialRefused] as const;
