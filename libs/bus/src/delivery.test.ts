import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { BusPartitionLost, InvalidEvent, StorageFailed } from './errors';
import { StopSignal, deliver, sendDeadLetter } from './delivery';

const logger = createLogger({ name: 'bus-test', level: 'silent' });
const base = { topic: 't', partition: 0, offset: '7', key: 'k', event: { specversion: '1.0' as const, id: 'e', source: 's', type: 't' } };

describe('deliver', () => {
  it("backs off exponentially from retryBackoffMs, capped at 10 s, waiting through the consumer's sleep", async () => {
    const waits: number[] = [];
    const outcome = await deliver(base, () => Promise.reject(StorageFailed('disk hiccup')), {
      maxAttempts: 20,
      retryBackoffMs: 200,
      signal: new StopSignal(),
      logger,
      sleep: async (ms) => void waits.push(ms),
    });
    expect(outcome).toEqual({ kind: 'dead', code: 'JIT_ERR_BUS_STORAGE_FAILED', attempts: 20 });
    expect(waits.slice(0, 4)).toEqual([200, 400, 800, 1600]);
    expect(waits).toHaveLength(19);
    expect(waits.at(-1)).toBe(10_000);
  });

  it('neither retries nor dead-letters a message whose partition was lost, and lets a failing sleep (heartbeat) through', async () => {
    let calls = 0;
    const lost = await deliver(
      base,
      async () => {
        calls++;
        throw BusPartitionLost('t', 0);
      },
      { maxAttempts: 5, retryBackoffMs: 1, signal: new StopSignal(), logger },
    );
    expect(lost).toEqual({ kind: 'aborted' });
    expect(calls).toBe(1);
    const rebalance = new Error('The group is rebalancing');
    await expect(
      deliver(base, () => Promise.reject(StorageFailed('disk hiccup')), { maxAttempts: 5, retryBackoffMs: 1, signal: new StopSignal(), logger, sleep: () => Promise.reject(rebalance) }),
    ).rejects.toBe(rebalance);
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

describe('sendDeadLetter', () => {
  it('retries any failure until the copy is written, and gives up (false) only when the consumer stops', async () => {
    let sends = 0;
    const written = await sendDeadLetter(
      async () => {
        if (++sends < 2) throw new Error('broker away');
      },
      { topic: 't.dlq', signal: new StopSignal(), logger },
    );
    expect([written, sends]).toEqual([true, 2]);
    const signal = new StopSignal();
    let tries = 0;
    const stopped = await sendDeadLetter(
      async () => {
        if (++tries === 2) signal.raise();
        throw new TypeError('not a JitError');
      },
      { topic: 't.dlq', signal, logger },
    );
    expect([stopped, tries]).toEqual([false, 2]);
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
