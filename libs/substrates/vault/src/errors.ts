// Error catalogue of the Vault/OpenBao adapter (JIT_ERR_VAULT_*), documented in docs/errors.md
// under "## substrate-vault". Generic failures use @jit/substrates' codes.
import { defineError } from '@jit/errors';

export const VaultNotFound = defineError<[string, string]>(
  'JIT_ERR_VAULT_NOT_FOUND',
  'vault %s answered 404 to %s: the namespace, mount or API path does not exist on that server, so nothing was changed; fix `addr`, `namespace` or `databaseMount` in the instance configuration',
  { retriable: false, statusCode: 502 },
);

/** jit's own login failed (AppRole, JWT, Kubernetes); `retriable` follows the cause (network, 5xx: yes). */
export const VaultLoginFailed = defineError<[string, string, string, string]>(
  'JIT_ERR_VAULT_LOGIN_FAILED',
  'vault %s: jit could not log in with %s at auth/%s (%s); check the role, the credential file and the auth method configuration (libs/substrates/vault/README.md)',
  { retriable: false, statusCode: 503 },
);

/** A credential file of jit's own login (secret id, service-account token) cannot be read or is empty. */
export const VaultAuthFileUnreadable = defineError<[string, string, string, string]>('JIT_ERR_VAULT_AUTH_FILE', 'vault %s: %s (%s): %s; jit reads it again at its next login', {
  retriable: true,
  statusCode: 503,
});

/** The instance sets both a static token and a login method, or neither (a settings problem at start-up). */
export const VaultAuthConflict = defineError<[string]>('JIT_ERR_VAULT_AUTH_CONFLICT', 'vault %s: set either token (tokenRef) or auth (approle, jwt or kubernetes), exactly one of them', {
  retriable: false,
  statusCode: 500,
});

/** The grant was revoked on this instance; a late issue of it (an issuer replica that lost its partition) is refused. */
export const VaultGrantRevoked = defineError<[string, string]>('JIT_ERR_VAULT_GRANT_REVOKED', 'grant %s was already revoked on vault %s, so it is not issued again; open a new elevation request', {
  retriable: false,
  statusCode: 409,
});

/**
 * Vault refused jit's static token, which is read from a file (`tokenRef: file:`), and the file still
 * holds it. A secret manager may revoke the old token before the mounted file shows the new one
 * (kubelet syncs a secret volume a minute or two later), so the call is retried and the next one
 * reads the file again. A token that stays refused ends the caller's retry budget.
 */
export const VaultCredentialRefused = defineError<[string]>(
  'JIT_ERR_VAULT_CREDENTIAL_REFUSED',
  "vault %s no longer accepts jit's token read from its file (tokenRef: file:); the file may be mid-rotation, so the call is retried with the file's next content — if this persists, put a valid token in the file",
  { retriable: true, statusCode: 503 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const VAULT_ERRORS = [VaultNotFound, VaultLoginFailed, VaultAuthFileUnreadable, VaultAuthConflict, VaultGrantRevoked, VaultCredentialRefused] as const;
