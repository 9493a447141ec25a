// The issuer's retry budget: a retriable failure (GitLab's approval check, the substrate's issue)
// is retried through the one retry helper (ADR 0012) until a deadline derived from the request —
// a share of the grant's TTL window counted from the approval, never more than a configured
// maximum — not until an attempt count: a PostgreSQL outage of a minute must not fail a 30-minute
// grant that 20 quick attempts could not outlast, and a 2-minute grant must not be issued with
// nothing left of its window. Past the deadline the issue fails with RetryBudgetSpent.
import { JitError, isRetriable, retryRetriable } from '@jit/errors';
import type { Logger } from '@jit/observability';
import { errorSummary } from './error-fields';
import { RetryBudgetSpent } from './errors';

export interface IssueRetryOptions {
  /** Share of the grant's TTL (from the approval) the retries may use, in percent. Default 50. */
  ttlPercent?: number;
  /** The longest the retries may last, from the approval. Default 10 min. */
  budgetMs?: number;
  /** Optional cap on attempts in all (an operator's choice); by default the deadline alone decides. */
  attempts?: number;
  /** First wait, doubled at each retry. Default 500 ms. */
  baseMs?: number;
  /** Longest wait between two attempts. Default 30 s. */
  maxMs?: number;
}

export const DEFAULT_ISSUE_RETRY = { ttlPercent: 50, budgetMs: 10 * 60_000, baseMs: 500, maxMs: 30_000 } as const;

/** When retrying an issue stops: approval time + min(ttlPercent % of the TTL, budgetMs). */
export function issueDeadline(approvedAt: string, ttlSeconds: number, options: IssueRetryOptions = {}): number {
  const approved = Date.parse(approvedAt);
  const from = Number.isFinite(approved) ? Math.min(approved, Date.now()) : Date.now();
  const share = (ttlSeconds * 1000 * (options.ttlPercent ?? DEFAULT_ISSUE_RETRY.ttlPercent)) / 100;
  return from + Math.min(share, options.budgetMs ?? DEFAULT_ISSUE_RETRY.budgetMs);
}

export interface RetryUntilOptions extends IssueRetryOptions {
  deadline: number;
  /** What is retried, for the log and the error (`substrate postgres issue`, `GitLab approval check`). */
  what: string;
  logger: Logger;
  stopping: () => boolean;
  /** Errors never retried here whatever their flag (the bus's: another replica may own the approval). */
  final?: (err: unknown) => boolean;
}

/**
 * Runs `fn(attempt)` until it succeeds, fails with an error no retry can cure (rethrown as is, with
 * `attempts`), or the deadline passes (RetryBudgetSpent, naming the last error, with `attempts`).
 */
export async function retryUntil<T>(fn: (attempt: number) => Promise<T>, options: RetryUntilOptions): Promise<T> {
  const { deadline, what, logger } = options;
  const started = Date.now();
  let attempt = 0;
  let last: unknown;
  const worth = (err: unknown) => isRetriable(err) && !options.final?.(err);
  try {
    return await retryRetriable(
      async () => {
        attempt++;
        try {
          return await fn(attempt);
        } catch (err) {
          last = err;
          logger.warn({ attempt, retriable: worth(err), err: errorSummary(err) }, `${what} failed`);
          throw err;
        }
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        ...(options.attempts ? { maxAttempts: options.attempts } : {}),
        baseMs: options.baseMs ?? DEFAULT_ISSUE_RETRY.baseMs,
        maxMs: options.maxMs ?? DEFAULT_ISSUE_RETRY.maxMs,
        retriable: worth,
        cancelled: options.stopping,
        onRetry: (_err, n, waitMs) => logger.debug({ attempt: n, nextInMs: waitMs, deadline: new Date(deadline).toISOString() }, `retrying ${what} within its retry budget`),
      },
    );
  } catch (err) {
    if (!worth(err) || options.stopping()) throw Object.assign(err as object, { attempts: attempt });
    const spent = `${Math.round((Date.now() - started) / 1000)} s`;
    const budget = options.attempts && attempt >= options.attempts ? `${options.attempts} attempts` : `until ${new Date(deadline).toISOString()}`;
    throw Object.assign(RetryBudgetSpent(what, spent, String(attempt), lastError(last), budget, { cause: err }), { attempts: attempt });
  }
}

/** The last error as the catalogue names it (code and message: never a substrate's raw text). */
function lastError(err: unknown): string {
  if (err instanceof JitError) return `${err.code}: ${err.message}`.slice(0, 600);
  return err instanceof Error ? err.name : 'unknown error';
}
