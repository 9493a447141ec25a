// Subscriptions on Kafka: one kafkajs consumer per subscription, handling each partition in order
// and committing an offset only after its handler succeeded (or the message was dead-lettered).
// The member keeps heartbeating through long handlers and backoffs, and proves it still holds the
// partition (assertOwned) before a handler's side effect that must happen once.
import { DEAD_LETTER_SUFFIX } from '@jit/contracts';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { SubscribeOptions, Subscription, TopicSpec } from './event-bus';
import { BusPartitionLost, BusUnavailable, MalformedMessage } from './errors';
import { StopSignal, deadLetterEvent, deliver, errorFields } from './delivery';
import type { KafkaAdmin } from './kafka-admin';
import { accessFailure, describe, hasKafkaType, type Kafka, type KafkaBusOptions } from './kafka-client';
import type { Consumer } from 'kafkajs';
import type { KafkaDeadLetters } from './kafka-dead-letters';
import type { BusMetrics } from './metrics';
import { checkSubscribeOptions, parseCloudEvent } from './validate';

const HEARTBEAT_INTERVAL_MS = 3_000;
/**
 * assertOwned accepts a coordinator's answer to one of this member's heartbeats at most this old as
 * proof of membership. kafkajs sends a heartbeat only when the last successful one is older than
 * HEARTBEAT_INTERVAL_MS, so a fresh answer is always at hand while the member is in the group.
 */
const MEMBERSHIP_PROOF_MS = HEARTBEAT_INTERVAL_MS + 500;
/** While a handler runs, the member heartbeats this often (kafkajs sends one per HEARTBEAT_INTERVAL_MS). */
const HANDLER_HEARTBEAT_MS = 1_000;
/** The first wait before jit starts again a consumer kafkajs left stopped; it doubles up to RESTART_MAX_MS. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** Heartbeat answers saying this member is no longer in the group's current generation. */
const NOT_A_MEMBER = ['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID'];

/** What a subscription uses of the bus. */
export interface KafkaConsumerParts {
  kafka: Kafka;
  options: KafkaBusOptions;
  logger: Logger;
  metrics: BusMetrics;
  admin: KafkaAdmin;
  deadLetters: KafkaDeadLetters;
  defaultPartitions: number;
  /** The bus's ensureTopics (refuses once the bus is closed). */
  ensureTopics: (topics: TopicSpec[]) => Promise<void>;
  /** Live subscriptions, stopped when the bus closes; a subscription removes itself once stopped. */
  subscriptions: Set<{ stop(): Promise<void> }>;
}

