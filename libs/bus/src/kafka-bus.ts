// createKafkaBus: the EventBus on Apache Kafka (kafkajs). Idempotent producer with acks=all and
// bounded retries (a publish fails fast, retriable, when the broker is away); one consumer per
// subscription committing each offset after its handler succeeded; dead-letters to <topic>.dlq;
// replay through a throwaway group bounded by the high watermarks read at the call.
// This file assembles the parts (see the README's file table): kafka-client (options, client,
// readiness, error classification), kafka-admin (topics, group offsets), kafka-producer,
// kafka-consumer, kafka-dead-letters and kafka-replay.
import { createLogger, type Logger } from '@jit/observability';
import { createBusMetrics } from './metrics';
import type { BusMessage, CloudEventJson, EventBus, ReplayOptions, SubscribeOptions, Subscription, TopicSpec } from './event-bus';
import { BusClosed, InvalidOptions } from './errors';
import { KafkaAdmin } from './kafka-admin';
import { KafkaReadiness, createKafkaClient, type Kafka, type KafkaBusOptions } from './kafka-client';
import { subscribeKafka, type KafkaConsumerParts } from './kafka-consumer';
import { KafkaDeadLetters } from './kafka-dead-letters';
import { KafkaProducer } from './kafka-producer';
import { replayKafka } from './kafka-replay';
import { connectFailure } from './kafka-security';
import { DEFAULT_MAX_EVENT_BYTES } from './validate';

export type { KafkaBusOptions } from './kafka-client';

export interface KafkaBus extends EventBus {
  readonly kind: 'kafka';
}

export async function createKafkaBus(options: KafkaBusOptions): Promise<KafkaBus> {
  if (!options || !Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw InvalidOptions('createKafkaBus needs brokers (host:port strings)');
  }
  if (typeof options.clientId !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(options.clientId)) {
    throw InvalidOptions('clientId must be 1-255 printable ASCII characters');
  }
  const bus = new KafkaEventBus(options);
  try {
    await bus.connect();
  } catch (err) {
    bus.closeSecrets?.();
    throw err;
  }
  return bus;
}

class KafkaEventBus implements KafkaBus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly readiness: KafkaReadiness;
  private readonly admin: KafkaAdmin;
  private readonly producer: KafkaProducer;
  private readonly consumerParts: KafkaConsumerParts;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly subscriptions = new Set<{ stop(): Promise<void> }>();
  /** Stops watching the secret files of `options.security` (rotation, permissions). */
  readonly closeSecrets: (() => void) | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    this.logger = options.logger ?? createLogger({ name: 'bus', level: 'warn' });
    const publishTimeoutMs = options.publishTimeoutMs ?? 3_000;
    const defaultPartitions = options.defaultPartitions ?? 1;
    const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    const metrics = createBusMetrics(options.registry, 'kafka');
    if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 100) {
      throw InvalidOptions('publishTimeoutMs must be an integer ≥ 100');
    }
    this.kafka = createKafkaClient(options, this.logger);
    this.readiness = new KafkaReadiness(
      () => this.admin.withAdmin((admin) => admin.describeCluster()),
      () => this.closed,
    );
    this.producer = new KafkaProducer(this.kafka, { publishTimeoutMs, maxEventBytes, logger: this.logger, metrics, readiness: this.readiness });
    this.admin = new KafkaAdmin(this.kafka, this.logger, this.readiness, defaultPartitions);
    this.consumerParts = {
      kafka: this.kafka,
      options,
      logger: this.logger,
      metrics,
      admin: this.admin,
      deadLetters: new KafkaDeadLetters(this.producer, this.logger, maxEventBytes),
      defaultPartitions,
      ensureTopics: (topics) => this.ensureTopics(topics),
      subscriptions: this.subscriptions,
    };
    this.closeSecrets = options.security?.open?.(this.logger);
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.readiness.set(true);
    } catch (err) {
      throw connectFailure(err, this.options.brokers, this.options.security);
    }
  }

  isReady(): boolean {
    return this.readiness.value && !this.closed;
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    await this.admin.ensureTopics(topics);
  }

  async publish(topic: string, key: string, event: CloudEventJson): Promise<void> {
    this.assertOpen();
    await this.producer.publish(topic, key, event);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    return subscribeKafka(this.consumerParts, options);
  }

  async replay(topic: string, handler: (message: BusMessage) => void | Promise<void>, options: ReplayOptions = {}): Promise<void> {
    this.assertOpen();
    await replayKafka({ kafka: this.kafka, clientId: this.options.clientId, logger: this.logger, admin: this.admin }, topic, handler, options);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.readiness.stop();
      await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
      await this.producer.close();
      await this.admin.disconnect();
      this.closeSecrets?.();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw BusClosed();
  }
}
