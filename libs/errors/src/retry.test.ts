import { describe, expect, it } from 'vitest';
import { defineError } from './jit-error';
import { retryRetriable } from './retry';

const Busy = defineError('JIT_ERR_TEST_BUSY', 'busy', { retriable: true });
const Bad = defineError('JIT_ERR_TEST_BAD', 'bad');

describe('retryRetriable', () => {
  it('retries retriable failures until success', async () => {
    let calls = 0;
    const seen: number[] = [];
    const out = await retryRetriable(
      async () => {
        if (++calls < 3) throw Busy();
        return 'ok';
      },
      { baseMs: 1, onRetry: (_e, attempt) => seen.push(attempt) },
    );
    expect(out).toBe('ok');
    expect(seen).toEqual([1, 2]);
  });

  it('fails at once on a non-retriable error', async () => {
    let calls = 0;
    await expect(
      retryRetriable(async () => {
        calls++;
        throw Bad();
      }),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });

  it('gives up with the last error after the timeout, and when cancelled', async () => {
    await expect(retryRetriable(async () => Promise.reject(Busy()), { timeoutMs: 30, baseMs: 5, maxMs: 5 })).rejects.toThrow('busy');
    let calls = 0;
    await expect(
      retryRetriable(
        async () => {
          calls++;
          throw Busy();
        },
        { baseMs: 1, cancelled: () => calls >= 2 },
      ),
    ).rejects.toThrow('busy');
    expect(calls).toBe(2);
  });

  it('treats an error outside the catalogue as final (ADR 0012): a plain Error or a string is not retried', async () => {
    for (const thrown of [new Error('ECONNRESET'), 'boom']) {
      let calls = 0;
      await expect(
        retryRetriable(
          async () => {
            calls++;
            throw thrown;
          },
          { baseMs: 1 },
        ),
      ).rejects.toBe(thrown);
      expect(calls).toBe(1);
    }
  });

  it('stops after maxAttempts, the first included, and waits base, 2 x base, ... capped at maxMs', async () => {
    let calls = 0;
    const waits: number[] = [];
    await expect(
      retryRetriable(
        async () => {
          calls++;
          throw Busy();
        },
        { maxAttempts: 4, baseMs: 2, maxMs: 5, timeoutMs: Infinity, onRetry: (_e, _a, w) => waits.push(w) },
      ),
    ).rejects.toThrow('busy');
    expect(calls).toBe(4);
    expect(waits).toEqual([2, 4, 5]);
  });

  it("decides by the caller's rule when it names one", async () => {
    let calls = 0;
    const out = await retryRetriable(
      async () => {
        if (++calls < 2) throw Bad();
        return 'ok';
      },
      { baseMs: 1, retriable: () => true },
    );
    expect(out).toBe('ok');
  });

  it('waits through an injected sleep the same waits (a long one no timer holds), and a stop during it ends with the last error, no further attempt', async () => {
    const slept: number[] = [];
    const reported: number[] = [];
    let calls = 0;
    const out = await retryRetriable(
      async () => {
        if (++calls < 4) throw Busy();
        return 'ok';
      },
      { baseMs: 60_000, maxMs: 100_000, timeoutMs: Infinity, sleep: async (ms) => void slept.push(ms), onRetry: (_e, _a, w) => reported.push(w) },
    );
    expect(out).toBe('ok');
    expect(slept).toEqual([60_000, 100_000, 100_000]);
    expect(reported).toEqual(slept);

    let stopped = false;
    let attempts = 0;
    const last = Busy();
    await expect(
      retryRetriable(
        async () => {
          attempts++;
          throw attempts === 2 ? last : Busy();
        },
        { baseMs: 1, timeoutMs: Infinity, cancelled: () => stopped, sleep: async () => void (stopped = attempts === 2) },
      ),
    ).rejects.toBe(last);
    expect(attempts).toBe(2);
  });

  it('ends at once with the error an injected sleep throws (not an attempt that failed)', async () => {
    const gone = new Error('rebalance in progress');
    let calls = 0;
    const failing = () => (calls++, Promise.reject(Busy()));
    await expect(retryRetriable(failing, { baseMs: 1, retriable: () => true, sleep: () => Promise.reject(gone) })).rejects.toBe(gone);
    expect(calls).toBe(1);
  });
});
