// The Kafka bus's producer: idempotent, acks=all, bounded retries. Records queued in the same turn
// go out in one request per topic; every record has a deadline (one that passed while queued is not
// sent late); after a failed send the producer is replaced so a reused sequence number cannot make
// the broker drop a new record as a duplicate.
import kafkajs, { type IHeaders, type Producer } from 'kafkajs';
import type { Logger } from '@jit/observability';
import type { CloudEventJson } from './event-bus';
import { BusRejected, BusUnavailable } from './errors';
import { errorCode } from './delivery';
import { describe, isTransient, type Kafka, type KafkaReadiness } from './kafka-client';
import type { BusMetrics } from './metrics';
import { checkKey, checkTopic, encodeEvent } from './validate';

const { Partitioners } = kafkajs;

interface Outgoing {
  topic: string;
  key: string;
  value: Buffer;
  headers: IHeaders;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** True once the caller was answered (a timed-out record is not sent any more). */
  settled: () => boolean;
}

const CONTENT_TYPE = 'application/cloudevents+json; charset=UTF-8';

export interface KafkaProducerOptions {
  publishTimeoutMs: number;
  maxEventBytes: number;
  logger: Logger;
  metrics: BusMetrics;
  readiness: KafkaReadiness;
}

export class KafkaProducer {
  private producer: Producer;
  private producerConnected = false;
  private producerNeedsReset = false;
  private queue: Outgoing[] = [];
  private sending: Promise<void> | undefined;
  private flushScheduled = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaProducerOptions,
  ) {
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: true,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
  }

  /** Connects at creation; on failure the producer is disconnected and the error rethrown. */
  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.producerConnected = true;
    } catch (err) {
      await this.producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  async publish(topic: string, key: string, event: CloudEventJson): Promise<void> {
    checkTopic(topic);
    checkKey(key);
    const value = encodeEvent(event, this.options.maxEventBytes);
    try {
      await this.enqueue(topic, key, value, {});
    } catch (err) {
      this.options.metrics.publishFailed(topic, errorCode(err));
      throw err;
    }
    this.options.metrics.published(topic);
  }

  /** Queues a record; records queued in the same turn go out in one request, in call order. */
  enqueue(topic: string, key: string, value: Buffer, headers: IHeaders): Promise<void> {
    const { publishTimeoutMs } = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.options.readiness.set(false);
        reject(BusUnavailable(`no acknowledgement within ${publishTimeoutMs} ms`));
      }, publishTimeoutMs);
      const done =
        <A extends unknown[]>(fn: (...a: A) => void) =>
        (...a: A): void => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          fn(...a);
        };
      this.queue.push({
        topic,
        key,
        value,
        headers: { 'content-type': CONTENT_TYPE, ...headers },
        resolve: done(resolve),
        reject: done(reject),
        settled: () => settled,
      });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.sending) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.sending = this.flush().finally(() => {
        this.sending = undefined;
        if (this.queue.length > 0) this.scheduleFlush();
      });
    });
  }

  private async flush(): Promise<void> {
    // Records whose publish already timed out were reported as not acknowledged; don't send them late.
    const batch = this.queue.filter((o) => !o.settled());
    this.queue = [];
    if (batch.length === 0) return;
    try {
      if (this.producerNeedsReset) {
        // After a failed send the broker may hold records we never heard about; a fresh producer
        // id makes sure a reused sequence number cannot make the broker drop a new record as a duplicate.
        const old = this.producer;
        this.producer = this.newProducer();
        this.producerConnected = false;
        this.producerNeedsReset = false;
        await old.disconnect().catch(() => undefined);
      }
      if (!this.producerConnected) {
        await this.producer.connect();
        this.producerConnected = true;
      }
    } catch (err) {
      this.fail(batch, err);
      return;
    }
    // One request per topic, so a topic the broker refuses cannot fail publishes to the others.
    const byTopic = new Map<string, Outgoing[]>();
    for (const o of batch) {
      const list = byTopic.get(o.topic);
      if (list) list.push(o);
      else byTopic.set(o.topic, [o]);
    }
    await Promise.all(
      [...byTopic].map(async ([topic, list]) => {
        try {
          await this.producer.sendBatch({
            acks: -1,
            timeout: this.options.publishTimeoutMs,
            topicMessages: [{ topic, messages: list.map((o) => ({ key: o.key, value: o.value, headers: o.headers })) }],
          });
          this.options.readiness.set(true);
          for (const o of list) o.resolve();
        } catch (err) {
          this.fail(list, err);
        }
      }),
    );
  }

  private fail(records: Outgoing[], err: unknown): void {
    this.producerNeedsReset = true;
    const transient = isTransient(err);
    if (transient) this.options.readiness.set(false);
    this.options.logger.warn({ records: records.length, topic: records[0]?.topic, error: describe(err), transient }, 'publish failed');
    const failure = transient ? BusUnavailable(describe(err), { cause: err }) : BusRejected(describe(err), { cause: err });
    for (const o of records) o.reject(failure);
  }

  /** Sends what is still queued (each record until its deadline), then disconnects. */
  async close(): Promise<void> {
    while (this.sending || this.queue.length > 0) {
      if (this.sending) await this.sending;
      else await (this.sending = this.flush().finally(() => (this.sending = undefined)));
    }
    await this.producer.disconnect().catch(() => undefined);
  }
}
