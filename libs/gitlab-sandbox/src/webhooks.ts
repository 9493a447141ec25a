// Webhook delivery as GitLab does it: asynchronous (never blocks the API call), in order
// per hook, GitLab's headers, Standard Webhooks signing when the hook has a signing token,
// a 10 s timeout, and a per-hook delivery log with resend keeping the idempotency key.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@jit/observability';
import { Webhook } from 'standardwebhooks';
import type { Delivery, Hook } from './model';

export interface DispatcherOptions {
  instanceUrl: string;
  gitlabVersion: string;
  timeoutMs?: number;
  logger?: Logger;
  now: () => Date;
  /** Awaited before each send: the sandbox makes the change a hook reports durable first, as GitLab commits before it notifies. */
  beforeSend?: () => Promise<void>;
}

const MAX_LOGGED_RESPONSE = 16 * 1024;

export class WebhookDispatcher {
  private readonly log: Delivery[] = [];
  private nextLogId = 1;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly hooks = new Map<number, Hook>();
  private pending = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly opts: DispatcherOptions) {}

  /**
   * Queue one event for one hook; returns the delivery record (filled in when it completes).
   * `eventUuid` is GitLab's X-Gitlab-Event-UUID (per hook per API request, see sandbox.ts).
   */
  enqueue(hook: Hook, event: string, payload: unknown, eventUuid: string = randomUUID()): Delivery {
    const delivery: Delivery = {
      id: randomUUID(),
      logId: this.nextLogId++,
      hookId: hook.id,
      event,
      idempotencyKey: randomUUID(),
      eventUuid,
      body: JSON.stringify(payload),
      requestHeaders: {},
      status: null,
      responseBody: null,
      responseHeaders: {},
      durationMs: null,
      error: null,
      startedAt: null,
      finishedAt: null,
      resendOf: null,
    };
    this.hooks.set(hook.id, hook);
    this.schedule(hook, delivery);
    return delivery;
  }

  /** Send a logged delivery again: same body, same Idempotency-Key / webhook-id, fresh timestamp and signature. */
  resend(deliveryId: string): Delivery | undefined {
    const original = this.log.find((d) => d.id === deliveryId);
    if (!original) return undefined;
    const hook = this.hooks.get(original.hookId);
    if (!hook) return undefined;
    const delivery: Delivery = {
      ...original,
      id: randomUUID(),
      logId: this.nextLogId++,
      requestHeaders: {},
      status: null,
      responseBody: null,
      responseHeaders: {},
      durationMs: null,
      error: null,
      startedAt: null,
      finishedAt: null,
      resendOf: original.id,
    };
    this.schedule(hook, delivery);
    return delivery;
  }

  deliveries(hookId?: number): Delivery[] {
    return this.log.filter((d) => hookId === undefined || d.hookId === hookId).map((d) => ({ ...d, requestHeaders: { ...d.requestHeaders }, responseHeaders: { ...d.responseHeaders } }));
  }

  /** Resolves once every queued delivery (including ones queued while waiting) has finished. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const c of this.inflight) c.abort();
  }

  private schedule(hook: Hook, delivery: Delivery): void {
    this.log.push(delivery);
    this.pending++;
    const prev = this.chains.get(hook.id) ?? Promise.resolve();
    const next = prev
      .then(() => this.opts.beforeSend?.().catch(() => undefined))
      .then(() => this.send(hook, delivery))
      .catch(() => undefined)
      .finally(() => {
        this.pending--;
        if (this.pending === 0) {
          const waiters = this.waiters;
          this.waiters = [];
          for (const w of waiters) w();
        }
      });
    this.chains.set(hook.id, next);
  }

  private headers(hook: Hook, delivery: Delivery): { sent: Record<string, string>; logged: Record<string, string> } {
    const sent: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': `GitLab/${this.opts.gitlabVersion}`,
      'X-Gitlab-Event': delivery.event,
      // Unique per request sent, resends included.
      'X-Gitlab-Webhook-UUID': randomUUID(),
      'X-Gitlab-Instance': this.opts.instanceUrl,
      'X-Gitlab-Event-UUID': delivery.eventUuid,
      'Idempotency-Key': delivery.idempotencyKey,
    };
    const logged = { ...sent };
    if (hook.token) {
      sent['X-Gitlab-Token'] = hook.token;
      logged['X-Gitlab-Token'] = '[REDACTED]';
    }
    if (hook.signingToken) {
      const at = this.opts.now();
      const signature = new Webhook(hook.signingToken).sign(delivery.idempotencyKey, at, delivery.body);
      for (const target of [sent, logged]) {
        target['webhook-id'] = delivery.idempotencyKey;
        target['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
        target['webhook-signature'] = signature;
      }
    }
    return { sent, logged };
  }

  private async send(hook: Hook, delivery: Delivery): Promise<void> {
    if (this.closed) {
      delivery.error = 'sandbox closed before delivery';
      return;
    }
    const { sent, logged } = this.headers(hook, delivery);
    delivery.requestHeaders = logged;
    delivery.startedAt = new Date();
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error('timeout')), this.opts.timeoutMs ?? 10_000);
    const started = performance.now();
    try {
      const res = await fetch(hook.url, { method: 'POST', headers: sent, body: delivery.body, signal: controller.signal, redirect: 'manual' });
      delivery.status = res.status;
      delivery.responseHeaders = Object.fromEntries(res.headers.entries());
      const text = await res.text();
      delivery.responseBody = text.length > MAX_LOGGED_RESPONSE ? text.slice(0, MAX_LOGGED_RESPONSE) : text;
      if (res.status >= 400) delivery.error = `HTTP ${res.status}`;
    } catch (err) {
      delivery.error = describeFetchError(err, controller.signal, this.opts.timeoutMs ?? 10_000);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
      delivery.durationMs = Math.round(performance.now() - started);
      delivery.finishedAt = new Date();
      this.opts.logger?.debug({ hookId: hook.id, event: delivery.event, status: delivery.status, error: delivery.error, durationMs: delivery.durationMs }, 'webhook delivered');
    }
  }
}

/** A secret-free description of a failed POST (no URL, no headers). */
function describeFetchError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return signal.reason instanceof Error && signal.reason.message === 'timeout' ? `timeout after ${timeoutMs} ms` : 'aborted';
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (typeof cause?.message === 'string' && cause.message.length < 200) return cause.message;
  return err instanceof Error ? err.name : 'error';
}
