// The vault credential as its requester opens it (SDK-free: the CLI imports it for `jit exec`):
// a token (mode token) or a database secrets engine login (mode database, `url` when the scope
// names a loginUrl; PostgreSQL's variables, the usual engine behind it).
import { defineCredentialShape } from '@jit/substrates';

export const VAULT_CREDENTIAL = defineCredentialShape('vault', {
  token: ['VAULT_TOKEN'],
  accessor: [],
  username: ['PGUSER'],
  password: ['PGPASSWORD'],
  url: ['DATABASE_URL'],
});
