// Which substrate registry a process built with a given logger. The apps hand createSubstrates and
// createPolicyTargetResolver the same logger; this lets the resolver's policy audit find the
// instances without the apps passing them twice. An explicit `substrates` option always wins.
import type { SubstrateLookup } from './policy-audit';

interface Linkable extends SubstrateLookup {
  names(): string[];
}

const byLogger = new WeakMap<object, WeakRef<Linkable>[]>();

/** Remember that `registry` was built with `logger`. */
export function linkSubstrates(logger: object, registry: Linkable): void {
  const refs = (byLogger.get(logger) ?? []).filter((r) => r.deref() !== undefined);
  refs.push(new WeakRef(registry));
  byLogger.set(logger, refs);
}

/** The newest registry built with `logger` that still has instances (a closed registry has none). */
export function linkedSubstrates(logger: object): SubstrateLookup | undefined {
  const refs = byLogger.get(logger) ?? [];
  for (let i = refs.length - 1; i >= 0; i--) {
    const r = refs[i]!.deref();
    if (r && r.names().length > 0) return r;
  }
  return undefined;
}
