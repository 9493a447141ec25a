// What policy validation needs from each configured substrate instance: its scope check and the
// longest TTL it can honour. The policy names instances (`postgres`, `vault:prod`).
import type { SubstrateCatalog } from '@jit/policy';
import type { SubstrateRegistry } from '@jit/substrates';

export function substrateCatalog(registry: Pick<SubstrateRegistry, 'list'>): SubstrateCatalog {
  const catalog: SubstrateCatalog = {};
  for (const s of registry.list()) {
    catalog[s.name] = { validateScope: (scope, connection) => s.validateScope(scope, connection), maxTtlSeconds: s.maxTtlSeconds };
  }
  return catalog;
}
