// createKafkaBus: the EventBus on Apache Kafka (kafkajs). Idempotent producer with acks=all and
// bounded retries (a publish fails fast, retriable, when the broker is away); one consumer per
// subscription committing each offset after its handler succeeded; dead-letters to <topic>.dlq;
// replay through a throwaway group bounded by the high watermarks read at the call.
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import { DEAD_LETTER_SUFFIX } from '@jit/contracts';
import { JitError } from '@jit/errors';
import { createLogger, type Logger, type Registry } from '@jit/observability';
import { createBusMetrics, type BusMetrics } from './metrics';
import type {
  BusMessage,
  CloudEventJson,
  EventBus,
  ReplayOptions,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './event-bus';
import { BusClosed, BusPartitionLost, BusRejected, BusUnavailable, InvalidOptions, MalformedMessage } from './errors';
import { DLQ_EXTENSIONS, StopSignal, deadLetterEvent, deliver, errorCode, errorFields } from './delivery';
import { authorizationFailure, connectFailure, kafkaSasl, kafkaSsl, type KafkaSecurity } from './kafka-security';
import { DEFAULT_MAX_EVENT_BYTES, checkKey, checkSubscribeOptions, checkTopic, encodeEvent, parseCloudEvent } from './validate';

// kafkajs is CommonJS whose named exports Node's ESM loader cannot see; take them off the default export.
const { ConfigResourceTypes, Kafka, Partitioners, logLevel } = kafkajs;
type Kafka = InstanceType<typeof Kafka>;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** TLS and SASL of the connection (see @jit/service kafkaSecurityEnv); plaintext without authentication when absent. */
  security?: KafkaSecurity;
  /** A publish not acknowledged (acks=all) within this rejects with JIT_ERR_BUS_UNAVAILABLE. Default 3000. */
  publishTimeoutMs?: number;
  /** Partitions for topics the bus creates implicitly (subscribe to a missing topic, its .dlq). Default 1. */
  defaultPartitions?: number;
  /** Partitions of one subscription handled at the same time (each still in order). Default 4. */
  partitionsConsumedConcurrently?: number;
  /**
   * Inside a long fetched batch, handled offsets are committed at least this often (ms); they are
   * always committed at the end of each batch and before a stop or rebalance completes. Default 200.
   */
  commitIntervalMs?: number;
  /** Consumer session timeout; a handler must finish well within it. Default 30000. */
  sessionTimeoutMs?: number;
  /** Largest serialised event accepted. Default 1 MiB (the broker's default message.max.bytes). */
  maxEventBytes?: number;
  /** prom-client registry for jit_bus_* counters (none when omitted). */
  registry?: Registry;
}

export interface KafkaBus extends EventBus {
  readonly kind: 'kafka';
}

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
const READY_PROBE_MS = 2_000;
const HEARTBEAT_INTERVAL_MS = 3_000;
/**
 * assertOwned accepts a coordinator's answer to one of this member's heartbeats at most this old as
 * proof of membership. kafkajs sends a heartbeat only when the last successful one is older than
 * HEARTBEAT_INTERVAL_MS, so a fresh answer is always at hand while the member is in the group.
 */
const MEMBERSHIP_PROOF_MS = HEARTBEAT_INTERVAL_MS + 500;
/** While a handler runs, the member heartbeats this often (kafkajs sends one per HEARTBEAT_INTERVAL_MS). */
const HANDLER_HEARTBEAT_MS = 1_000;
/** Heartbeat answers saying this member is no longer in the group's current generation. */
const NOT_A_MEMBER = ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID'];

/** Routes kafkajs logs to pino; drops the one warning we cause on purpose (bounded producer retries). */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _t, logger: _l, stack: _s, ...rest } = log as LogEntry['log'] & Record<string, unknown>;
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const fields = { kafkajs: namespace, ...pick(rest, ['broker', 'clientId', 'groupId', 'topic', 'partition', 'error', 'retryCount', 'retryTime']) };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const type = (err as { type?: unknown }).type;
    return typeof type === 'string' ? `${err.name} ${type}` : err.name;
  }
  return 'unknown error';
}

/** Whether a kafkajs error, or one it wraps (retries exhausted), carries this protocol error type. */
function hasKafkaType(err: unknown, type: string): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if ((e as { type?: unknown }).type === type) return true;
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

