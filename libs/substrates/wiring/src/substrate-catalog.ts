// What policy validation needs from each substrate: its scope check and the longest TTL it can
// honour. One way to build it: from the adapter definitions' static facts (no connection opened).
// A process that runs instances validates against those (the policy names instances: `postgres`,
// `vault:prod`); the distributed gate runs none and validates by kind.
import type { SubstrateCatalog, SubstrateFacts } from '@jit/policy';
import type { SubstrateDefinition, SubstrateRegistry } from '@jit/substrates';
import { SUBSTRATE_DEFINITIONS } from './substrate-settings';

function entry(facts: SubstrateFacts): SubstrateFacts {
  return { validateScope: (scope, connection) => facts.validateScope(scope, connection), ...(facts.maxTtlSeconds ? { maxTtlSeconds: facts.maxTtlSeconds } : {}) };
}

/** The catalog of a process's configured instances, by instance name. */
export function substrateCatalog(registry: Pick<SubstrateRegistry, 'list'>): SubstrateCatalog {
  return Object.fromEntries(registry.list().map((s) => [s.name, entry(s)]));
}

/**
 * The catalog of every adapter kind, by kind, from the definitions' static facts: for a process
 * that validates policies without running substrates (the distributed gate). `settings` holds,
 * per kind, the config keys the facts depend on that this process knows (default: the kind's
 * defaults).
 */
export function staticSubstrateCatalog(settings: Record<string, Record<string, unknown>> = {}, definitions: readonly SubstrateDefinition<any, any>[] = SUBSTRATE_DEFINITIONS): SubstrateCatalog {
  return Object.fromEntries(definitions.map((d) => [d.kind, entry(d.facts(settings[d.kind] ?? {}))]));
}
