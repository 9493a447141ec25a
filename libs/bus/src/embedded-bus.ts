// createEmbeddedBus: the EventBus on a local directory (embedded mode, one process).
import { createLogger, type Logger, type Registry } from '@jit/observability';
import { createBusMetrics } from './metrics';
import { InvalidOptions } from './errors';
import type { EventBus } from './event-bus';
import { FileLogStore } from './file-log';
import type { FileStoreStats, FsyncPolicy } from './file-partition-log';
import { LogBus } from './log-bus';
import { DEFAULT_MAX_EVENT_BYTES } from './validate';

export interface EmbeddedBusOptions {
  /** Directory holding the logs, offsets and the LOCK file; created if missing. */
  dir: string;
  /**
   * 'always' (default): every acknowledged publish is fsynced; publishes issued together share
   * one fsync. `{ batchMs }`: wait up to batchMs to gather a larger batch per fsync
   * (still durable before the publish resolves, just later).
   */
  fsync?: FsyncPolicy;
  /** Partitions of topics created implicitly. Default 1. */
  defaultPartitions?: number;
  /** Largest serialised event accepted. Default 1 MiB (Kafka's default). */
  maxEventBytes?: number;
  logger?: Logger;
  /** prom-client registry for jit_bus_* counters (none when omitted). */
  registry?: Registry;
}

export interface EmbeddedBus extends EventBus {
  readonly kind: 'embedded';
  readonly dir: string;
  /** Counters for tests and benchmarks. */
  stats(): Readonly<FileStoreStats>;
}

export async function createEmbeddedBus(options: EmbeddedBusOptions): Promise<EmbeddedBus> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
    throw InvalidOptions('createEmbeddedBus needs a dir');
  }
  const fsync = options.fsync ?? 'always';
  if (fsync !== 'always' && !(typeof fsync === 'object' && Number.isFinite(fsync.batchMs) && fsync.batchMs >= 0 && fsync.batchMs <= 1000)) {
    throw InvalidOptions("fsync must be 'always' or { batchMs: 0..1000 }");
  }
  const defaultPartitions = options.defaultPartitions ?? 1;
  if (!Number.isInteger(defaultPartitions) || defaultPartitions < 1 || defaultPartitions > 1000) {
    throw InvalidOptions('defaultPartitions must be an integer from 1 to 1000');
  }
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  if (!Number.isInteger(maxEventBytes) || maxEventBytes < 1024) throw InvalidOptions('maxEventBytes must be an integer ≥ 1024');
  const logger = options.logger ?? createLogger({ name: 'bus', level: 'warn' });
  const store = await FileLogStore.open(options.dir, fsync, logger);
  const bus = new LogBus({ store, logger, defaultPartitions, maxEventBytes, metrics: createBusMetrics(options.registry, 'embedded') });
  try {
    await bus.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  return Object.assign(bus, { dir: store.dir, stats: () => ({ ...store.stats }) });
}
