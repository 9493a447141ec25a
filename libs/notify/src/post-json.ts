// One HTTP POST to a receiver whose URL is a secret, with retries (cockatiel: exponential backoff,
// a timeout per attempt). What counts as worth retrying: no answer, a timeout, 408, 429 and 5xx.
// Any other status is a refusal (the URL is wrong or revoked): retrying cannot help. A receiver's
// Retry-After (seconds or an HTTP date, with 429 or 503 typically) is honoured: the next attempt waits
// at least that long, up to `retryAfterMaxMs`, instead of the shorter backoff. Redirects are
// not followed (a receiver that moves must be reconfigured, never followed to a place nobody
// configured). No error, log line or metric names the URL or quotes the response body.
import { ExponentialBackoff, TimeoutStrategy, handleWhen, retry, timeout, wrap, type IBackoffFactory, type IRetryBackoffContext } from 'cockatiel';
import { isRetriable } from '@jit/errors';
import { DeliveryFailed, DeliveryRefused } from './errors';

export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: 'manual' },
) => Promise<{ status: number; body?: unknown; arrayBuffer?: () => Promise<ArrayBuffer>; headers?: { get(name: string): string | null } }>;

export interface RetrySettings {
  /** Attempts in all (the first included) before giving up. */
  maxAttempts: number;
  /** First backoff, doubled each retry (with jitter), capped at maxMs. */
  baseMs: number;
  maxMs: number;
  /** Each attempt is cut off after this long. */
  timeoutMs: number;
  /** The longest Retry-After honoured (a longer one waits this long). Default 60 s. */
  retryAfterMaxMs?: number;
}

/** Retry-After as ms from now (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The backoff, or the receiver's Retry-After when that is longer (capped): never sooner than it asked. */
function atLeast(inner: IBackoffFactory<IRetryBackoffContext<unknown>>, asked: () => number | undefined, capMs: number): IBackoffFactory<IRetryBackoffContext<unknown>> {
  return {
    next(context) {
      const b = inner.next(context);
      const wait = asked();
      return { duration: wait !== undefined && wait > b.duration ? Math.min(wait, capMs) : b.duration, next: (c) => atLeast(b, asked, capMs).next(c) };
    },
  };
}

export interface PostOptions {
  /** Names the receiver in errors and metrics (a channel name, `sink`): never the URL. */
  name: string;
  url: string;
  body: string;
  contentType: string;
  /** Extra headers; a function is called at each attempt (a signature over that attempt's timestamp). */
  headers?: Record<string, string> | (() => Record<string, string>);
  retry: RetrySettings;
  fetch?: FetchLike;
  /** Raised on stop: a backoff or an attempt in flight ends at once (the caller redelivers later). */
  signal?: AbortSignal;
  /** Called after each failed attempt with the error (a JitError of this lib). */
  onAttemptFailed?: (err: Error, attempt: number) => void;
}

/** Resolves with the attempts it took; rejects with the last error once retries are spent or on a refusal. */
export async function postJson(o: PostOptions): Promise<number> {
  const doFetch = o.fetch ?? (globalThis.fetch as unknown as FetchLike);
  /** What the last answer's Retry-After asked for. */
  let asked: number | undefined;
  const policy = wrap(
    retry(
      handleWhen((err) => !o.signal?.aborted && isRetriable(err)),
      {
        maxAttempts: Math.max(0, o.retry.maxAttempts - 1),
        backoff: atLeast(new ExponentialBackoff({ initialDelay: o.retry.baseMs, maxDelay: o.retry.maxMs }), () => asked, o.retry.retryAfterMaxMs ?? 60_000),
      },
    ),
    // cooperative: the attempt's fetch is aborted through its signal and fails as DeliveryFailed
    timeout(o.retry.timeoutMs, TimeoutStrategy.Cooperative),
  );
  let attempts = 0;
  await policy.execute(async ({ signal }) => {
    attempts++;
    asked = undefined;
    try {
      const res = await doFetch(o.url, {
        method: 'POST',
        headers: { 'content-type': o.contentType, ...(typeof o.headers === 'function' ? o.headers() : (o.headers ?? {})) },
        body: o.body,
        signal,
        redirect: 'manual',
      });
      // drain the body so the connection is reused; never read into an error
      await res.arrayBuffer?.().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return;
      asked = retryAfterMs(res.headers?.get('retry-after'));
      const err = res.status === 408 || res.status === 429 || res.status >= 500 ? DeliveryFailed(o.name, `HTTP ${res.status}`) : DeliveryRefused(o.name, res.status);
      o.onAttemptFailed?.(err, attempts);
      throw err;
    } catch (err) {
      if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('JIT_ERR_NOTIFY_')) throw err;
      // fetch's own errors may quote the URL (and so the secret): keep only a cause code
      const aborted = signal.aborted || o.signal?.aborted;
      const cause = aborted ? 'timed out or stopped' : networkCode(err);
      const e = DeliveryFailed(o.name, cause);
      o.onAttemptFailed?.(e, attempts);
      throw e;
    }
  }, o.signal);
  return attempts;
}

function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } })?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code : 'no answer';
}
