// One prom-client registry per process (tests create their own); default Node metrics on request.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(options: { defaultMetrics?: boolean; prefix?: string } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: options.prefix });
  return registry;
}

export { Registry };
