// Secret references in a target's `connection` (policy.yaml): `secretRef: env:NAME` and any
// `<key>Ref: env:NAME`. Resolved by the app at issue time; the policy itself never holds a secret.
//   secretRef  -> url      (the target's admin connection URL / address)
//   <key>Ref   -> <key>    (e.g. tokenRef -> token)
import { SubstrateInvalidConfig } from './errors';

export type RefLookup = (scheme: string, name: string) => string | undefined;

const REF_RE = /^([a-z]+):([A-Za-z_][A-Za-z0-9_]{0,127})$/;

/** Keys of `connection` that are secret references. */
export function connectionRefKeys(connection: Record<string, unknown>): string[] {
  return Object.keys(connection).filter((k) => k.endsWith('Ref') && k.length > 3);
}

/**
 * Returns a copy of `connection` with every reference replaced by its value. Unknown schemes and
 * unset references are errors that name the reference, never a value.
 */
export function resolveConnectionRefs(
  target: string,
  connection: Record<string, unknown>,
  lookup: RefLookup,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(connection)) {
    if (!(key.endsWith('Ref') && key.length > 3)) {
      out[key] = value;
      continue;
    }
    const m = typeof value === 'string' ? REF_RE.exec(value) : null;
    if (!m) throw SubstrateInvalidConfig(target, `connection.${key} must look like env:NAME`);
    const resolved = lookup(m[1]!, m[2]!);
    if (resolved === undefined || resolved === '') {
      throw SubstrateInvalidConfig(target, `connection.${key} names ${m[1]}:${m[2]}, which is not set on this jit instance`);
    }
    out[key === 'secretRef' ? 'url' : key.slice(0, -3)] = resolved;
  }
  return out;
}

/** A lookup over an environment object for the `env:` scheme. */
export function envRefLookup(env: Record<string, string | undefined>): RefLookup {
  return (scheme, name) => (scheme === 'env' ? env[name] : undefined);
}
