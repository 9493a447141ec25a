// postJson honours a receiver's Retry-After (through cockatiel's backoff): the next attempt comes no
// sooner than asked (seconds or an HTTP date), and no later than retryAfterMaxMs.
import { describe, expect, it } from 'vitest';
import { postJson, retryAfterMs, type FetchLike, type RetrySettings } from './post-json';

/** A receiver answering each status in turn (with its Retry-After), recording when each attempt came. */
function receiver(answers: Array<[number, string?]>) {
  const at: number[] = [];
  const fetch: FetchLike = async () => {
    at.push(Date.now());
    const [status, retryAfter] = answers[Math.min(at.length - 1, answers.length - 1)]!;
    return { status, headers: { get: (n: string) => (n === 'retry-after' ? (retryAfter ?? null) : null) } };
  };
  return { fetch, at };
}
const RETRY: RetrySettings = { maxAttempts: 3, baseMs: 10, maxMs: 20, timeoutMs: 2_000 };
const post = (fetch: FetchLike, retry = RETRY) => postJson({ name: 'test', url: 'http://127.0.0.1:9/hook', body: '{}', contentType: 'application/json', retry, fetch });

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 5)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(5000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });

  it('a 429 asking for 1 s is retried after 1 s, not after the 10-20 ms backoff', async () => {
    const r = receiver([[429, '1'], [200]]);
    expect(await post(r.fetch)).toBe(2);
    expect(r.at[1]! - r.at[0]!).toBeGreaterThanOrEqual(950);
  });

  it('a 503 asking for an hour waits retryAfterMaxMs at most; without Retry-After the backoff stands', async () => {
    const r = receiver([[503, '3600'], [200]]);
    expect(await post(r.fetch, { ...RETRY, retryAfterMaxMs: 300 })).toBe(2);
    expect(r.at[1]! - r.at[0]!).toBeGreaterThanOrEqual(280);
    expect(r.at[1]! - r.at[0]!).toBeLessThan(2000);
    const plain = receiver([[503], [200]]);
    await post(plain.fetch);
    expect(plain.at[1]! - plain.at[0]!).toBeLessThan(500);
  });
});
