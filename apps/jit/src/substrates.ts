// The substrate adapters this deployment can use, registered like plugins; the instances come from
// config (JIT_SUBSTRATES). Only apps compose adapters (Nx tags forbid it in libs).
import type { Logger } from '@jit/observability';
import type { SubstrateCatalog } from '@jit/policy';
import { SubstrateRegistry, envRefLookup, resolveConnectionRefs } from '@jit/substrates';
import { postgresSubstrate } from '@jit/substrate-postgres';
import { vaultSubstrate } from '@jit/substrate-vault';
import { awsStsSubstrate } from '@jit/substrate-aws-sts';
import { gcpIamSubstrate } from '@jit/substrate-gcp-iam';
import type { TargetResolver } from '@jit/issuer';
import type { PolicyStore } from '@jit/policy';

export function buildSubstrates(instances: Record<string, Record<string, unknown>>, logger: Logger): SubstrateRegistry {
  const registry = new SubstrateRegistry({ logger, definitions: [postgresSubstrate, vaultSubstrate, awsStsSubstrate, gcpIamSubstrate] });
  for (const [name, config] of Object.entries(instances)) registry.configure(name, config);
  return registry;
}

/** What policy validation needs from each configured instance. */
export function substrateCatalog(registry: SubstrateRegistry): SubstrateCatalog {
  const catalog: SubstrateCatalog = {};
  for (const s of registry.list()) {
    catalog[s.name] = { validateScope: (scope, connection) => s.validateScope(scope, connection), maxTtlSeconds: s.maxTtlSeconds };
  }
  return catalog;
}

/**
 * Resolves an approved target/scope against the policy the gate validated: the policy file at the
 * merge commit must be the version named in the approval, else nothing is issued.
 */
export function policyTargetResolver(store: PolicyStore, env: Record<string, string | undefined>): TargetResolver {
  const lookup = envRefLookup(env);
  return {
    async resolve({ target, scope, policyVersion, mergeSha }) {
      const loaded = store.peek()?.version === policyVersion ? store.peek()! : await store.atRef(mergeSha);
      if (loaded.version !== policyVersion) return undefined;
      const t = loaded.policy.targets[target];
      const s = t?.scopes[scope];
      if (!t || !s) return undefined;
      const { tier: _tier, ...substrateScope } = s.raw;
      return { substrate: t.substrate, scope: substrateScope, connection: resolveConnectionRefs(target, t.connection, lookup) };
    },
  };
}
