// PostgreSQL substrate: a login role `jit_<grant>` per grant with the scope's GRANTs, found again
// by name and by its role comment; revoke = NOLOGIN, terminate its sessions, neutralise what it
// left behind, REASSIGN OWNED to a powerless owner, DROP OWNED, and keep the role as the grant's
// tombstone (NOLOGIN, no password, revokedAt in its comment) so a late issue is refused (ADR 0013). Every admin session runs
// with search_path pg_catalog,pg_temp and every function and relation is written schema-qualified,
// so nothing a grantee creates (e.g. a better-matching public.hashtextextended) runs as jit's admin.
// This file composes the instance; README.md says which file owns what.
import { defineSubstrate, type Problem, type SubstrateDeps } from '@jit/substrates';
import { createAdminConnections, type PgContext } from './admin-connections';
import { POSTGRES_KIND, postgresConfigSchema, type PostgresConfig, type PostgresDeps, type PostgresSubstrate } from './postgres-config';
import { checkAdminSetup, checkDefaultIsReadOnly } from './postgres-audit';
import { issueGrant } from './postgres-issue';
import { listIssuedGrants, revokeGrant, verifyGrantRevoked } from './postgres-revoke';
import { grantsOf } from './postgres-scope';
import { tlsFiles } from './postgres-tls';

export function createPostgresSubstrate(config: PostgresConfig, deps: SubstrateDeps & Partial<PostgresDeps>): PostgresSubstrate {
  const name = deps.name;
  const conn = createAdminConnections(config, deps);
  const ctx: PgContext = { name, config, log: deps.logger, now: deps.now ?? (() => new Date()), conn };

  function validateScope(scope: unknown): Problem[] {
    return grantsOf(scope).problems;
  }

  return {
    kind: POSTGRES_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,
    validateScope,
    issue: (req) => issueGrant(ctx, req),
    revoke: (handle) => revokeGrant(ctx, handle),
    verifyRevoked: (handle) => verifyGrantRevoked(ctx, handle),
    listIssued: () => listIssuedGrants(ctx),
    checkDefaultIsReadOnly: (defaultUrl?: string) => checkDefaultIsReadOnly(ctx, defaultUrl),
    checkSetup: () => checkAdminSetup(ctx),
    close: () => conn.close(),
  };
}

/** The registration: `registry.register(postgresSubstrate); registry.configure('postgres:orders', config)`. */
export const postgresSubstrate = defineSubstrate<PostgresConfig, PostgresDeps>({
  kind: POSTGRES_KIND,
  configSchema: postgresConfigSchema,
  credentialFiles: (c) => tlsFiles(c.tls),
  facts: (c) => ({ validateScope: (scope) => grantsOf(scope).problems, ...(c.maxTtlSeconds ? { maxTtlSeconds: c.maxTtlSeconds } : {}) }),
  create: createPostgresSubstrate,
});
