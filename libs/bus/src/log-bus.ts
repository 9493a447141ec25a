// The in-process bus engine behind the embedded bus (file log) and the memory double:
// keyed partitions, consumer groups with committed offsets, per-partition workers that
// commit after the handler succeeds, retries, dead-lettering, replay and rebalancing.
import type { Logger } from '@jit/observability';
import type { BusMessage, CloudEventJson, EventBus, ReplayOptions, SubscribeOptions, Subscription, TopicSpec } from './event-bus';
import { BusClosed, InvalidOptions, MalformedMessage } from './errors';
import { StopSignal, deadLetterEvent, deliver, errorCode, errorFields, sendDeadLetter } from './delivery';
import { type ResolvedSubscribeOptions, checkKey, checkSubscribeOptions, checkTopic, encodeEvent, encodeEventChunks } from './validate';
import { DEAD_LETTER_SUFFIX } from '@jit/contracts';
import { LogOffsets } from './log-offsets';
import { decodeRecord, partitionFor, recordChunks, type LogStore, type PartitionLog, type TopicLog } from './log-store';
import type { BusMetrics } from './metrics';

export interface LogBusOptions {
  store: LogStore;
  logger: Logger;
  /** Partitions of a topic created implicitly (publish/subscribe before ensureTopics). */
  defaultPartitions: number;
  maxEventBytes: number;
  metrics?: BusMetrics;
  /** Runs after everything is flushed and the store closed (releases the lock). */
  onClosed?: () => Promise<void>;
}

const READ_BATCH = 256;

class Member {
  partitions: number[] = [];
  constructor(readonly options: ResolvedSubscribeOptions) {}
}

class Group {
  readonly members: Member[] = [];
  workers: { signal: StopSignal; done: Promise<void> }[] = [];
  /** Serialises rebalances. */
  queue: Promise<void> = Promise.resolve();
  constructor(
    readonly groupId: string,
    readonly topic: string,
    readonly committed: number[],
  ) {}
}

export class LogBus implements EventBus {
  readonly kind = 'embedded' as const;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly groups = new Map<string, Group>();
  private readonly appendWaiters = new Map<string, Set<() => void>>();
  private readonly creating = new Map<string, Promise<TopicLog>>();
  private readonly offsets: LogOffsets;
  private readonly inflightPublishes = new Set<Promise<unknown>>();

  constructor(private readonly opts: LogBusOptions) {
    this.offsets = new LogOffsets(opts.store, opts.logger);
  }

  /** Loads committed offsets; call once before use. */
  async init(): Promise<this> {
    await this.offsets.load();
    return this;
  }

