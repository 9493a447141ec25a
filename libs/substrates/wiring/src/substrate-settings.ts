// Substrate instances of a jit process, shared by every app that issues or revokes: from
// JIT_SUBSTRATES (JSON) or JIT_SUBSTRATES_FILE: `{ "<kind>[:<name>]": { ...adapter config } }`.
// `<key>Ref: env:NAME` and `<key>Ref: file:/abs/path` values are resolved at boot; every instance is checked against its adapter's
// schema so a bad setting stops start-up naming the key, never a value. A value from a `file:`
// reference stays live: createSubstrates hands the adapter a reader of the file (`deps.live`), so a
// rotated credential (e.g. the PostgreSQL admin password) is used by the connections opened after it.
import { readFileSync } from 'node:fs';
import type { Logger, Registry } from '@jit/observability';
import { describeReadFailure, readSecretFile } from '@jit/service';
import { SubstrateRegistry, parseSecretRef, resolveConnectionRefs, secretRefLookup, type SubstrateDefinition } from '@jit/substrates';
import { ADAPTERS } from './adapters.generated';
import { linkSubstrates } from './substrate-link';

/** Every adapter kind: the projects tagged type:adapter under libs/substrates/ (a generated list). */
export const SUBSTRATE_DEFINITIONS: SubstrateDefinition<any, any>[] = [...ADAPTERS];

/** Instance name -> plain adapter config (references resolved, schema-checked). */
export type SubstrateInstances = Record<string, Record<string, unknown>>;

/** Config key -> file, for the values of a resolved instance config that came from `file:` references. */
const fileRefsOf = new WeakMap<Record<string, unknown>, Record<string, string>>();

function fileRefs(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key.endsWith('Ref') && key.length > 3)) continue;
    const ref = parseSecretRef(value);
    if ('scheme' in ref && ref.scheme === 'file') out[key === 'secretRef' ? 'url' : key.slice(0, -3)] = ref.name;
  }
  return out;
}

/** Reads `file` at each call; when it cannot be read (mid-rotation, unmounted) the last value read, warned once. */
function liveFileValue(file: string, initial: string, logger: Logger, setting: string): () => string {
  let last = initial;
  let failing = false;
  return () => {
    try {
      const text = readSecretFile(file);
      if (text.length > 0) {
        last = text;
        failing = false;
      }
    } catch (err) {
      if (!failing) logger.warn({ setting, file, code: (err as { code?: string })?.code ?? 'unreadable' }, 'cannot re-read the secret file; keeping the last value');
      failing = true;
    }
    return last;
  };
}

const INSTANCE_RE = /^[a-z][a-z0-9-]{0,31}(:[a-z0-9][a-z0-9_-]{0,62})?$/;
const MAX_BYTES = 64 * 1024;
const MAX_INSTANCES = 32;

/**
 * Reads and checks the substrate settings. Returns problems as `<setting>: <what>` lines; the
 * text of the setting is never echoed (it may carry tokens).
 */
