// Secret references in a target's `connection` (policy.yaml) and in substrate settings:
// `secretRef: env:NAME` or `secretRef: file:/abs/path`, and any `<key>Ref` of the same forms.
// Resolved by the app (a file is read when resolved, so a rotated file is what the next issue
// uses); the policy itself never holds a secret.
//   secretRef  -> url      (the target's admin connection URL / address)
//   <key>Ref   -> <key>    (e.g. tokenRef -> token)
import { posix } from 'node:path';
import { KERNEL_TREES, readSecretFile, type SecretFileReader } from '@jit/service';
import { SubstrateInvalidConfig } from './errors';

export type RefLookup = (scheme: string, name: string) => string | undefined;

const ENV_RE = /^([a-z]+):([A-Za-z_][A-Za-z0-9_]{0,127})$/;
/** What a file reference's path may hold: no spaces, quotes, control characters or shell syntax. */
const FILE_PATH_RE = /^\/[A-Za-z0-9._@+=,:/-]{1,1023}$/;

/** Keys of `connection` that are secret references. */
export function connectionRefKeys(connection: Record<string, unknown>): string[] {
  return Object.keys(connection).filter((k) => k.endsWith('Ref') && k.length > 3);
}

/**
 * Why `path` is not acceptable as a `file:` reference (undefined when it is): it must be absolute
 * and normalised (no `.`/`..` segments, no `//`, no trailing `/`), of plain characters, and outside
 * /proc, /sys and /dev.
 */
export function fileRefProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must name an absolute path (file:/run/secrets/name); relative paths are refused';
  if (!FILE_PATH_RE.test(path)) return 'must name a path of letters, digits and ._@+=,:/- only (at most 1024 characters)';
  if (posix.normalize(path) !== path || path.endsWith('/') || path.split('/').some((seg) => seg === '.' || seg === '..')) {
    return 'must name a normalised path (no . or .. segments, no // and no trailing /)';
  }
  if (KERNEL_TREES.some((tree) => path.startsWith(tree))) return 'must not name a file under /proc, /sys or /dev';
  return undefined;
}

/** The scheme and name of a reference, or why it is not one. */
export function parseSecretRef(value: unknown): { scheme: string; name: string } | { problem: string } {
  if (typeof value !== 'string') return { problem: 'must look like env:NAME or file:/absolute/path' };
  if (value.startsWith('file:')) {
    const path = value.slice('file:'.length);
    const problem = fileRefProblem(path);
    return problem ? { problem } : { scheme: 'file', name: path };
  }
  const m = ENV_RE.exec(value);
  return m ? { scheme: m[1]!, name: m[2]! } : { problem: 'must look like env:NAME or file:/absolute/path' };
}

/**
 * Returns a copy of `connection` with every reference replaced by its value. Unknown schemes,
 * unset variables and unreadable files are errors that name the reference, never a value.
 */
export function resolveConnectionRefs(target: string, connection: Record<string, unknown>, lookup: RefLookup): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(connection)) {
    if (!(key.endsWith('Ref') && key.length > 3)) {
      out[key] = value;
      continue;
    }
    const ref = parseSecretRef(value);
    if ('problem' in ref) throw SubstrateInvalidConfig(target, `connection.${key} ${ref.problem}`);
    let resolved: string | undefined;
    try {
      resolved = lookup(ref.scheme, ref.name);
    } catch (err) {
      const code = (err as { code?: string })?.code ?? 'unreadable';
      throw SubstrateInvalidConfig(target, `connection.${key} names ${ref.scheme}:${ref.name}, which cannot be read on this jit instance (${code})`);
    }
    if (resolved === undefined || resolved === '') {
      const what = ref.scheme === 'file' ? 'which is empty' : 'which is not set';
      throw SubstrateInvalidConfig(target, `connection.${key} names ${ref.scheme}:${ref.name}, ${what} on this jit instance`);
    }
    out[key === 'secretRef' ? 'url' : key.slice(0, -3)] = resolved;
  }
  return out;
}

/** A lookup over an environment object for the `env:` scheme. */
export function envRefLookup(env: Record<string, string | undefined>): RefLookup {
  return (scheme, name) => (scheme === 'env' ? env[name] : undefined);
}

/**
 * `env:` from `env`, `file:` read from disk at each lookup (regular files of at most 64 KiB, the
 * trailing newline dropped): a rotated file is what the next resolution returns. A read failure
 * throws an error whose `code` is the errno.
 */
export function secretRefLookup(env: Record<string, string | undefined>, readFile: SecretFileReader = readSecretFile): RefLookup {
  return (scheme, name) => (scheme === 'env' ? env[name] : scheme === 'file' ? readFile(name) : undefined);
}
