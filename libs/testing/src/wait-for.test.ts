import { describe, expect, it } from 'vitest';
import { waitFor } from './wait-for';

describe('waitFor', () => {
  it('resolves as soon as the condition holds', async () => {
    let calls = 0;
    const t0 = Date.now();
    await waitFor(() => ++calls >= 3, { intervalMs: 5 });
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('awaits async checks and treats a throwing check as "not yet"', async () => {
    let calls = 0;
    await waitFor(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('not ready');
        return true;
      },
      { intervalMs: 5 },
    );
    expect(calls).toBe(3);
  });

  it('times out with a retriable error naming what it waited for, keeping the last failure as cause', async () => {
    const cause = new Error('connection refused');
    const err = await waitFor(
      () => {
        throw cause;
      },
      { timeoutMs: 60, intervalMs: 10, what: 'topic orders to exist' },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_TESTING_TIMEOUT', retriable: true });
    expect((err as Error).message).toContain('topic orders to exist');
    expect((err as Error).message).toContain('60 ms');
    expect((err as Error).cause).toBe(cause);
  });

  it('does not accept truthy non-booleans as success', async () => {
    const err = await waitFor(() => 'yes' as unknown as boolean, { timeoutMs: 30, intervalMs: 5 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_TESTING_TIMEOUT' });
  });

  it.each([[{ timeoutMs: -1 }], [{ timeoutMs: Number.NaN }], [{ intervalMs: 0 }], [{ intervalMs: Number.POSITIVE_INFINITY }]])('rejects bad options %j', async (opts) => {
    await expect(waitFor(() => true, opts)).rejects.toMatchObject({ code: 'JIT_ERR_TESTING_BAD_ARGUMENT' });
  });
});
