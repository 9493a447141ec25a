// Replay on Kafka: a throwaway group (jit-replay-<clientId>-<uuid>, deleted afterwards) reads each
// partition from the beginning up to the high watermark fetched at the call, in order, committing
// nothing; a malformed record is skipped (logged), a handler error rejects the replay.
import { randomUUID } from 'node:crypto';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { BusMessage, ReplayOptions } from './event-bus';
import { BusUnavailable, InvalidOptions } from './errors';
import type { KafkaAdmin } from './kafka-admin';
import { accessFailure, describe, hasKafkaType, type Kafka } from './kafka-client';
import { checkTopic, parseCloudEvent } from './validate';

/** What a replay uses of the bus. */
export interface KafkaReplayParts {
  kafka: Kafka;
  clientId: string;
  logger: Logger;
  admin: KafkaAdmin;
}

export async function replayKafka(parts: KafkaReplayParts, topic: string, handler: (message: BusMessage) => void | Promise<void>, options: ReplayOptions = {}): Promise<void> {
  checkTopic(topic);
  let watermarks: { partition: number; high: string; low: string }[];
  try {
    watermarks = await parts.admin.withAdmin((admin) => admin.fetchTopicOffsets(topic));
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

  const groupId = `jit-replay-${parts.clientId}-${randomUUID()}`;
  const consumer = parts.kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
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
            parts.logger.error({ topic, partition: batch.partition, offset: message.offset, problem: parsed.problem }, 'replay skipped a malformed record');
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
    await parts.admin.deleteGroup(groupId).catch(() => undefined);
  }
}
