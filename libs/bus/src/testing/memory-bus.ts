// createMemoryBus: the bus engine over an in-memory log — same semantics as the embedded bus
// (groups, commit after success, retries, dead-letter, replay), no disk, for unit tests of other libs.
import { createLogger, type Logger } from '@jit/observability';
import type { EventBus } from '../event-bus';
import { LogBus } from '../log-bus';
import type { LogStore, OffsetsDoc, PartitionLog, TopicLog } from '../log-store';
import { DEFAULT_MAX_EVENT_BYTES } from '../validate';

class MemoryPartition implements PartitionLog {
  readonly records: Buffer[] = [];
  get end(): number {
    return this.records.length;
  }
  async append(payload: Buffer | readonly Buffer[]): Promise<number> {
    this.records.push(Buffer.concat(Buffer.isBuffer(payload) ? [payload] : payload));
    return this.records.length - 1;
  }
  async read(from: number, max: number): Promise<Buffer[]> {
    return this.records.slice(from, from + max);
  }
}

class MemoryStore implements LogStore {
  private readonly topics = new Map<string, TopicLog>();
  private offsets: OffsetsDoc = {};
  topic(name: string): TopicLog | undefined {
    return this.topics.get(name);
  }
  async createTopic(name: string, partitions: number, retentionMs: number): Promise<TopicLog> {
    const existing = this.topics.get(name);
    if (existing) return existing;
    const topic = { partitions: Array.from({ length: partitions }, () => new MemoryPartition()), retentionMs };
    this.topics.set(name, topic);
    return topic;
  }
  async loadOffsets(): Promise<OffsetsDoc> {
    return structuredClone(this.offsets);
  }
  async saveOffsets(doc: OffsetsDoc): Promise<void> {
    this.offsets = doc;
  }
  healthy(): boolean {
    return true;
  }
  async close(): Promise<void> {
    // nothing to release: the records stay for a bus reopened on this storage
  }
}

/** Storage that outlives a bus instance, to test close + reopen against memory. */
export type MemoryBusStorage = LogStore;
export function createMemoryStorage(): MemoryBusStorage {
  return new MemoryStore();
}

export interface MemoryBusOptions {
  /** Reuse the log of an earlier (closed) memory bus. */
  storage?: MemoryBusStorage;
  /** Partitions of topics created implicitly. Default 1. */
  defaultPartitions?: number;
  logger?: Logger;
}

/** createMemoryBus, picking up the committed offsets kept in `storage`. */
export async function openMemoryBus(options: MemoryBusOptions = {}): Promise<EventBus> {
  const bus = createMemoryBus(options);
  await (bus as LogBus).init();
  return bus;
}

/** An in-process EventBus double (kind 'embedded'); events are serialised like the real ones. */
export function createMemoryBus(options: MemoryBusOptions = {}): EventBus {
  return new LogBus({
    store: options.storage ?? new MemoryStore(),
    logger: options.logger ?? createLogger({ name: 'bus', level: 'silent' }),
    defaultPartitions: options.defaultPartitions ?? 1,
    maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
  });
}
