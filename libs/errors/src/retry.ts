// The one retry of the codebase: an operation tried again while it fails with an error worth
// another attempt — by default the catalogue's `retriable` flag, so an unknown error (no flag) is
// final (ADR 0012) — with capped exponential backoff (cockatiel), until an attempt limit or a time
// budget is reached. Non-retriable errors fail at once.
import { ConstantBackoff, ExponentialBackoff, handleWhen, noJitterGenerator, retry } from 'cockatiel';
import { isRetriable } from './jit-error';

export interface RetryOptions {
  /** Give up (rethrow the last error) when the next wait would end past this budget. Default 60 s; Infinity: never. */
  timeoutMs?: number;
  /** Give up after this many attempts in all, the first included. Default: no limit (the budget decides). */
  maxAttempts?: number;
  /** First wait, doubled at each retry. Default 250 ms. */
  baseMs?: number;
  /** Longest wait. Default 5 s. */
  maxMs?: number;
  /** Which errors another attempt may cure. Default: the catalogue's flag (isRetriable). */
  retriable?: (err: unknown) => boolean;
  /** Stop early (e.g. the service is shutting down). */
  cancelled?: () => boolean;
  /** Stop early: no retry once it is aborted. */
  signal?: AbortSignal;
  /**
   * How to wait between attempts instead of a plain timer: a wait that a stop cuts short (the
   * bus's consumers), or one that keeps a consumer-group membership alive while it waits. The same
   * waits as without it; `cancelled()` is asked again when it returns (then the last error is rethrown).
   * An error the sleep throws is not an attempt's failure: it ends the retry at once, as it is.
   */
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
}

export async function retryRetriable<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 5_000;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const worthRetrying = options.retriable ?? isRetriable;
  const { sleep } = options;
  let failures = 0;
  let wait = 0;
  let lastError: unknown;
  let sleepFailed = false;
  const policy = retry(
    handleWhen((err) => {
      if (sleepFailed) return false;
      failures++;
      lastError = err;
      wait = Math.min(max, base * 2 ** (failures - 1));
      return worthRetrying(err) && !options.cancelled?.() && Date.now() + wait <= deadline;
    }),
    {
      // cockatiel counts retries, not attempts
      maxAttempts: (options.maxAttempts ?? Infinity) - 1,
      // with an injected sleep, cockatiel does not wait: the attempt below waits first
      backoff: sleep ? new ConstantBackoff(0) : new ExponentialBackoff({ initialDelay: base, maxDelay: max, generator: noJitterGenerator }),
    },
  );
  const onRetry = options.onRetry;
  if (onRetry) policy.onRetry((r) => 'error' in r && onRetry(r.error, r.attempt, sleep ? wait : r.delay));
  const attempt = sleep
    ? async () => {
        if (failures > 0) {
          await sleep(wait).catch((err: unknown) => {
            sleepFailed = true;
            throw err;
          });
          // a stop during the wait: no further attempt, the last failure is the answer
          if (options.cancelled?.()) throw lastError;
        }
        return fn();
      }
    : fn;
  return policy.execute(() => attempt(), options.signal);
}
