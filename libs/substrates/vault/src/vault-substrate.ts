// Vault/OpenBao substrate. Every token is created through the operator's token role
// (`auth/token/create/<tokenRole>`, orphan=true): it is not a child of jit's admin token, so it
// inherits neither jit's entity nor its identity policies, and revoking jit's token leaves it alone.
// Every accessor jit creates is listed in a KV v2 index of this deployment, so the orphan sweep and
// the issue retry look only at jit's own tokens (no sudo on auth/token/accessors, no scan of all).
// Two scope modes:
//  - token:    a token with the scope's policies (ttl = explicit_max_ttl = TTL, not renewable,
//              meta.jit_grant), revoked by accessor;
//  - database: dynamic DB credentials read through a per-grant "carrier" token (same TTL and
//              meta), so the lease is attributable to its grant and dies with the carrier at TTL
//              at the latest; revoked by lease, then by the carrier's accessor.
// The admin client is never mutated (node-vault's tokenCreate would swap its token).
// This file composes the instance; README.md says which file owns what.
import { defineSubstrate, type SubstrateDeps } from '@jit/substrates';
import { VAULT_KIND, vaultConfigSchema, type VaultConfig, type VaultDeps, type VaultSubstrate } from './vault-config';
import { vaultAudit } from './vault-audit';
import { vaultIndex } from './vault-index';
import { vaultIssue } from './vault-issue';
import { vaultRevoke } from './vault-revoke';
import { scopeProblems } from './vault-scope';
import { createVaultSession } from './vault-session';

export function createVaultSubstrate(config: VaultConfig, deps: SubstrateDeps & Partial<VaultDeps>): VaultSubstrate {
  const { ctx, auth } = createVaultSession(config, deps);
  const name = ctx.name;
  const idx = vaultIndex(ctx);
  const { reachOf, checkSetup, checkTtl } = vaultAudit(ctx);
  const issue = vaultIssue(ctx, idx, reachOf);
  const { revoke, verifyRevoked, listIssued } = vaultRevoke(ctx, idx);

  return {
    kind: VAULT_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,
    validateScope: scopeProblems,
    issue,
    revoke,
    verifyRevoked,
    listIssued,
    checkTtl,
    checkSetup,
    // node-vault keeps no sockets of its own beyond the HTTP agent; the login session stops renewing.
    close: () => auth.close(),
  };
}

/** The registration: `registry.register(vaultSubstrate); registry.configure('vault:prod', config)`. */
export const vaultSubstrate = defineSubstrate<VaultConfig, VaultDeps>({
  kind: VAULT_KIND,
  configSchema: vaultConfigSchema,
  credentialFiles: (c) => (!c.auth ? [] : c.auth.method === 'approle' ? [{ setting: 'auth.secretIdFile', path: c.auth.secretIdFile }] : [{ setting: 'auth.jwtFile', path: c.auth.jwtFile }]),
  facts: (c) => ({ validateScope: scopeProblems, ...(c.maxTtlSeconds ? { maxTtlSeconds: c.maxTtlSeconds } : {}) }),
  create: createVaultSubstrate,
});
