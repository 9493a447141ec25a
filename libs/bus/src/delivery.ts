// One message through a handler: attempts with capped exponential backoff (the one retry helper,
// waiting through the consumer's own sleep), a stop that interrupts waiting (never a running
// handler), and the dead-letter copy of the event.
import { JitError, retryRetriable } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { BusMessage, CloudEventJson, MessageHandler } from './event-bus';
import { BusPartitionLost, HandlerFailed } from './errors';

export const MAX_BACKOFF_MS = 10_000;

export type DeliveryOutcome = { kind: 'done' } | { kind: 'dead'; code: string; attempts: number } | { kind: 'aborted' };

/** A stop flag whose sleeps end early when it is raised. */
export class StopSignal {
  private raised = false;
  private wakers = new Set<() => void>();
  private resolveRaised!: () => void;
  /** Resolves when the signal is raised. */
  readonly whenRaised: Promise<void> = new Promise((resolve) => (this.resolveRaised = resolve));

  get stopped(): boolean {
    return this.raised;
  }

  raise(): void {
    this.raised = true;
    this.resolveRaised();
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  /**
   * Resolves when `arm`'s wake callback fires or the signal is raised, whichever comes first;
   * `arm` returns how to disarm, which runs either way (no waiter outlives its wait).
   */
  wait(arm: (wake: () => void) => () => void): Promise<void> {
    if (this.raised) return Promise.resolve();
    return new Promise((resolve) => {
      const armed: { disarm?: () => void } = {};
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        this.wakers.delete(done);
        armed.disarm?.();
        resolve();
      };
      this.wakers.add(done);
      armed.disarm = arm(done);
      if (finished) armed.disarm();
    });
  }

  /** Resolves after ms, or at once when raised. */
  sleep(ms: number): Promise<void> {
    if (this.raised) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}

export function errorCode(err: unknown): string {
  if (err instanceof JitError) return err.code;
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && /^JIT_ERR_[A-Z0-9_]+$/.test(code)) return code;
  return HandlerFailed.code;
}

/** Log fields for a handler error: a JitError's message is secret-free by contract, a foreign one may not be. */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, retriable: err.retriable, reason: err.message };
  return { code: errorCode(err), errorName: err instanceof Error ? err.name : typeof err };
}

export interface DeliverOptions {
  maxAttempts: number;
  retryBackoffMs: number;
  signal: StopSignal;
  logger: Logger;
  /** How to wait between attempts (the Kafka bus heartbeats while it waits). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs the handler until it succeeds, the attempts are spent (→ dead), the error says a retry
 * cannot help (non-retriable JitError → dead at once), or the consumer stops or lost the message's
 * partition (→ aborted, not committed).
 */
export async function deliver(base: Omit<BusMessage, 'attempt'>, handler: MessageHandler, opts: DeliverOptions): Promise<DeliveryOutcome> {
  let attempt = 0;
  const where = () => ({ topic: base.topic, partition: base.partition, offset: base.offset, attempt });
  // Another member holds the partition now and handles the message: neither retry nor dead-letter it.
  const lost = (err: unknown) => errorCode(err) === BusPartitionLost.code;
  // A handler's failure outside the catalogue is retried here, unlike ADR 0012's default: the
  // attempts are few and bounded, and what is left goes to the dead-letter topic, not away.
  const final = (err: unknown) => lost(err) || attempt >= opts.maxAttempts || (err instanceof JitError && !err.retriable);
  const sleep = opts.sleep ?? ((ms: number) => opts.signal.sleep(ms));
  // A failing wait (the Kafka member's heartbeat) is not the handler's failure: it leaves deliver as it is.
  let sleepFailure: { err: unknown } | undefined;
  try {
    await retryRetriable(
      async () => {
        attempt++;
        await handler({ ...base, attempt });
      },
      {
        retriable: (err) => !final(err),
        cancelled: () => opts.signal.stopped,
        sleep: (ms) =>
          sleep(ms).catch((err: unknown) => {
            sleepFailure = { err };
            throw err;
          }),
        baseMs: opts.retryBackoffMs,
        maxMs: MAX_BACKOFF_MS,
        timeoutMs: Infinity,
        onRetry: (err) => opts.logger.warn({ ...where(), ...errorFields(err) }, 'handler failed; retrying'),
      },
    );
    return { kind: 'done' };
  } catch (err) {
    if (sleepFailure) throw sleepFailure.err;
    if (lost(err)) {
      opts.logger.warn({ ...where(), ...errorFields(err) }, 'partition lost while handling; the member that holds it now handles the message');
      return { kind: 'aborted' };
    }
    if (!final(err)) return { kind: 'aborted' };
    opts.logger.warn({ ...where(), ...errorFields(err) }, 'handler failed for good; dead-lettering the message');
    return { kind: 'dead', code: errorCode(err), attempts: attempt };
  }
}

/**
 * Writes a dead-lettered copy: retried on any error with capped backoff (200 ms doubling to 5 s) until
 * it is written — a dead letter must never be lost (ADR 0012) — or the consumer stops (false).
 */
export async function sendDeadLetter(send: () => Promise<unknown>, o: { topic: string; signal: StopSignal; logger: Logger; closed?: () => boolean }): Promise<boolean> {
  let attempt = 0;
  try {
    await retryRetriable(
      async () => {
        attempt++;
        try {
          await send();
        } catch (err) {
          o.logger.error({ topic: o.topic, attempt, ...errorFields(err) }, 'could not dead-letter a message; retrying');
          throw err;
        }
      },
      { retriable: () => true, cancelled: () => o.signal.stopped || o.closed?.() === true, sleep: (ms) => o.signal.sleep(ms), baseMs: 200, maxMs: 5_000, timeoutMs: Infinity },
    );
    return true;
  } catch {
    return false;
  }
}

/** CloudEvents extension attributes on a dead-lettered copy (lowercase, ≤ 20 chars per the spec). */
export const DLQ_EXTENSIONS = {
  topic: 'jitdlqtopic',
  partition: 'jitdlqpartition',
  offset: 'jitdlqoffset',
  code: 'jitdlqcode',
  attempts: 'jitdlqattempts',
} as const;

export function deadLetterEvent(event: CloudEventJson, info: { topic: string; partition: number; offset: string; code: string; attempts: number }): CloudEventJson {
  return {
    ...event,
    [DLQ_EXTENSIONS.topic]: info.topic,
    [DLQ_EXTENSIONS.partition]: info.partition,
    [DLQ_EXTENSIONS.offset]: info.offset,
    [DLQ_EXTENSIONS.code]: info.code,
    [DLQ_EXTENSIONS.attempts]: info.attempts,
  };
}
