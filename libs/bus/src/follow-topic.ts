// followTopic: read a topic from a point in time (or its start) and, optionally, keep reading what
// is appended after (like `tail -f`), through any EventBus. For readers that are not a service's
// consumer group: `jit events`, the read API's event stream, a notifier or a sink that starts from a
// point. Following uses a private ephemeral group (its offsets deleted when it stops), so a reader
// never takes partitions from, nor commits for, a service's group. followLog (below) is how a
// service builds its read model of a topic.
import { randomBytes } from 'node:crypto';
import type { BusMessage, EventBus, Subscription } from './event-bus';

export interface FollowTopicOptions {
  topic: string;
  /**
   * Only events whose `time` is at or after this instant. The log is read from its start and filtered
   * (times are not ordered across keys); an event without a readable `time` is always passed on.
   */
  since?: Date;
  /** Keep delivering events appended after the end (tail -f). Default false: stop at the end as of the call. */
  follow?: boolean;
  /** Called once per event, in log order per partition. A throw stops the follower; `done` rejects with it. */
  onEvent(message: BusMessage): void | Promise<void>;
  /** Prefix of the private group's id when following. Default `jit-follow`. */
  groupPrefix?: string;
}

export interface TopicFollower {
  /** Resolves when a non-following read reached the end, or after stop(); rejects with onEvent's error. */
  readonly done: Promise<void>;
  /** Stops reading (the in-flight event finishes first). Idempotent. */
  stop(): Promise<void>;
}

/** Whether `message` is at or after `since` by its event time (unknown time: kept, nothing is lost). */
export function isAtOrAfter(message: BusMessage, since: Date | undefined): boolean {
  if (!since) return true;
  const t = typeof message.event.time === 'string' ? Date.parse(message.event.time) : Number.NaN;
  return Number.isNaN(t) || t >= since.getTime();
}

export async function followTopic(bus: EventBus, options: FollowTopicOptions): Promise<TopicFollower> {
  const { topic, since, onEvent } = options;
  let stopped = false;
  if (!options.follow) {
    const done = bus.replay(topic, async (m) => {
      if (stopped || !isAtOrAfter(m, since)) return;
      await onEvent(m);
    });
    done.catch(() => undefined); // observed by the caller through `done`
    return {
      done,
      stop: async () => {
        stopped = true;
        await done.catch(() => undefined);
      },
    };
  }

  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined);
  const held: { subscription?: Subscription } = {};
  let failure: unknown;
  const stop = async (): Promise<void> => {
    if (stopped) return done.catch(() => undefined);
    stopped = true;
    await held.subscription?.stop();
    if (failure !== undefined) settle.reject(failure);
    else settle.resolve();
  };
  const subscription = await bus.subscribe({
    topic,
    groupId: `${options.groupPrefix ?? 'jit-follow'}-${randomBytes(6).toString('hex')}`,
    startFrom: 'earliest',
    ephemeral: true,
    // a reader's failure is not the event's: never retried into the dead-letter topic
    maxAttempts: 1,
    handler: async (m) => {
      if (stopped || failure !== undefined || !isAtOrAfter(m, since)) return;
      try {
        await onEvent(m);
      } catch (err) {
        failure = err;
        // stop outside the handler: a subscription waits for its in-flight handler
        setImmediate(() => void stop());
      }
    },
  });
  held.subscription = subscription;
  if (stopped) await subscription.stop();
  return { done, stop };
}

// followLog: how a process builds a read model of a topic (ADR 0014) — follow from the latest
// offsets, replay the topic from its start, then hand over what arrived meanwhile, then live. Every
// event published before the call is replayed; every event published after the follow was pinned
// arrives live; an event published in between may come twice (replayed and live), so `onEvent` must
// be idempotent by event id (the ledger is). Live events wait until the replay and the events held
// meanwhile are handed over: a read model sees history first, in log order per partition.

export interface FollowLogOptions {
  topic: string;
  /**
   * The follow's consumer group: unique per process (every replica keeps its own read model). It is
   * ephemeral: its offsets go when the follower stops (a process killed with -9 leaves it until
   * Kafka expires it after `offsets.retention.minutes`).
   */
  groupId: string;
  /** Called once per event read: `live` is false for the replay, true from the hand-over on. */
  onEvent(message: BusMessage, live: boolean): void | Promise<void>;
}

export interface LogFollower {
  /** Stops following (the in-flight event finishes first). */
  stop(): Promise<void>;
}

/** Resolves once the replay and what arrived during it are handed over; rejects (follow stopped) when the replay fails. */
export async function followLog(bus: EventBus, options: FollowLogOptions): Promise<LogFollower> {
  const { topic, onEvent } = options;
  let live = false;
  const held: BusMessage[] = [];
  const subscription: Subscription = await bus.subscribe({
    topic,
    groupId: options.groupId,
    startFrom: 'latest',
    ephemeral: true,
    handler: async (m) => {
      if (live) await onEvent(m, true);
      else held.push(m);
    },
  });
  try {
    await bus.replay(topic, (m) => onEvent(m, false));
    // Events held meanwhile, in arrival order; more may arrive while one is handed over, and the
    // loop takes them too. No await between the last check and `live`: nothing can slip past.
    while (held.length > 0) await onEvent(held.shift()!, true);
    live = true;
  } catch (err) {
    await subscription.stop().catch(() => undefined);
    throw err;
  }
  return { stop: () => subscription.stop() };
}