/** kafkajs errors that mean "try later" rather than "this request is wrong". */
function isTransient(err: unknown): boolean {
  // kafkajs wraps the real failure (retries exhausted → originalError / cause); look down the chain.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (/Connection|NumberOfRetriesExceeded|RequestTimeout|BrokerNotFound|ProtocolRetriable|Timeout/.test(e.name)) return true;
    if ((e as { retriable?: unknown }).retriable === true) return true;
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

/**
 * A broker call that failed: refused for want of an ACL is not going to get better by retrying
 * (REJECTED, pointing at the ACL docs); anything else is UNAVAILABLE.
 */
function accessFailure(what: string, err: unknown): JitError {
  const denied = authorizationFailure(err);
  return denied
    ? BusRejected(`${what}: ${denied}; grant this client's principal the ACLs in deploy/kafka/README.md`, { cause: err })
    : BusUnavailable(`${what}: ${describe(err)}`, { cause: err });
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
  private producer: Producer;
  private producerConnected = false;
  private producerNeedsReset = false;
  private readonly admin: Admin;
  private adminConnected: Promise<void> | undefined;
  private readonly logger: Logger;
  private readonly publishTimeoutMs: number;
  private readonly defaultPartitions: number;
  private readonly maxEventBytes: number;
  private ready = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private queue: Outgoing[] = [];
  private sending: Promise<void> | undefined;
  private flushScheduled = false;
  private probe: NodeJS.Timeout | undefined;
  private readonly subscriptions = new Set<{ stop(): Promise<void> }>();
  private readonly metrics: BusMetrics;
  /** Stops watching the secret files of `options.security` (rotation, permissions). */
  readonly closeSecrets: (() => void) | undefined;

  constructor(private readonly options: KafkaBusOptions) {
    this.logger = options.logger ?? createLogger({ name: 'bus', level: 'warn' });
    this.publishTimeoutMs = options.publishTimeoutMs ?? 3_000;
    this.defaultPartitions = options.defaultPartitions ?? 1;
    this.maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.metrics = createBusMetrics(options.registry, 'kafka');
    if (!Number.isInteger(this.publishTimeoutMs) || this.publishTimeoutMs < 100) {
      throw InvalidOptions('publishTimeoutMs must be an integer ≥ 100');
    }
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: kafkaSsl(options.security),
      sasl: kafkaSasl(options.security),
      connectionTimeout: 1_000,
      requestTimeout: 10_000,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(this.logger),
      // Bounded: an outage must surface as an error within seconds, not hang the caller.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.producer = this.newProducer();
    this.admin = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 } });
    this.closeSecrets = options.security?.open?.(this.logger);
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

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      this.producerConnected = true;
      this.ready = true;
    } catch (err) {
      await this.producer.disconnect().catch(() => undefined);
      throw connectFailure(err, this.options.brokers, this.options.security);
    }
  }

  isReady(): boolean {
    return this.ready && !this.closed;
  }

  private setReady(ready: boolean): void {
    this.ready = ready;
    if (!ready && !this.probe && !this.closed) {
      // Readiness comes back without waiting for the next publish: a metadata call is enough.
      this.probe = setInterval(() => {
        this.withAdmin((admin) => admin.describeCluster()).then(
          () => {
            this.ready = true;
            clearInterval(this.probe);
            this.probe = undefined;
          },
          () => undefined,
        );
      }, READY_PROBE_MS);
      this.probe.unref();
    }
  }

  private async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    this.adminConnected ??= this.admin.connect().catch((err: unknown) => {
      this.adminConnected = undefined;
      throw err;
    });
    await this.adminConnected;
    return fn(this.admin);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(topics)) throw InvalidOptions('ensureTopics takes an array of topic specs');
    const specs = topics.map((spec) => {
      checkTopic(spec?.topic);
      const partitions = spec.partitions ?? this.defaultPartitions;
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
        throw InvalidOptions(`partitions of ${spec.topic} must be an integer from 1 to 1000`);
      }
      const retentionMs = spec.retentionMs;
      if (retentionMs !== undefined && (!Number.isInteger(retentionMs) || retentionMs < -1)) {
        throw InvalidOptions(`retentionMs of ${spec.topic} must be -1 (unlimited) or a positive integer`);
      }
      return { topic: spec.topic, partitions, retentionMs };
    });
    // Retention is only set (and repaired) when asked for; otherwise the broker's default applies.
    const withRetention = specs.filter((s): s is typeof s & { retentionMs: number } => s.retentionMs !== undefined);
    try {
      await this.withAdmin(async (admin) => {
        const create = () =>
          admin.createTopics({
            waitForLeaders: true,
            topics: specs.map((s) => ({
              topic: s.topic,
              numPartitions: s.partitions,
              configEntries: s.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(s.retentionMs) }],
            })),
          });
        // kafkajs waits out LEADER_NOT_AVAILABLE only; a broker that has not yet applied the new
        // topic's metadata answers UNKNOWN_TOPIC_OR_PARTITION (seen on a loaded machine). Creating
        // again is harmless (an existing topic is left alone), so try again for a while.
        for (let attempt = 1; ; attempt++) {
          try {
            await create();
            break;
          } catch (err) {
            // A locked-down cluster pre-creates the topics (deploy/kafka) and grants no Create: fine when they exist.
            if (authorizationFailure(err)) {
              await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) }).catch((missing: unknown) => {
                throw BusRejected(
                  `this client may not create topics and ${specs.map((s) => s.topic).join(', ')} do not all exist (${describe(missing)}): create them beforehand (deploy/kafka/topics.yaml) or grant Create on them`,
                  { cause: err },
                );
              });
              break;
            }
            if (attempt >= 20 || !hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
            await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
          }
        }
        if (withRetention.length === 0) return;
        // Topics that already existed keep their partitions, but retention is part of the contract.
        const describeRetention = () =>
          admin.describeConfigs({
            includeSynonyms: false,
            resources: withRetention.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic, configNames: ['retention.ms'] })),
          });
        // A topic created a moment ago may not be known to every part of the broker yet.
        let described: Awaited<ReturnType<typeof describeRetention>> | undefined;
        for (let attempt = 1; !described; attempt++) {
          try {
            described = await describeRetention();
          } catch (err) {
            if (attempt >= 15 || !hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        const drift = withRetention.filter((s) => {
          const res = described.resources.find((r) => r.resourceName === s.topic);
          const value = res?.configEntries.find((c) => c.configName === 'retention.ms')?.configValue;
          return value !== String(s.retentionMs);
        });
        if (drift.length > 0) {
          this.logger.warn({ topics: drift.map((d) => d.topic) }, 'topic retention differs from the spec; altering it');
          await admin.alterConfigs({
            validateOnly: false,
            resources: drift.map((s) => ({
              type: ConfigResourceTypes.TOPIC,
              name: s.topic,
              configEntries: [{ name: 'retention.ms', value: String(s.retentionMs) }],
            })),
          });
        }
      });
      this.setReady(true);
    } catch (err) {
      if (err instanceof JitError) throw err;
      if (isTransient(err)) {
        this.setReady(false);
        throw BusUnavailable(`creating topics: ${describe(err)}`, { cause: err });
      }
      throw authorizationFailure(err)
        ? accessFailure(`ensuring topics ${specs.map((s) => s.topic).join(', ')}`, err)
        : BusRejected(`creating topics: ${describe(err)}`, { cause: err });
    }
  }

  async publish(topic: string, key: string, event: CloudEventJson): Promise<void> {
    this.assertOpen();
    checkTopic(topic);
    checkKey(key);
    const value = encodeEvent(event, this.maxEventBytes);
    try {
      await this.enqueue(topic, key, value, {});
    } catch (err) {
      this.metrics.publishFailed(topic, errorCode(err));
      throw err;
    }
    this.metrics.published(topic);
  }

  /** Queues a record; records queued in the same turn go out in one request, in call order. */
  private enqueue(topic: string, key: string, value: Buffer, headers: IHeaders): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.setReady(false);
        reject(BusUnavailable(`no acknowledgement within ${this.publishTimeoutMs} ms`));
      }, this.publishTimeoutMs);
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
            timeout: this.publishTimeoutMs,
            topicMessages: [{ topic, messages: list.map((o) => ({ key: o.key, value: o.value, headers: o.headers })) }],
          });
          this.setReady(true);
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
    if (transient) this.setReady(false);
    this.logger.warn({ records: records.length, topic: records[0]?.topic, error: describe(err), transient }, 'publish failed');
    const failure = transient ? BusUnavailable(describe(err), { cause: err }) : BusRejected(describe(err), { cause: err });
    for (const o of records) o.reject(failure);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const opts = checkSubscribeOptions(options);
    const { topic, groupId } = opts;
    const partitions = await this.partitionCount(topic);
    if (partitions === undefined) await this.ensureTopics([{ topic, partitions: this.defaultPartitions }]);
    // Dead letters are evidence: kept without time limit.
    await this.ensureTopics([{ topic: topic + DEAD_LETTER_SUFFIX, partitions: partitions ?? this.defaultPartitions, retentionMs: -1 }]);

    if (opts.startFrom === 'latest') await this.pinLatest(groupId, topic);

    const commitIntervalMs = this.options.commitIntervalMs ?? 200;
    const signal = new StopSignal();
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    // Proof of membership for assertOwned: how often this member (re)joined the group (every join
    // revokes what it held), and when the coordinator last answered one of its heartbeats as a
    // member of the group (OK; REBALANCE_IN_PROGRESS still means a member, until it rejoins).
    let joins = 0;
    let memberSeenAt = 0;
    consumer.on(consumer.events.HEARTBEAT, () => (memberSeenAt = Date.now()));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      joins++;
      memberSeenAt = Date.now();
      const assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      Promise.resolve()
        .then(() => opts.onAssignment?.(assigned))
        .catch((err: unknown) => this.logger.warn({ groupId, topic, ...errorFields(err) }, 'onAssignment threw'));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.logger.error({ groupId, topic, error: describe(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: opts.startFrom === 'earliest' });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 4,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const sleep = async (ms: number): Promise<void> => {
            // Long backoffs keep the membership alive.
            for (let left = ms; left > 0 && !signal.stopped; left -= 1_000) {
              await signal.sleep(Math.min(left, 1_000));
              await heartbeat();
            }
          };
          const partition = batch.partition;
          const joinedAs = joins;
          const beat = async (): Promise<void> => {
            try {
              await heartbeat();
            } catch (err) {
              if (!hasKafkaType(err, 'REBALANCE_IN_PROGRESS')) throw err;
              memberSeenAt = Date.now();
            }
          };
          // A handler's last check before a side effect that must happen once (see BusMessage.assertOwned).
          const assertOwned = async (): Promise<void> => {
            if (joins !== joinedAs || signal.stopped || !isRunning()) throw BusPartitionLost(topic, partition);
            try {
              await beat();
            } catch (err) {
              if (NOT_A_MEMBER.some((type) => hasKafkaType(err, type))) throw BusPartitionLost(topic, partition, { cause: err });
              throw BusUnavailable(`confirming that ${groupId} still holds ${topic}/${partition}: ${describe(err)}`, { cause: err });
            }
            if (joins !== joinedAs || isStale() || Date.now() - memberSeenAt > MEMBERSHIP_PROOF_MS) throw BusPartitionLost(topic, partition);
          };
          // Offsets are committed only for handled (or dead-lettered) messages: at the end of the
          // batch, every commitIntervalMs inside a long one, and on the way out of a stop/rebalance.
          let handled: string | undefined;
          let lastCommit = Date.now();
          const commit = async (): Promise<void> => {
            if (handled === undefined) return;
            const offset = (BigInt(handled) + 1n).toString();
            handled = undefined;
            lastCommit = Date.now();
            try {
              await consumer.commitOffsets([{ topic, partition, offset }]);
            } catch (err) {
              // Handled but not committed: whoever owns the partition next sees it again (at-least-once).
              this.logger.warn({ groupId, topic, partition, offset, error: describe(err) }, 'offset commit failed');
            }
          };
          try {
            for (const message of batch.messages) {
              if (!isRunning() || isStale() || signal.stopped) return;
              const key = message.key?.toString('utf8') ?? '';
              const parsed = message.value ? parseCloudEvent(message.value.toString('utf8')) : { problem: 'no value' };
              let ok: boolean;
              if ('problem' in parsed) {
                this.logger.error(
                  { topic, partition, offset: message.offset, problem: parsed.problem },
                  MalformedMessage(parsed.problem).message,
                );
                ok = await this.deadLetterRaw(
                  topic,
                  key,
                  message.value ?? Buffer.alloc(0),
                  { code: MalformedMessage.code, attempts: 0, partition, offset: message.offset },
                  signal,
                );
                if (ok) this.metrics.delivered(topic, groupId, 'malformed');
              } else {
                const base = { topic, partition, offset: message.offset, key, event: parsed.event };
                // A handler may take longer than the session (an issuer retrying through a substrate
                // outage): the member keeps heartbeating meanwhile, or the group would hand the
                // partition to another member while this one is still at work.
                const keepAlive = setInterval(() => void beat().catch(() => undefined), HANDLER_HEARTBEAT_MS);
                let outcome: Awaited<ReturnType<typeof deliver>>;
                try {
                  outcome = await deliver({ ...base, assertOwned }, opts.handler, {
                    maxAttempts: opts.maxAttempts,
                    retryBackoffMs: opts.retryBackoffMs,
                    signal,
                    logger: this.logger,
                    sleep,
                  });
                } finally {
                  clearInterval(keepAlive);
                }
                this.metrics.delivered(topic, groupId, outcome.kind);
                if (outcome.kind === 'aborted') return;
                ok =
                  outcome.kind === 'done' ||
                  (await this.deadLetterEvent(
                    deadLetterEvent(parsed.event, { ...base, code: outcome.code, attempts: outcome.attempts }),
                    key,
                    signal,
                  ));
              }
              if (!ok) return;
              resolveOffset(message.offset);
              handled = message.offset;
              if (Date.now() - lastCommit >= commitIntervalMs) await commit();
              await heartbeat();
            }
          } finally {
            await commit();
          }
        },
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      if (err instanceof JitError) throw err;
      throw accessFailure(`subscribing ${groupId} to ${topic}`, err);
    }
    let stopping: Promise<void> | undefined;
    const handle = {
      stop: () =>
        (stopping ??= (async () => {
          signal.raise();
          // disconnect = stop (waits for the in-flight batch, which commits what it handled) + leave group
          await consumer.disconnect().catch((err: unknown) => this.logger.warn({ groupId, error: describe(err) }, 'consumer disconnect failed'));
          if (opts.ephemeral) {
            // the member has left, so the group is empty and can go (it would linger until offsets expire)
            await this.withAdmin((admin) => admin.deleteGroups([groupId])).catch((err: unknown) =>
              this.logger.warn({ groupId, error: describe(err) }, 'could not delete the ephemeral consumer group'),
            );
          }
          this.subscriptions.delete(handle);
        })()),
    };
    this.subscriptions.add(handle);
    return { groupId, topic, stop: handle.stop };
  }

  /**
   * A new group starting at 'latest' gets the current ends committed before it joins, so
   * "latest" means "as of subscribe()" — not whenever the first fetch happens to run.
   */
  private async pinLatest(groupId: string, topic: string): Promise<void> {
    try {
      await this.withAdmin(async (admin) => {
        const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
        const has = committed.some((t) => t.partitions.some((p) => p.offset !== '-1'));
        if (has) return;
        const ends = await admin.fetchTopicOffsets(topic);
        await admin.setOffsets({ groupId, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
      });
    } catch (err) {
      // A live group already has its position; anything else is a real failure.
      if (/no running instances/i.test(String((err as Error).message))) return;
      throw accessFailure(`setting the start offsets of ${groupId}`, err);
    }
  }

  private async partitionCount(topic: string): Promise<number | undefined> {
    try {
      const meta = await this.withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }));
      return meta.topics[0]?.partitions.length;
    } catch (err) {
      if (hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) return undefined;
      throw accessFailure(`reading metadata of ${topic}`, err);
    }
  }

  private async deadLetterEvent(event: CloudEventJson, key: string, signal: StopSignal): Promise<boolean> {
    const headers: IHeaders = {
      'jit-dlq-code': String(event[DLQ_EXTENSIONS.code]),
      'jit-dlq-attempts': String(event[DLQ_EXTENSIONS.attempts]),
      'jit-dlq-topic': String(event[DLQ_EXTENSIONS.topic]),
      'jit-dlq-partition': String(event[DLQ_EXTENSIONS.partition]),
      'jit-dlq-offset': String(event[DLQ_EXTENSIONS.offset]),
    };
    const value = encodeEvent(event, this.maxEventBytes + 4096);
    return this.sendDeadLetter(String(event[DLQ_EXTENSIONS.topic]) + DEAD_LETTER_SUFFIX, key, value, headers, signal);
  }

  /** A record that is not a CloudEvent goes to the DLQ byte for byte, described by headers. */
  private deadLetterRaw(
    topic: string,
    key: string,
    value: Buffer,
    info: { code: string; attempts: number; partition: number; offset: string },
    signal: StopSignal,
  ): Promise<boolean> {
    const headers: IHeaders = {
      'jit-dlq-code': info.code,
      'jit-dlq-attempts': String(info.attempts),
      'jit-dlq-topic': topic,
      'jit-dlq-partition': String(info.partition),
      'jit-dlq-offset': info.offset,
    };
    return this.sendDeadLetter(topic + DEAD_LETTER_SUFFIX, key || 'malformed', value, headers, signal);
  }

  private async sendDeadLetter(dlq: string, key: string, value: Buffer, headers: IHeaders, signal: StopSignal): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.enqueue(dlq, key, value, headers);
        return true;
      } catch (err) {
        this.logger.error({ topic: dlq, attempt, ...errorFields(err) }, 'could not dead-letter a message; retrying');
        if (signal.stopped) return false;
        await signal.sleep(Math.min(100 * 2 ** attempt, 5_000));
        if (signal.stopped) return false;
      }
    }
  }

  async replay(
    topic: string,
    handler: (message: BusMessage) => void | Promise<void>,
    options: ReplayOptions = {},
  ): Promise<void> {
    this.assertOpen();
    checkTopic(topic);
    let watermarks: { partition: number; high: string; low: string }[];
    try {
      watermarks = await this.withAdmin((admin) => admin.fetchTopicOffsets(topic));
    } catch (err) {
      if (hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) return;
      throw accessFailure(`reading offsets of ${topic}`, err);
    }
    const known = new Set(watermarks.map((w) => w.partition));
    for (const p of options.partitions ?? []) {
      if (!known.has(p)) throw InvalidOptions(`replay partition ${String(p)} does not exist on ${topic}`);
    }
    const wanted = new Set(options.partitions ?? known);
    // The last offset to read per partition, fixed now: later events are not part of this replay.
    const last = new Map<number, bigint>();
    for (const w of watermarks) {
      if (wanted.has(w.partition) && BigInt(w.high) > BigInt(w.low)) last.set(w.partition, BigInt(w.high) - 1n);
    }
    if (last.size === 0) return;

    const groupId = `jit-replay-${this.options.clientId}-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
    let finish!: (err?: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      finish = (err?: unknown) => (err === undefined ? resolve() : reject(err));
    });
    finished.catch(() => undefined); // observed below; avoids an unhandled rejection before the await
    let failed = false;
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) finish(BusUnavailable(`replay of ${topic}: ${describe(e.payload.error)}`, { cause: e.payload.error }));
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 1,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset }) => {
          const end = last.get(batch.partition);
          if (end === undefined) {
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            return;
          }
          for (const message of batch.messages) {
            if (failed) break;
            const offset = BigInt(message.offset);
            if (offset > end) break;
            const parsed = message.value ? parseCloudEvent(message.value.toString('utf8')) : { problem: 'no value' };
            if ('problem' in parsed) {
              this.logger.error({ topic, partition: batch.partition, offset: message.offset, problem: parsed.problem }, 'replay skipped a malformed record');
            } else {
              try {
                await handler({
                  topic,
                  partition: batch.partition,
                  offset: message.offset,
                  key: message.key?.toString('utf8') ?? '',
                  event: parsed.event,
                  attempt: 1,
                });
              } catch (err) {
                failed = true;
                finish(err);
                return;
              }
            }
            resolveOffset(message.offset);
            if (offset === end) {
              last.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              if (last.size === 0) finish();
              return;
            }
          }
        },
      });
      await finished;
    } catch (err) {
      if (err instanceof JitError || failed) throw err;
      throw BusUnavailable(`replay of ${topic}: ${describe(err)}`, { cause: err });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => undefined);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.probe) clearInterval(this.probe);
      await Promise.allSettled([...this.subscriptions].map((s) => s.stop()));
      while (this.sending || this.queue.length > 0) {
        if (this.sending) await this.sending;
        else await (this.sending = this.flush().finally(() => (this.sending = undefined)));
      }
      await this.producer.disconnect().catch(() => undefined);
      if (this.adminConnected) await this.admin.disconnect().catch(() => undefined);
      this.closeSecrets?.();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw BusClosed();
  }
}