export async function subscribeKafka(parts: KafkaConsumerParts, options: SubscribeOptions): Promise<Subscription> {
  const opts = checkSubscribeOptions(options);
  const { topic, groupId } = opts;
  const partitions = await parts.admin.partitionCount(topic);
  if (partitions === undefined) await parts.ensureTopics([{ topic, partitions: parts.defaultPartitions }]);
  // Dead letters are evidence: kept without time limit.
  await parts.ensureTopics([{ topic: topic + DEAD_LETTER_SUFFIX, partitions: partitions ?? parts.defaultPartitions, retentionMs: -1 }]);

  if (opts.startFrom === 'latest') await parts.admin.pinLatest(groupId, topic);

  const commitIntervalMs = parts.options.commitIntervalMs ?? 200;
  const signal = new StopSignal();
  const newConsumer = () =>
    parts.kafka.consumer({
      groupId,
      sessionTimeout: parts.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
  let consumer = newConsumer();
  // Proof of membership for assertOwned: how often this member (re)joined the group (every join
  // revokes what it held), and when the coordinator last answered one of its heartbeats as a
  // member of the group (OK; REBALANCE_IN_PROGRESS still means a member, until it rejoins).
  let joins = 0;
  let memberSeenAt = 0;
  // kafkajs restarts a consumer that crashed on a retriable error, and leaves one that crashed on
  // any other (an authorization refused while an operator fixes an ACL, a protocol error after a
  // broker's unclean restart) stopped for good: the process would look healthy and read nothing
  // (the chaos run's read model stopped so after a run of broker restarts). jit starts such a
  // consumer again itself, after a growing wait, until the subscription is stopped.
  let restarts = 0;
  let restarting: Promise<void> | undefined;
  const restartAfter = (error: unknown): void => {
    if (signal.stopped) return;
    const waitMs = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.min(restarts++, 8));
    parts.logger.error({ groupId, topic, error: describe(error), restartInMs: waitMs }, 'consumer stopped on an error kafkajs does not restart from; starting it again');
    restarting = (async () => {
      await signal.sleep(waitMs);
      if (signal.stopped) return;
      const next = newConsumer();
      consumer = next;
      try {
        await begin(next);
      } catch (err) {
        await next.disconnect().catch(() => undefined);
        restartAfter(err);
      }
    })();
  };
  const watch = (c: Consumer): void => {
    c.on(c.events.HEARTBEAT, () => (memberSeenAt = Date.now()));
    c.on(c.events.GROUP_JOIN, (e) => {
      restarts = 0;
      joins++;
      memberSeenAt = Date.now();
      const assigned = [...(e.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      Promise.resolve()
        .then(() => opts.onAssignment?.(assigned))
        .catch((err: unknown) => parts.logger.warn({ groupId, topic, ...errorFields(err) }, 'onAssignment threw'));
    });
    c.on(c.events.CRASH, (e) => {
      parts.logger.error({ groupId, topic, error: describe(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
      // the crashed consumer has disconnected itself; only the one in use is started again
      if (!e.payload.restart && c === consumer) restartAfter(e.payload.error);
    });
  };
  const begin = async (c: Consumer): Promise<void> => {
    watch(c);
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: opts.startFrom === 'earliest' });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: parts.options.partitionsConsumedConcurrently ?? 4,
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
            await c.commitOffsets([{ topic, partition, offset }]);
          } catch (err) {
            // Handled but not committed: whoever owns the partition next sees it again (at-least-once).
            parts.logger.warn({ groupId, topic, partition, offset, error: describe(err) }, 'offset commit failed');
          }
        };
        try {
          for (const message of batch.messages) {
            if (!isRunning() || isStale() || signal.stopped) return;
            const key = message.key?.toString('utf8') ?? '';
            const parsed = message.value ? parseCloudEvent(message.value.toString('utf8')) : { problem: 'no value' };
            let ok: boolean;
            if ('problem' in parsed) {
              parts.logger.error({ topic, partition, offset: message.offset, problem: parsed.problem }, MalformedMessage(parsed.problem).message);
              ok = await parts.deadLetters.raw(topic, key, message.value ?? Buffer.alloc(0), { code: MalformedMessage.code, attempts: 0, partition, offset: message.offset }, signal);
              if (ok) parts.metrics.delivered(topic, groupId, 'malformed');
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
                  logger: parts.logger,
                  sleep,
                });
              } finally {
                clearInterval(keepAlive);
              }
              parts.metrics.delivered(topic, groupId, outcome.kind);
              if (outcome.kind === 'aborted') return;
              ok = outcome.kind === 'done' || (await parts.deadLetters.event(deadLetterEvent(parsed.event, { ...base, code: outcome.code, attempts: outcome.attempts }), key, signal));
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
  };
  try {
    await begin(consumer);
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
        await restarting;
        // disconnect = stop (waits for the in-flight batch, which commits what it handled) + leave group
        await consumer.disconnect().catch((err: unknown) => parts.logger.warn({ groupId, error: describe(err) }, 'consumer disconnect failed'));
        if (opts.ephemeral) {
          // the member has left, so the group is empty and can go (it would linger until offsets expire)
          await parts.admin.deleteGroup(groupId).catch((err: unknown) => parts.logger.warn({ groupId, error: describe(err) }, 'could not delete the ephemeral consumer group'));
        }
        parts.subscriptions.delete(handle);
      })()),
  };
  parts.subscriptions.add(handle);
  return { groupId, topic, stop: handle.stop };
}