  isReady(): boolean {
    return !this.closed && this.opts.store.healthy();
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(topics)) throw InvalidOptions('ensureTopics takes an array of topic specs');
    for (const spec of topics) {
      checkTopic(spec?.topic);
      const partitions = spec.partitions ?? this.opts.defaultPartitions;
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
        throw InvalidOptions(`partitions of ${spec.topic} must be an integer from 1 to 1000`);
      }
      const retentionMs = spec.retentionMs ?? -1;
      if (!Number.isInteger(retentionMs) || retentionMs < -1) {
        throw InvalidOptions(`retentionMs of ${spec.topic} must be -1 (unlimited) or a positive integer`);
      }
      const existing = this.opts.store.topic(spec.topic);
      if (existing) {
        if (existing.partitions.length !== partitions) {
          this.opts.logger.warn({ topic: spec.topic, have: existing.partitions.length, asked: partitions }, 'topic exists with another partition count; keeping it (as Kafka would)');
        }
        continue;
      }
      await this.topicLog(spec.topic, partitions, retentionMs);
    }
  }

  async publish(topic: string, key: string, event: CloudEventJson): Promise<void> {
    this.assertOpen();
    checkTopic(topic);
    checkKey(key);
    const chunks = encodeEventChunks(event, this.opts.maxEventBytes);
    try {
      await this.append(topic, key, chunks);
    } catch (err) {
      this.opts.metrics?.publishFailed(topic, errorCode(err));
      throw err;
    }
    this.opts.metrics?.published(topic);
  }

  private async append(topic: string, key: string, eventBytes: Buffer | readonly Buffer[]): Promise<void> {
    const work = (async () => {
      const log = this.opts.store.topic(topic) ?? (await this.topicLog(topic));
      const partition = partitionFor(key, log.partitions.length);
      await log.partitions[partition]!.append(recordChunks(key, eventBytes));
      this.wake(topic);
    })();
    this.inflightPublishes.add(work);
    try {
      await work;
    } finally {
      this.inflightPublishes.delete(work);
    }
  }

  /** The topic's log, created once (concurrent callers share the creation, keeping call order). */
  private topicLog(topic: string, partitions = this.opts.defaultPartitions, retentionMs = -1): Promise<TopicLog> {
    const existing = this.opts.store.topic(topic);
    if (existing) return Promise.resolve(existing);
    let pending = this.creating.get(topic);
    if (!pending) {
      pending = this.opts.store.createTopic(topic, partitions, retentionMs).finally(() => this.creating.delete(topic));
      this.creating.set(topic, pending);
    }
    return pending;
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const resolved = checkSubscribeOptions(options);
    const log = await this.topicLog(resolved.topic);
    const id = `${resolved.groupId}\u0000${resolved.topic}`;
    let group = this.groups.get(id);
    if (!group) {
      group = new Group(resolved.groupId, resolved.topic, this.offsets.initial(resolved, log));
      this.groups.set(id, group);
    }
    const member = new Member(resolved);
    group.members.push(member);
    await this.rebalance(group);
    let stopping: Promise<void> | undefined;
    const g = group;
    return {
      groupId: resolved.groupId,
      topic: resolved.topic,
      stop: () => (stopping ??= this.leave(g, member, id)),
    };
  }

  private async leave(group: Group, member: Member, id: string): Promise<void> {
    const at = group.members.indexOf(member);
    if (at >= 0) group.members.splice(at, 1);
    await this.rebalance(group);
    if (group.members.length === 0 && this.groups.get(id) === group) {
      this.groups.delete(id);
      if (member.options.ephemeral) this.offsets.drop(group.groupId, group.topic);
    }
    await this.offsets.flush();
  }

  /** Eager rebalance: stop every worker (in-flight handlers finish), reassign, notify, restart. */
  private rebalance(group: Group): Promise<void> {
    const run = async (): Promise<void> => {
      for (const w of group.workers) w.signal.raise();
      await Promise.all(group.workers.map((w) => w.done));
      group.workers = [];
      const log = this.opts.store.topic(group.topic);
      if (!log) return;
      const count = log.partitions.length;
      group.members.forEach((m) => (m.partitions = []));
      if (group.members.length > 0) {
        for (let p = 0; p < count; p++) group.members[p % group.members.length]!.partitions.push(p);
      }
      for (const member of group.members) {
        try {
          await member.options.onAssignment?.([...member.partitions]);
        } catch (err) {
          this.opts.logger.warn({ groupId: group.groupId, topic: group.topic, ...errorFields(err) }, 'onAssignment threw');
        }
      }
      if (this.closed) return;
      for (const member of group.members) {
        for (const p of member.partitions) {
          const signal = new StopSignal();
          const done = this.runWorker(group, member, p, log.partitions[p]!, signal);
          group.workers.push({ signal, done });
        }
      }
    };
    group.queue = group.queue.then(run, run);
    return group.queue;
  }

  /** Resolves at the next append to the topic, or when the worker is stopped. */
  private nextAppend(topic: string, signal: StopSignal): Promise<void> {
    return signal.wait((wake) => {
      let set = this.appendWaiters.get(topic);
      if (!set) this.appendWaiters.set(topic, (set = new Set()));
      const waiters = set;
      waiters.add(wake);
      return () => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.appendWaiters.get(topic) === waiters) this.appendWaiters.delete(topic);
      };
    });
  }

  private wake(topic: string): void {
    const set = this.appendWaiters.get(topic);
    if (!set) return;
    this.appendWaiters.delete(topic);
    for (const resolve of set) resolve();
  }

  private async runWorker(group: Group, member: Member, partition: number, log: PartitionLog, signal: StopSignal): Promise<void> {
    const { topic } = group;
    const logger = this.opts.logger;
    while (!signal.stopped) {
      try {
        const from = group.committed[partition]!;
        if (from >= log.end) {
          await this.nextAppend(topic, signal);
          continue;
        }
        const batch = await log.read(from, READ_BATCH);
        for (let i = 0; i < batch.length; i++) {
          if (signal.stopped) return;
          const offset = from + i;
          const decoded = decodeRecord(batch[i]!);
          let ok: boolean;
          if ('problem' in decoded) {
            logger.error({ topic, partition, offset, problem: decoded.problem }, MalformedMessage(decoded.problem).message);
            ok = await this.deadLetter(malformedEvent(topic, partition, offset, batch[i]!), `malformed-${partition}`, signal);
            if (ok) this.opts.metrics?.delivered(topic, group.groupId, 'malformed');
          } else {
            const base = { topic, partition, offset: String(offset), key: decoded.key, event: decoded.event };
            const outcome = await deliver(base, member.options.handler, {
              maxAttempts: member.options.maxAttempts,
              retryBackoffMs: member.options.retryBackoffMs,
              signal,
              logger,
            });
            this.opts.metrics?.delivered(topic, group.groupId, outcome.kind);
            if (outcome.kind === 'aborted') return;
            ok = outcome.kind === 'done' || (await this.deadLetter(deadLetterEvent(decoded.event, { ...base, code: outcome.code, attempts: outcome.attempts }), decoded.key, signal));
          }
          if (!ok) return;
          this.commit(group, partition, offset + 1);
        }
      } catch (err) {
        logger.error({ topic, partition, ...errorFields(err) }, 'consumer could not read the log; retrying in 1s');
        await signal.sleep(1000);
      }
    }
  }

  /** Publishes to `<topic>.dlq`, retrying while the bus is down; false when stopped first. */
  private async deadLetter(event: CloudEventJson, key: string, signal: StopSignal): Promise<boolean> {
    const topic = String(event['jitdlqtopic']) + DEAD_LETTER_SUFFIX;
    // A dead-lettered copy carries a few extension attributes more than the original.
    return sendDeadLetter(() => this.append(topic, key, encodeEvent(event, this.opts.maxEventBytes + 4096)), { topic, signal, logger: this.opts.logger, closed: () => this.closed });
  }

  private commit(group: Group, partition: number, next: number): void {
    group.committed[partition] = next;
    this.offsets.commit(group.groupId, group.topic, group.committed);
  }

  async replay(topic: string, handler: (message: BusMessage) => void | Promise<void>, options: ReplayOptions = {}): Promise<void> {
    this.assertOpen();
    checkTopic(topic);
    const log = this.opts.store.topic(topic);
    if (!log) return;
    const partitions = options.partitions ?? log.partitions.map((_, i) => i);
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0 || p >= log.partitions.length) {
        throw InvalidOptions(`replay partition ${String(p)} does not exist on ${topic}`);
      }
    }
    // Ends as of the call: events published during the replay are not part of it.
    const ends = partitions.map((p) => log.partitions[p]!.end);
    for (const [i, p] of partitions.entries()) {
      const part = log.partitions[p]!;
      for (let from = 0; from < ends[i]!;) {
        const batch = await part.read(from, Math.min(READ_BATCH, ends[i]! - from));
        if (batch.length === 0) break;
        for (const payload of batch) {
          const offset = from++;
          const decoded = decodeRecord(payload);
          if ('problem' in decoded) {
            this.opts.logger.error({ topic, partition: p, offset, problem: decoded.problem }, 'replay skipped a malformed record');
            continue;
          }
          await handler({ topic, partition: p, offset: String(offset), key: decoded.key, event: decoded.event, attempt: 1 });
        }
      }
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      for (const [id, group] of [...this.groups]) {
        group.members.splice(0);
        await this.rebalance(group);
        this.groups.delete(id);
      }
      await Promise.allSettled([...this.inflightPublishes]);
      await this.offsets.flush();
      await this.opts.store.close();
      await this.opts.onClosed?.();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closed) throw BusClosed();
  }
}

/** A record that is not a CloudEvent, wrapped so it can still be dead-lettered without loss. */
function malformedEvent(topic: string, partition: number, offset: number, raw: Buffer): CloudEventJson {
  return {
    specversion: '1.0',
    id: `malformed-${topic}-${partition}-${offset}`,
    source: 'jit-bus',
    type: 'dev.jit.bus.malformed.v1',
    datacontenttype: 'application/octet-stream',
    data_base64: raw.toString('base64'),
    jitdlqtopic: topic,
    jitdlqpartition: partition,
    jitdlqoffset: String(offset),
    jitdlqcode: MalformedMessage.code,
    jitdlqattempts: 0,
  };
}
