export { POSTGRES_KIND, createPostgresSubstrate, postgresConfigSchema, postgresSubstrate, roleNameFor } from './postgres-substrate';
export type { PgPoolClientLike, PgPoolFactory, PgPoolLike, PgQueryable, PostgresConfig, PostgresDeps, PostgresScope, PostgresSubstrate } from './postgres-substrate';
export { MAX_GRANT_LENGTH, parseGrant, renderGrant } from './grant-grammar';
export type { GrantParse, ObjectKind, ParsedGrant, QualifiedName } from './grant-grammar';
export { scramVerifier } from './scram-verifier';
export { POSTGRES_CREDENTIAL } from './credential';
export { POSTGRES_ERRORS, PostgresGrantRevoked, PostgresTlsConflict, PostgresTlsFile, PostgresTlsHostname, PostgresTlsUnavailable, PostgresTlsUntrusted } from './errors';
export { postgresTlsSchema } from './postgres-tls';
export type { PostgresTls } from './postgres-tls';
