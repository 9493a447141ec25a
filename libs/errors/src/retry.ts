// Retry an operation while it fails with a retriable error (the catalogue's `retriable` flag),
// with capped exponential backoff, for at most `timeoutMs`. Non-retriable errors fail at once.
import { isRetriable } from './jit-error';

export interface RetryOptions {
  /** Give up (rethrow the last error) after this long. Default 60 s. */
  timeoutMs?: number;
  baseMs?: number;
  maxMs?: number;
  /** Stop early (e.g. the service is shutting down). */
  cancelled?: () => boolean;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

export async function retryRetriable<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const wait = Math.min(max, base * 2 ** (attempt - 1));
      if (!isRetriable(err) || options.cancelled?.() || Date.now() + wait > deadline) throw err;
      options.onRetry?.(err, attempt, wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
