// Secret settings that may also come from a file: `X` or `X_FILE` (exactly one), the Kubernetes /
// Docker way of handing a process its secrets. `secretEnv('X', schema)` declares both keys; parseEnv
// reads `X_FILE` before the schema runs, so the file's content is checked by X's own schema and a
// missing or unreadable file stops start-up naming X_FILE (never the content). The app then opens a
// live source over it (secret-source.ts) that re-reads the file when it is rotated.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';

/** `X_FILE` schemas, registered with the name of the secret setting `X` they stand in for. */
export const secretFileRegistry = z.registry<{ secretOf: string }>();

/** Largest secret file read (a token, a password, a URL): anything bigger is a wrong path. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * The kernel's trees: never a secret of ours; their files stat as empty regular files (so pass the
 * size bound) and some block or never end.
 */
export const KERNEL_TREES: readonly string[] = ['/proc/', '/sys/', '/dev/'];

/** Reads a secret file's text; throws an Error with a `code` (never the content). */
export type SecretFileReader = (path: string) => string;

type SecretFileKey<K extends string> = `${K}_FILE`;

/**
 * The secret setting `key` (checked by `schema`) and `key_FILE`, a path to a file holding the same
 * value. Either may be set, not both; the schema's own required/optional rule applies to the value
 * wherever it came from.
 */
export function secretEnv<K extends string, S extends z.ZodType>(key: K, schema: S): { [P in K]: S } & { [P in SecretFileKey<K>]: z.ZodOptional<z.ZodString> } {
  const file = z.string().min(1, 'must be a path').optional();
  secretFileRegistry.add(file, { secretOf: key });
  return { [key]: schema, [`${key}_FILE`]: file } as { [P in K]: S } & { [P in SecretFileKey<K>]: z.ZodOptional<z.ZodString> };
}

/** The secret's text as the file holds it, without the trailing newline editors and `echo` add. */
export function secretText(raw: string): string {
  return raw.replace(/\r?\n$/, '');
}

/**
 * Reads a secret file: a regular file (after symlinks) of at most MAX_SECRET_FILE_BYTES, returned
 * without its trailing newline. Throws an Error whose `code` says why (ENOENT, EACCES, EISDIR,
 * EFBIG, ENOTSECRET). Symlinks are followed (kubelet's ..data swap), but never into the kernel's
 * trees: a name outside them proves nothing, a link anywhere (Debian's /etc/mtab -> ../proc/self/mounts,
 * or one planted next to a mounted secret) reaches /proc/self/environ as easily.
 */
export function readSecretFile(path: string): string {
  const real = realpathSync(path);
  if (KERNEL_TREES.some((tree) => real.startsWith(tree))) throw Object.assign(new Error('a link into /proc, /sys or /dev'), { code: 'ENOTSECRET' });
  const st = statSync(real);
  if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' });
  if (st.size > MAX_SECRET_FILE_BYTES) throw Object.assign(new Error('file too large'), { code: 'EFBIG' });
  return secretText(readFileSync(real, 'utf8'));
}

/** What a failed read is reported as: the error code and what to check. Never the content. */
export function describeReadFailure(err: unknown): string {
  const code = (err as { code?: string })?.code ?? 'unreadable';
  const hint =
    code === 'ENOENT'
      ? 'no such file; check the path and the volume mount'
      : code === 'EACCES'
        ? 'permission denied; the file must be readable by the user jit runs as'
        : code === 'EFBIG'
          ? `larger than ${MAX_SECRET_FILE_BYTES} bytes; point it at the secret's own file`
          : code === 'EISDIR' || code === 'ENOTREG'
            ? 'not a regular file; point it at the file holding the secret'
            : code === 'ENOTSECRET'
              ? "it leads (through a symlink) into /proc, /sys or /dev, which hold no secret of jit; point it at the secret's own file"
              : 'check the path and permissions';
  return `cannot read the file (${code}): ${hint}`;
}

/** The `X_FILE` keys of a schema's shape, with the `X` each stands in for. */
export function secretFileKeys(shape: Record<string, unknown>): [fileKey: string, key: string][] {
  const out: [string, string][] = [];
  for (const [fileKey, schema] of Object.entries(shape)) {
    const meta = secretFileRegistry.get(schema as z.ZodType);
    if (meta && meta.secretOf in shape) out.push([fileKey, meta.secretOf]);
  }
  return out;
}

export interface ResolvedSecretFiles {
  /** The environment with each `X` filled from its `X_FILE`. */
  env: Record<string, string | undefined>;
  /** `X` -> `X_FILE` for the settings whose value came from a file (to name the file in messages). */
  fromFile: Map<string, string>;
  /** `X` -> `X_FILE` for every secret setting of the schema. */
  fileKeys: Map<string, string>;
  problems: string[];
}

const isSet = (v: string | undefined): v is string => typeof v === 'string' && v.length > 0;

/** Fills `X` from `X_FILE` for every secret setting of `shape`; both set, a relative path or an unreadable file is a problem. */
export function resolveSecretFiles(shape: Record<string, unknown>, env: Record<string, string | undefined>, readFile: SecretFileReader = readSecretFile): ResolvedSecretFiles {
  const out: Record<string, string | undefined> = Object.assign(Object.create(null), env);
  const fromFile = new Map<string, string>();
  const problems: string[] = [];
  const pairs = secretFileKeys(shape);
  for (const [fileKey, key] of pairs) {
    const path = env[fileKey];
    if (!isSet(path)) continue;
    if (isSet(env[key])) {
      problems.push(`${fileKey}: set ${key} or ${fileKey}, not both`);
      continue;
    }
    if (!isAbsolute(path)) {
      problems.push(`${fileKey}: must be an absolute path (the file is re-read when it changes, whatever the working directory)`);
      continue;
    }
    try {
      out[key] = readFile(path);
      fromFile.set(key, fileKey);
    } catch (err) {
      problems.push(`${fileKey}: ${describeReadFailure(err)}`);
    }
  }
  return { env: out, fromFile, fileKeys: new Map(pairs.map(([fileKey, key]) => [key, fileKey])), problems };
}
