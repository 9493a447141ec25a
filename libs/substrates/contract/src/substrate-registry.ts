// Named substrate instances for one process (`postgres`, `vault:prod`, `vault:stage`): parse each
// instance's config with its adapter's schema, hand out instances by name, close them all on stop.
import type { Logger, Registry } from '@jit/observability';
import type { SubstrateDefinition } from './define-substrate';
import { SubstrateDuplicate, SubstrateInvalidConfig, SubstrateInvalidHandle, SubstrateUnknownInstance, SubstrateUnknownKind } from './errors';
import type { RevocationHandle, Substrate } from './substrate';

const INSTANCE_RE = /^[a-z][a-z0-9-]{0,31}(:[a-z0-9][a-z0-9_-]{0,62})?$/;

export interface SubstrateRegistryOptions {
  logger: Logger;
  definitions?: SubstrateDefinition<any, any>[];
  /** Handed to every instance (adapters report their own auth state there). */
  metrics?: Registry;
}

export class SubstrateRegistry {
  private readonly logger: Logger;
  private readonly metrics: Registry | undefined;
  private readonly definitions = new Map<string, SubstrateDefinition<any, any>>();
  private readonly instances = new Map<string, Substrate>();

  constructor(options: SubstrateRegistryOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics;
    for (const d of options.definitions ?? []) this.register(d);
  }

  /** Make an adapter kind available. */
  register(definition: SubstrateDefinition<any, any>): this {
    if (this.definitions.has(definition.kind)) throw SubstrateDuplicate('adapter kind', definition.kind);
    this.definitions.set(definition.kind, definition);
    return this;
  }

  /**
   * Create the instance `name` (`<kind>` or `<kind>:<instance>`) from a raw config object.
   * Config errors name the bad keys, never their values (a value may be a connection URL).
   */
  configure<TExtra extends object = object>(name: string, rawConfig: unknown, extra?: Partial<TExtra>): Substrate {
    if (!INSTANCE_RE.test(name)) throw SubstrateInvalidConfig(name, 'instance name must be <kind> or <kind>:<name> in lower case');
    if (this.instances.has(name)) throw SubstrateDuplicate('substrate instance', name);
    const kind = name.split(':')[0] as string;
    const def = this.definitions.get(kind);
    if (!def) throw SubstrateUnknownKind(kind, [...this.definitions.keys()].join(', ') || 'none');
    const parsed = def.configSchema.safeParse(rawConfig);
    if (!parsed.success) {
      const keys = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.code === 'custom' ? i.message : i.code}`).join('; ');
      throw SubstrateInvalidConfig(name, keys);
    }
    const logger = this.logger.child({ substrate: name });
    const substrate = def.create(parsed.data, { ...(extra ?? {}), logger, name, ...(this.metrics ? { metrics: this.metrics } : {}) });
    if (substrate.kind !== kind || substrate.name !== name) {
      throw SubstrateInvalidConfig(name, `adapter returned kind=${substrate.kind} name=${substrate.name}`);
    }
    this.instances.set(name, substrate);
    return substrate;
  }

  has(name: string): boolean {
    return this.instances.has(name);
  }

  get(name: string): Substrate {
    const s = this.instances.get(name);
    if (!s) throw SubstrateUnknownInstance(name, [...this.instances.keys()].join(', ') || 'none');
    return s;
  }

  /** The instance that issued `handle` (its `instance`, else its `kind`). */
  forHandle(handle: RevocationHandle): Substrate {
    const name = handle.instance ?? handle.kind;
    const s = this.get(name);
    if (s.kind !== handle.kind) throw SubstrateInvalidHandle(name, `handle kind ${handle.kind} does not match instance kind ${s.kind}`);
    return s;
  }

  names(): string[] {
    return [...this.instances.keys()];
  }

  list(): Substrate[] {
    return [...this.instances.values()];
  }

  /** Release every instance's clients; one failing close does not keep the others open. */
  async closeAll(): Promise<void> {
    const all = [...this.instances.entries()];
    this.instances.clear();
    const results = await Promise.allSettled(all.map(([, s]) => s.close?.()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.logger.warn({ substrate: all[i]?.[0], err: r.reason }, 'substrate close failed');
    });
  }
}
