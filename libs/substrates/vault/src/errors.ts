// Error catalogue of the Vault/OpenBao adapter (JIT_ERR_VAULT_*), documented in docs/errors.md
// under "## substrate-vault". Generic failures use @jit/substrates' codes.
import { defineError } from '@jit/errors';

export const VaultNotFound = defineError<[string, string]>(
  'JIT_ERR_VAULT_NOT_FOUND',
  'vault %s answered 404 to %s: the namespace, mount or API path does not exist on that server, so nothing was changed; fix `addr`, `namespace` or `databaseMount` in the instance configuration',
  { retriable: false, statusCode: 502 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const VAULT_ERRORS = [VaultNotFound] as const;
