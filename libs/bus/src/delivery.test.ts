import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { InvalidEvent, StorageFailed } from './errors';
import { StopSignal, backoffMs, deliver } from './delivery';

const logger = createLogger({ name: 'bus-test', level: 'silent' });
const base = { topic: 't', partition: 0, offset: '7', key: 'k', event: { specversion: '1.0' as const, id: 'e', source: 's', type: 't' } };

describe('deliver', () => {
  it('backs off exponentially from retryBackoffMs, capped at 10 s', () => {
    expect([1, 2, 3, 4].map((a) => backoffMs(200, a))).toEqual([200, 400, 800, 1600]);
    expect(backoffMs(200, 20)).toBe(10_000);
  });

  it('retries a retriable failure until it succeeds, counting attempts', async () => {
    const attempts: number[] = [];
    const outcome = await deliver(
      base,
      async (m) => {
        attempts.push(m.attempt);
        if (m.attempt < 3) throw StorageFailed('disk hiccup');
      },
      { maxAttempts: 5, retryBackoffMs: 1, signal: new StopSignal(), logger },
    );
    expect(outcome).toEqual({ kind: 'done' });
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('gives up at once on a non-retriable JitError, and after maxAttempts on anything else', async () => {
    const fatal = await deliver(base, () => Promise.reject(InvalidEvent('bad')), {
      maxAttempts: 5,
      retryBackoffMs: 1,
      signal: new StopSignal(),
      logger,
    });
    expect(fatal).toEqual({ kind: 'dead', code: 'JIT_ERR_BUS_INVALID_EVENT', attempts: 1 });
    const foreign = await deliver(base, () => Promise.reject(new TypeError('x')), {
      maxAttempts: 3,
      retryBackoffMs: 1,
      signal: new StopSignal(),
      logger,
    });
    expect(foreign).toEqual({ kind: 'dead', code: 'JIT_ERR_BUS_HANDLER_FAILED', attempts: 3 });
  });

  it('a stop cuts a long backoff short and leaves the message undelivered (aborted)', async () => {
    const signal = new StopSignal();
    const t0 = Date.now();
    const pending = deliver(base, () => Promise.reject(new Error('down')), { maxAttempts: 5, retryBackoffMs: 60_000, signal, logger });
    setTimeout(() => signal.raise(), 20);
    expect(await pending).toEqual({ kind: 'aborted' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe('StopSignal.wait', () => {
  it('disarms its waiter whether woken or stopped, so idle waits leave nothing behind', async () => {
    const waiters = new Set<() => void>();
    const arm = (wake: () => void): (() => void) => {
      waiters.add(wake);
      return () => waiters.delete(wake);
    };
    const signal = new StopSignal();
    const woken = signal.wait(arm);
    expect(waiters.size).toBe(1);
    [...waiters][0]!();
    await woken;
    expect(waiters.size).toBe(0);
    const stopped = signal.wait(arm);
    expect(waiters.size).toBe(1);
    signal.raise();
    await stopped;
    expect(waiters.size).toBe(0);
    await signal.wait(arm); // already raised: resolves without arming
    expect(waiters.size).toBe(0);
  });
});
