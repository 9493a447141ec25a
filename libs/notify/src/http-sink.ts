// The HTTP sink: every event of jit.elevations.v1, POSTed in batches to one configured URL in the
// CloudEvents HTTP batch format (`application/cloudevents-batch+json`: a JSON array of
// structured-mode events, exactly as they are on the log), signed with Standard Webhooks
// (`webhook-id`, `webhook-timestamp`, `webhook-signature`, by the `standardwebhooks` package) so a
// SIEM can check each batch came from jit and was not replayed late. A consumer group of its own:
// a slow or dead receiver never holds up the pipeline.
//
// Delivery is at-least-once: each event's handler waits until the batch holding it was accepted
// (or dead-lettered), so its offset is committed only then; a crash re-sends the batch being
// sent. The bus hands over one event per partition at a time, so a batch gathers what arrives
// within `lingerMs` across the partitions this member consumes, up to `maxEvents`. A batch is
// retried with backoff (cockatiel), re-signed at each attempt (a fresh timestamp); given up, each
// of its events is parked on jit.sink.dlq.v1 and the group moves on.
import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Registry } from 'prom-client';
import type { BusMessage, CloudEventJson, EventBus, Subscription } from '@jit/bus';
import { TOPIC_ELEVATIONS, TOPIC_SINK_DEAD_LETTERS } from '@jit/contracts';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import { DeliveryFailed } from './errors';
import { ageSeconds, deliveryMetrics } from './metrics';
import { postJson, type FetchLike, type RetrySettings } from './post-json';

export const CLOUDEVENTS_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

export interface HttpSinkOptions {
  bus: EventBus;
  groupId: string;
  /** The receiver's URL (a secret: it may carry a token); read at each batch. */
  url: { current(): string };
  /** Standard Webhooks signing secret (`whsec_…`), read at each batch (rotation without restart). */
  secret: { current(): string };
  /** Most events in one POST. Default 100. */
  maxEvents?: number;
  /** How long the first event of a batch waits for others. Default 200 ms. */
  lingerMs?: number;
  retry: RetrySettings;
  logger: Logger;
  registry?: Registry;
  fetch?: FetchLike;
  /** Where a new group starts. Default 'earliest': the SIEM gets the history too. */
  startFrom?: 'earliest' | 'latest';
}

export interface HttpSink {
  start(): Promise<void>;
  stop(): Promise<void>;
  isRunning(): boolean;
}

interface Batch {
  messages: BusMessage[];
  done: Promise<void>;
  timer?: NodeJS.Timeout;
}

export function createHttpSink(o: HttpSinkOptions): HttpSink {
  const maxEvents = o.maxEvents ?? 100;
  const lingerMs = o.lingerMs ?? 200;
  const metrics = deliveryMetrics(o.registry);
  const stopping = new AbortController();
  let open: (Batch & { release: () => void }) | undefined;
  let sub: Subscription | undefined;

  async function send(batch: BusMessage[]): Promise<void> {
    const body = JSON.stringify(batch.map((m) => m.event));
    // the same batch re-sent (a retry) keeps its id, so a receiver can drop the copy
    const msgId = `msg_${createHash('sha256')
      .update(batch.map((m) => m.event.id).join('\n'))
      .digest('base64url')
      .slice(0, 32)}`;
    let attempts = 0;
    try {
      attempts = await postJson({
        name: 'sink',
        url: o.url.current(),
        body,
        contentType: CLOUDEVENTS_BATCH_CONTENT_TYPE,
        headers: () => {
          const now = new Date();
          return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(o.secret.current()).sign(msgId, now, body) };
        },
        retry: o.retry,
        signal: stopping.signal,
        ...(o.fetch ? { fetch: o.fetch } : {}),
        onAttemptFailed: (err, n) => {
          attempts = n;
          metrics.failures.inc({ consumer: 'sink', channel: 'sink', code: (err as JitError).code ?? 'unknown' });
        },
      });
    } catch (err) {
      if (stopping.signal.aborted) throw err;
      const e = err instanceof JitError ? err : DeliveryFailed('sink', 'unexpected');
      for (const m of batch) {
        const { jitdlqcode: _c, jitdlqattempts: _a, jitdlqgroup: _g, ...original } = m.event;
        await o.bus.publish(TOPIC_SINK_DEAD_LETTERS, m.key, { ...original, jitdlqcode: e.code, jitdlqattempts: attempts, jitdlqgroup: o.groupId } as CloudEventJson);
      }
      metrics.deliveries.inc({ consumer: 'sink', channel: 'sink', outcome: 'dead' }, batch.length);
      o.logger.warn({ code: e.code, attempts, events: batch.length, reason: e.message }, 'sink batch parked as dead letters');
      return;
    }
    metrics.deliveries.inc({ consumer: 'sink', channel: 'sink', outcome: 'delivered' }, batch.length);
    metrics.lag.set({ consumer: 'sink' }, ageSeconds(batch[batch.length - 1]!.event.time));
    o.logger.debug({ events: batch.length, attempts }, 'sink batch delivered');
  }

  function flush(batch: Batch & { release: () => void }): void {
    if (open === batch) open = undefined;
    clearTimeout(batch.timer);
    batch.release();
  }

  async function handle(message: BusMessage): Promise<void> {
    if (!open) {
      let release!: () => void;
      const go = new Promise<void>((r) => (release = r));
      const b: Batch & { release: () => void } = { messages: [], release, done: go.then(() => send(b.messages)) };
      b.timer = setTimeout(() => flush(b), lingerMs);
      open = b;
    }
    const batch = open;
    batch.messages.push(message);
    if (batch.messages.length >= maxEvents) flush(batch);
    await batch.done;
  }

  return {
    async start() {
      await o.bus.ensureTopics([{ topic: TOPIC_SINK_DEAD_LETTERS, retentionMs: -1 }]);
      sub = await o.bus.subscribe({ topic: TOPIC_ELEVATIONS, groupId: o.groupId, handler: handle, startFrom: o.startFrom ?? 'earliest', maxAttempts: 20, retryBackoffMs: 1000 });
    },
    async stop() {
      stopping.abort();
      if (open) flush(open);
      await sub?.stop();
      sub = undefined;
    },
    isRunning: () => sub !== undefined,
  };
}