export function parseSubstrateSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  options: { optional?: boolean; /** Reads `file:` references (default @jit/service's readSecretFile). */ readSecret?: (path: string) => string } = {},
): { instances: SubstrateInstances; problems: string[] } {
  const problems: string[] = [];
  const inline = env['JIT_SUBSTRATES'];
  const file = env['JIT_SUBSTRATES_FILE'];
  if (inline && file) return { instances: {}, problems: ['JIT_SUBSTRATES: set JIT_SUBSTRATES or JIT_SUBSTRATES_FILE, not both'] };
  if (!inline && !file) {
    if (options.optional) return { instances: {}, problems: [] };
    return {
      instances: {},
      problems: [
        'JIT_SUBSTRATES: set it to a JSON object of substrate instances (e.g. {"postgres":{"adminUrlRef":"env:PG_ADMIN_URL"}} or "file:/run/secrets/pg-admin-url") or JIT_SUBSTRATES_FILE to a file holding one',
      ],
    };
  }
  const setting = inline ? 'JIT_SUBSTRATES' : 'JIT_SUBSTRATES_FILE';
  let text: string;
  if (inline) {
    text = inline;
  } else {
    try {
      text = readFile(file!);
    } catch (err) {
      return { instances: {}, problems: [`JIT_SUBSTRATES_FILE: cannot read the file (${(err as { code?: string }).code ?? 'error'}); check the path and permissions`] };
    }
  }
  if (Buffer.byteLength(text) > MAX_BYTES) return { instances: {}, problems: [`${setting}: larger than ${MAX_BYTES} bytes`] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { instances: {}, problems: [`${setting}: not valid JSON; expected an object like {"postgres":{...},"vault:prod":{...}}`] };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { instances: {}, problems: [`${setting}: must be a JSON object of instance name to adapter config`] };
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) problems.push(`${setting}: configure at least one substrate instance`);
  if (entries.length > MAX_INSTANCES) return { instances: {}, problems: [`${setting}: at most ${MAX_INSTANCES} instances`] };
  const kinds = new Map(SUBSTRATE_DEFINITIONS.map((d) => [d.kind, d]));
  const lookup = options.readSecret ? secretRefLookup(env, options.readSecret) : secretRefLookup(env);
  const instances: SubstrateInstances = {};
  for (const [name, value] of entries) {
    const shown = JSON.stringify(name.slice(0, 80));
    if (!INSTANCE_RE.test(name)) {
      problems.push(`${setting}: instance name ${shown} must be <kind> or <kind>:<name> in lower case`);
      continue;
    }
    const kind = name.split(':')[0]!;
    const def = kinds.get(kind);
    if (!def) {
      problems.push(`${setting}: instance ${shown} has unknown substrate kind "${kind}"; known: ${[...kinds.keys()].join(', ')}`);
      continue;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${setting}: instance ${shown} must be an object of adapter settings`);
      continue;
    }
    let resolved: Record<string, unknown>;
    try {
      resolved = resolveConnectionRefs(name, value as Record<string, unknown>, lookup);
    } catch (err) {
      problems.push(`${setting}: ${(err as Error).message}`);
      continue;
    }
    const parsed = def.configSchema.safeParse(resolved);
    if (!parsed.success) {
      // a custom issue's message is the adapter's own text (a code and what to set), never a value
      const keys = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} (${i.code === 'custom' ? i.message : i.code})`).join(', ');
      problems.push(`${setting}: instance ${shown}: invalid ${keys}; see libs/substrates/${kind}/README.md`);
      continue;
    }
    const unreadable = (def.credentialFiles?.(parsed.data) ?? []).flatMap(({ setting: key, path }) => {
      try {
        readFile(path);
        return [];
      } catch (err) {
        return [`${setting}: instance ${shown}: ${key} ${describeReadFailure(err)}`];
      }
    });
    if (unreadable.length) {
      problems.push(...unreadable);
      continue;
    }
    instances[name] = resolved;
    const files = fileRefs(value as Record<string, unknown>);
    if (Object.keys(files).length > 0) fileRefsOf.set(resolved, files);
  }
  return { instances, problems };
}

/**
 * A registry with every adapter kind and the configured instances. `extras` injects test clients per
 * instance; `metrics` is the process's registry (adapters report their own auth state there).
 */
export function createSubstrates(instances: SubstrateInstances, logger: Logger, extras: Record<string, object> = {}, metrics?: Registry): SubstrateRegistry {
  const registry = new SubstrateRegistry({ logger, definitions: SUBSTRATE_DEFINITIONS, ...(metrics ? { metrics } : {}) });
  try {
    for (const [name, cfg] of Object.entries(instances)) {
      const files = fileRefsOf.get(cfg) ?? {};
      const live = Object.fromEntries(Object.entries(files).map(([key, file]) => [key, liveFileValue(file, String(cfg[key]), logger.child({ substrate: name }), `${name}.${key}Ref`)]));
      registry.configure(name, cfg, { ...(Object.keys(live).length > 0 ? { live } : {}), ...extras[name] });
    }
  } catch (err) {
    void registry.closeAll();
    throw err;
  }
  // The policy target resolver built with the same logger audits these instances.
  linkSubstrates(logger, registry);
  return registry;
}
