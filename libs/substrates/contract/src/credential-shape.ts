// What a substrate's credential looks like once its requester opens it: the keys an adapter's
// `issue` puts in `Issued.secret`, and the environment variables `jit exec` sets from each. Each
// adapter declares its shape once (an SDK-free module, so the CLI can import it); the contract
// suite checks that what the adapter really issues fits it, and the CLI refuses a payload that
// does not, so a hostile or broken server cannot set NODE_OPTIONS, LD_PRELOAD or PATH in a child.

export interface CredentialShape {
  readonly kind: string;
  /** Payload key -> environment variables it sets in `jit exec` (empty: kept, not exported). */
  readonly keys: Readonly<Record<string, readonly string[]>>;
}

const KIND_RE = /^[a-z][a-z0-9-]{0,31}$/;
const KEY_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const ENV_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Variables that change how a program runs rather than what it connects as; no shape may set one. */
const NEVER_SET =
  /^(PATH|HOME|SHELL|IFS|ENV|BASH_ENV|NODE_OPTIONS|NODE_PATH|PYTHON\w*|PERL\w*|RUBY\w*|JAVA_TOOL_OPTIONS|LD_\w+|DYLD_\w+|GIT_\w+|SSH_\w+|PAGER|EDITOR|VISUAL|PSQLRC|PGSERVICEFILE|PGPASSFILE|PGSSL\w*|PGOPTIONS)$/;

export function defineCredentialShape(kind: string, keys: Record<string, readonly string[]>): CredentialShape {
  if (!KIND_RE.test(kind)) throw new Error(`defineCredentialShape: kind "${kind}" must match ${KIND_RE}`);
  for (const [key, envs] of Object.entries(keys)) {
    if (!KEY_RE.test(key)) throw new Error(`defineCredentialShape(${kind}): key "${key}" must match ${KEY_RE}`);
    for (const env of envs) {
      if (!ENV_RE.test(env) || NEVER_SET.test(env)) throw new Error(`defineCredentialShape(${kind}): ${key} may not set ${env}`);
    }
  }
  const frozen = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, Object.freeze([...v])]));
  return Object.freeze({ kind, keys: Object.freeze(frozen) });
}

export type CredentialEnvResult = { ok: true; env: Record<string, string> } | { ok: false; problem: string };

/** A key name fit to print: the payload is untrusted, so anything else is only counted. */
const printable = (key: string): boolean => KEY_RE.test(key);

/**
 * The environment for `jit exec` from an opened credential, or why it is refused: a payload with a
 * key its substrate does not define, or a value that is not a string, is refused whole. The
 * problem names the offending keys (never a value).
 */
export function credentialEnv(shape: CredentialShape, secret: unknown): CredentialEnvResult {
  if (!secret || typeof secret !== 'object' || Array.isArray(secret)) return { ok: false, problem: `the ${shape.kind} credential is not an object of keys and values` };
  const entries = Object.entries(secret as Record<string, unknown>);
  const unknown = entries.map(([k]) => k).filter((k) => !Object.hasOwn(shape.keys, k));
  if (unknown.length > 0) {
    const shown = unknown.filter(printable).slice(0, 8);
    const rest = unknown.length - shown.length;
    const names = [...shown, ...(rest > 0 ? [`${rest} more`] : [])].join(', ');
    return { ok: false, problem: `the ${shape.kind} credential carries keys a ${shape.kind} credential does not have (${names}); it was not issued by jit's ${shape.kind} adapter` };
  }
  const notText = entries.filter(([, v]) => typeof v !== 'string').map(([k]) => k);
  if (notText.length > 0) return { ok: false, problem: `the ${shape.kind} credential has values that are not text (${notText.join(', ')})` };
  const env: Record<string, string> = {};
  for (const [key, value] of entries as Array<[string, string]>) for (const name of shape.keys[key]!) env[name] = value;
  return { ok: true, env };
}
