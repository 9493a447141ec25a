// The EventBus contract: keyed CloudEvents, consumer groups, at-least-once, order per key.
// Implementations: kafka (kafkajs) and embedded (durable append-only log on disk).
import type { CloudEventJson } from '@jit/contracts';

/** A CloudEvents 1.0 structured-mode JSON document (defined once, in @jit/contracts). */
export type { CloudEventJson };

export interface BusMessage {
  topic: string;
  partition: number;
  /** Decimal string, monotonically increasing within a partition. */
  offset: string;
  key: string;
  event: CloudEventJson;
  /** 1 on first delivery to this handler, counting retries within this process. */
  attempt: number;
  /**
   * Resolves while this consumer still holds the message's partition; rejects with
   * JIT_ERR_BUS_PARTITION_LOST when another member may have it (Kafka: the group session expired
   * while this process was paused or busy, or the group rebalanced since the delivery began). A
   * handler calls it right before a side effect that must happen once per event (the issuer: before
   * it issues and before it announces). Buses on which a partition cannot move while its handler
   * runs (embedded: one process holds the log) leave it out.
   */
  assertOwned?: () => Promise<void>;
}

export type MessageHandler = (message: BusMessage) => Promise<void>;

export interface SubscribeOptions {
  topic: string;
  /** Consumer group: members share partitions; each group sees every event. */
  groupId: string;
  handler: MessageHandler;
  /** Where a new group starts. Default 'earliest' — nothing published before start is missed. */
  startFrom?: 'earliest' | 'latest';
  /** Handler attempts before the message goes to `<topic>.dlq` and the offset moves on. Default 5. */
  maxAttempts?: number;
  /** Backoff between attempts, ms. Default 200 doubling, capped at 10s. */
  retryBackoffMs?: number;
  /** Called with the partitions this member now owns (after every rebalance). */
  onAssignment?: (partitions: number[]) => void | Promise<void>;
  /**
   * The group lives only as long as this subscription: when it stops, its committed offsets are
   * deleted (Kafka: the consumer group; embedded: its entry in the offsets file). For private read
   * models that replay the log at every start and would otherwise leave a group behind each time.
   */
  ephemeral?: boolean;
}

export interface Subscription {
  readonly groupId: string;
  readonly topic: string;
  /** Stops consuming after the in-flight handler finishes; commits what succeeded. */
  stop(): Promise<void>;
}

export interface ReplayOptions {
  /** Only these partitions (default: all). */
  partitions?: number[];
}

export interface EventBus {
  readonly kind: 'kafka' | 'embedded';
  /** Creates topics if missing (partitions, retention). Idempotent. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Resolves once the event is durably accepted (acks=all / fsync). Rejects with a retriable JitError when the bus is down. */
  publish(topic: string, key: string, event: CloudEventJson): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * Reads a topic from its beginning up to the end as of the call (no group, no commits),
   * in order per partition. Used to rebuild state from the log.
   */
  replay(topic: string, handler: (message: BusMessage) => void | Promise<void>, options?: ReplayOptions): Promise<void>;
  /** True while the bus can accept publishes. */
  isReady(): boolean;
  close(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  /** -1 = unlimited (jit.elevations.v1 must be). */
  retentionMs?: number;
}
