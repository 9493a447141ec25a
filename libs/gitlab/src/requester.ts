// The transport gitbeaker calls through: an injected fetch, bounded retries with exponential
// backoff + jitter honouring Retry-After, and GitLab failures mapped onto our error catalogue.
// The token travels only in a request header; no error or log line ever carries headers.
import { createRequesterFn, type FormattedResponse, type RequestHandlerFn, type ResourceOptions, type RequesterType } from '@gitbeaker/requester-utils';
import type { Logger } from '@jit/observability';
import { GitlabBadResponse, GitlabCommitNotFound, GitlabCredentialRefused, GitlabForbidden, GitlabNotFound, GitlabRejected, GitlabUnavailable } from './errors';

export type FetchFn = (input: Request) => Promise<Response>;

export interface RetryOptions {
  /** Total attempts per call, first one included. Default 5. */
  maxAttempts?: number;
  /** First backoff, doubled each attempt. Default 200 ms. */
  baseDelayMs?: number;
  /** Ceiling for one wait, Retry-After included; a longer Retry-After ends the retries. Default 10 s. */
  maxDelayMs?: number;
}

export interface RequesterOptions {
  fetch?: FetchFn;
  retry?: RetryOptions;
  /** Per-attempt timeout. Default 15 s. */
  timeoutMs?: number;
  /** Largest response body accepted, bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger?: Logger;
  /**
   * The token is read from a file at every request (GITLAB_TOKEN_FILE): a 401 then is a rotation's gap
   * (GitLab revoked the old token, the file not synced yet) and retriable, JIT_ERR_GITLAB_CREDENTIAL_REFUSED.
   */
  liveToken?: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Parses Retry-After (delta seconds or HTTP date) into milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Backoff for attempt n (1-based): full jitter over base * 2^(n-1), capped. */
export function backoffMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function describe(method: string, url: URL): string {
  // Path only: query strings never carry secrets here, but keep lines short and stable.
  return `${method} ${url.pathname}`;
}

async function readBody(response: Response, maxBytes: number, what: string): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > maxBytes) throw GitlabBadResponse(what, `body of ${length} bytes exceeds ${maxBytes}`);
  const buffer = await response.arrayBuffer();
  if (buffer.byteLength > maxBytes) throw GitlabBadResponse(what, `body of ${buffer.byteLength} bytes exceeds ${maxBytes}`);
  return new TextDecoder().decode(buffer);
}

function errorDescription(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    const value = parsed.message ?? parsed.error ?? text;
    return (typeof value === 'string' ? value : JSON.stringify(value)).slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}

export function createRequestHandler(options: RequesterOptions = {}): RequestHandlerFn {
  const fetchFn: FetchFn = options.fetch ?? ((req) => fetch(req));
  const maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 5);
  const baseDelayMs = options.retry?.baseDelayMs ?? 200;
  const maxDelayMs = options.retry?.maxDelayMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const log = options.logger;

  return async (endpoint: string, raw?: Record<string, unknown>): Promise<FormattedResponse> => {
    const opts = (raw ?? {}) as {
      prefixUrl?: string;
      searchParams?: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string | FormData;
      signal?: AbortSignal;
    };
    const method = opts.method ?? 'GET';
    const base = opts.prefixUrl ? (opts.prefixUrl.endsWith('/') ? opts.prefixUrl : `${opts.prefixUrl}/`) : undefined;
    const url = new URL(endpoint, base);
    url.search = opts.searchParams ?? '';
    const what = describe(method, url);
    let lastProblem = 'no attempt made';

    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const signals = [AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];
      const request = new Request(url, {
        method,
        headers: opts.headers,
        body: opts.body,
        signal: AbortSignal.any(signals),
      });
      let response: Response;
      try {
        response = await fetchFn(request);
      } catch (err) {
        // Network failure or timeout: nothing reached GitLab or the answer was lost.
        lastProblem = err instanceof Error ? `${err.name}: ${err.message}` : 'network error';
        if (attempt >= maxAttempts) throw GitlabUnavailable(what, lastProblem, { cause: err });
        const wait = backoffMs(attempt, baseDelayMs, maxDelayMs, random);
        log?.warn({ endpoint: url.pathname, method, attempt, waitMs: wait }, 'gitlab request failed; retrying');
        await sleep(wait);
        continue;
      }

      if (response.ok) {
        const text = response.status === 204 ? '' : await readBody(response, maxBytes, what);
        const headers = Object.fromEntries(response.headers.entries());
        const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
        let body: FormattedResponse['body'];
        if (response.status === 204) body = null;
        else if (contentType === 'application/json') {
          try {
            body = text === '' ? {} : (JSON.parse(text) as FormattedResponse['body']);
          } catch (err) {
            throw GitlabBadResponse(what, 'invalid JSON', { cause: err });
          }
        } else body = text;
        return { body, headers, status: response.status };
      }

      const status = response.status;
      if (status === 429 || status >= 500) {
        const hinted = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel().catch(() => undefined);
        lastProblem = `HTTP ${status}`;
        if (attempt >= maxAttempts) throw GitlabUnavailable(what, lastProblem, { details: { status } });
        if (hinted !== undefined && hinted > maxDelayMs) {
          // Retry-After beyond our bound: give the retry back to the caller (the bus retries later).
          throw GitlabUnavailable(what, `${lastProblem}, Retry-After ${Math.round(hinted / 1000)}s`, {
            details: { status, retryAfterMs: hinted },
          });
        }
        const wait = hinted ?? backoffMs(attempt, baseDelayMs, maxDelayMs, random);
        log?.warn({ endpoint: url.pathname, method, status, attempt, waitMs: wait }, 'gitlab busy; retrying');
        await sleep(wait);
        continue;
      }

      const text = await readBody(response, 64 * 1024, what).catch(() => '');
      const description = errorDescription(text);
      const details = { status, endpoint: url.pathname, method };
      // GitLab names what is missing ("404 Commit Not Found", "404 File Not Found"): a commit that is
      // not there (yet) is no proof that a file is absent from it, so it is its own, retriable, error.
      if (status === 404 && description === '404 Commit Not Found') throw GitlabCommitNotFound(what, { details });
      if (status === 404) throw GitlabNotFound(what, { details });
      if (status === 401 && options.liveToken) {
        log?.warn({ endpoint: url.pathname, method, status }, 'GitLab refused the token read from its file; retried (a rotation in progress is picked up when the file changes)');
        throw GitlabCredentialRefused(what, { details: { ...details, description } });
      }
      if (status === 401 || status === 403) throw GitlabForbidden(what, status, { details: { ...details, description } });
      throw GitlabRejected(what, status, description || 'no detail', { details });
    }
    throw GitlabUnavailable(what, lastProblem);
  };
}

/** A gitbeaker requesterFn over our handler; pass it as `requesterFn` to any gitbeaker resource. */
export function createRequester(options: RequesterOptions = {}): (resourceOptions: ResourceOptions) => RequesterType {
  return createRequesterFn((_service, requestOptions) => Promise.resolve(requestOptions), createRequestHandler(options));
}
