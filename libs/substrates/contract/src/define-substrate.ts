// The registration API: an adapter exports one `defineSubstrate(...)` value (like a fastify
// plugin or a backstage module); apps configure named instances of it in a SubstrateRegistry.
import type { Logger, Registry } from '@jit/observability';
import type { z } from 'zod';
import type { Problem, Substrate } from './substrate';

/**
 * What validating a policy needs from an adapter kind, known without an instance (no connection,
 * no credential): the distributed gate validates every policy with these alone.
 */
export interface SubstrateFacts {
  /** The same allow-list the instance's `validateScope` applies. Synchronous, never throws. */
  validateScope(scope: unknown, connection?: unknown): Problem[];
  /** The longest TTL the backend honours with this config (absent: no limit of its own). */
  maxTtlSeconds?: number;
}

/** What the registry hands every adapter's `create`. */
export interface SubstrateDeps {
  /** Child logger bound to the instance name. */
  logger: Logger;
  /** Instance name (`vault:prod`, or the kind itself). The created substrate must report it as `name`. */
  name: string;
  /** The process's metrics registry, for adapters that report (e.g. `jit_substrate_auth_expires_seconds`). */
  metrics?: Registry;
  /**
   * Config values that came from a `file:` reference, by config key (`adminUrl`): each call returns
   * the file's content now (the last readable one if it cannot be read), so an adapter that opens
   * connections later can pick up a rotated credential.
   */
  live?: Readonly<Record<string, () => string>>;
}

export interface SubstrateDefinition<TConfig = unknown, TExtra extends object = object> {
  readonly kind: string;
  /** Parses the instance's plain config object (already read from env/files by the app). */
  readonly configSchema: z.ZodType<TConfig>;
  /**
   * Credential files an instance reads on its own, later (e.g. Vault's AppRole secret id): the app
   * checks at start-up that each can be read, so a missing mount stops it naming the setting.
   */
  readonly credentialFiles?: (config: TConfig) => Array<{ setting: string; path: string }>;
  /**
   * The static facts for a config (the instance's, or only the keys a validating process knows,
   * `{}` for the kind's defaults). Pure: never opens a client.
   */
  facts(config: Partial<TConfig>): SubstrateFacts;
  /** Builds one instance. `extra` carries adapter-specific injections (client factories for tests). */
  create(config: TConfig, deps: SubstrateDeps & Partial<TExtra>): Substrate;
}

const KIND_RE = /^[a-z][a-z0-9-]{0,31}$/;

export function defineSubstrate<TConfig, TExtra extends object = object>(def: SubstrateDefinition<TConfig, TExtra>): SubstrateDefinition<TConfig, TExtra> {
  if (!KIND_RE.test(def.kind)) throw new Error(`defineSubstrate: kind "${def.kind}" must match ${KIND_RE}`);
  return Object.freeze({ ...def });
}
