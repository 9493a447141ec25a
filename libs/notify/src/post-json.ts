// One HTTP POST to a receiver whose URL is a secret, with retries (cockatiel: exponential backoff,
// a timeout per attempt). What counts as worth retrying: no answer, a timeout, 408, 429 and 5xx.
// Any other status is a refusal (the URL is wrong or revoked): retrying cannot help. Redirects are
// not followed (a receiver that moves must be reconfigured, never followed to a place nobody
// configured). No error, log line or metric names the URL or quotes the response body.
import { ExponentialBackoff, TimeoutStrategy, handleWhen, retry, timeout, wrap } from 'cockatiel';
import { isRetriable } from '@jit/errors';
import { DeliveryFailed, DeliveryRefused } from './errors';

export type FetchLike = (url: string, init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: 'manual' }) => Promise<{ status: number; body?: unknown; arrayBuffer?: () => Promise<ArrayBuffer> }>;

export interface RetrySettings {
  /** Attempts in all (the first included) before giving up. */
  maxAttempts: number;
  /** First backoff, doubled each retry (with jitter), capped at maxMs. */
  baseMs: number;
  maxMs: number;
  /** Each attempt is cut off after this long. */
  timeoutMs: number;
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
  const policy = wrap(
    retry(handleWhen((err) => !o.signal?.aborted && isRetriable(err)), {
      maxAttempts: Math.max(0, o.retry.maxAttempts - 1),
      backoff: new ExponentialBackoff({ initialDelay: o.retry.baseMs, maxDelay: o.retry.maxMs }),
    }),
    // cooperative: the attempt's fetch is aborted through its signal and fails as DeliveryFailed
    timeout(o.retry.timeoutMs, TimeoutStrategy.Cooperative),
  );
  let attempts = 0;
  await policy.execute(async ({ signal }) => {
    attempts++;
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
