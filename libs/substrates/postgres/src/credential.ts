// The postgres credential as its requester opens it (SDK-free: the CLI imports it for `jit exec`).
import { defineCredentialShape } from '@jit/substrates';

export const POSTGRES_CREDENTIAL = defineCredentialShape('postgres', {
  url: ['DATABASE_URL'],
  user: ['PGUSER'],
  password: ['PGPASSWORD'],
  host: ['PGHOST'],
  port: ['PGPORT'],
  database: ['PGDATABASE'],
});
