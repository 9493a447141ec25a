// Poll a condition until it holds, with a clear timeout error: for waiting on state, not sleeping.
import { setTimeout as delay } from 'node:timers/promises';
import { TestingErrors } from './errors';

export interface WaitForOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Time between checks (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message ("topic orders to exist"). */
  what?: string;
}

/**
 * Resolves as soon as `check` returns true. A check that throws counts as "not yet"; the last
 * such error is kept as the timeout error's cause.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, opts: WaitForOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 50;
  const what = opts.what ?? 'a condition';
  if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) throw TestingErrors.badArgument('timeoutMs must be a number >= 0');
  if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw TestingErrors.badArgument('intervalMs must be a number > 0');
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if ((await check()) === true) return;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw TestingErrors.timeout(what, timeoutMs, lastError === undefined ? {} : { cause: lastError });
    }
    await delay(Math.min(intervalMs, left));
  }
}
