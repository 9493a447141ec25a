// The webhook intake as a fastify plugin: POST /webhooks/gitlab -> authenticate -> de-duplicate ->
// normalize -> publish a CloudEvent on jit.gitlab.v1 -> 202 once the bus has it. Plus optional
// /healthz, /readyz and /metrics. Composed by apps/webhook-ingest and by the all-in-one apps/jit.
//
// GitLab disables a hook after 4 consecutive failures, so only a bad request gets a 4xx; events
// jit does not act on are acknowledged. The only 5xx is 503 (bus down, overloaded, shutting down),
// which GitLab retries — and a 503'd delivery is never marked seen, so its retry is accepted.
import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
// Route docs (summary, tags, hide) for hosts that serve OpenAPI; types only, nothing loaded.
import type {} from '@fastify/swagger';
import { CloudEvent } from 'cloudevents';
import type { Logger } from 'pino';
import {
  GITLAB_EVENT_HEADERS,
  GITLAB_PUSH_EVENT_TYPE,
  GITLAB_WEBHOOK_EVENT_TYPE,
  TOPIC_GITLAB,
  gitlabKey,
  parseGitlabWebhook,
  pushKey,
  type GitlabPushData,
  type GitlabWebhookData,
} from '@jit/contracts';
import { JsonText, prepareEvent, type CloudEventJson } from '@jit/bus';
import { JitError } from '@jit/errors';
import { Registry } from '@jit/observability';
import { DELIVERY_ID_RE, DedupeStore } from './dedupe-store';
import { DELIVERY_STATE, errorSummary, headerOf, optionalId, outcomeOfStatus, type DeliveryState } from './delivery-state';
import { BadRequest, InvalidConfig, InvalidPayload, MalformedJson, MissingHeader, TooLarge, Unauthorized, Unavailable, UnsupportedMediaType } from './errors';
import { DELIVERY_OUTCOMES, createIngestMetrics, type DeliveryOutcome } from './ingest-metrics';
import type { IngestPluginOptions } from './ingest-options';
import { DEFAULT_SECRET_GRACE_MS, createDeliveryVerifier } from './verify-delivery';
import { jsonNestingExceeds } from './json-nesting';

const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** One publish of one delivery id, until the bus settles it. */
interface Attempt {
  done: Promise<void>;
  settled: boolean;
}

async function ingest(fastify: FastifyInstance, options: IngestPluginOptions): Promise<void> {
  const { bus } = options;
  if (!bus || typeof bus.publish !== 'function') throw InvalidConfig('option bus (an EventBus) is required');
  const verifier = createDeliveryVerifier(options.auth ?? {});
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) throw InvalidConfig('bodyLimit must be an integer >= 1024 bytes');
  const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
  if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 1) throw InvalidConfig('publishTimeoutMs must be a positive integer (ms)');
  const topic = options.topic ?? TOPIC_GITLAB;
  const source = options.source ?? '/jit/webhook-ingest';
  // The SDK's schema check (ajv) of the envelope, done once here on the constant attributes. Per
  // delivery it would re-check constants: the only variable attributes are the delivery id (printable
  // ASCII, DELIVERY_ID_RE), the subject (two positive integers) and the time the SDK itself stamps.
  try {
    new CloudEvent({ id: 'probe', source, type: GITLAB_WEBHOOK_EVENT_TYPE, subject: '1!1', datacontenttype: 'application/json', data: {} });
  } catch {
    throw InvalidConfig('source must be a CloudEvents source: a URI-reference such as /jit/webhook-ingest');
  }
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  const maxDepth = options.maxJsonDepth ?? 64;
  const registry = options.registry ?? new Registry();
  const metrics = createIngestMetrics(registry);
  const log: Logger = options.logger ?? (fastify.log as unknown as Logger);
  const ownStore = !(options.dedupe instanceof DedupeStore);
  const store = options.dedupe instanceof DedupeStore ? options.dedupe : await DedupeStore.open(options.dedupe ?? {});
  if (!store.durable) log.warn('webhook de-duplication is memory-only: set a data dir so it survives a restart');
  if (store.skippedLines > 0) log.warn({ skipped: store.skippedLines }, 'dedupe log had unreadable lines; skipped');

  // Per-request state lives on the request (a fastify decorator, so every request has the same shape),
  // not in a WeakMap keyed by it: ephemeron entries made every young-generation GC dearer.
  if (!fastify.hasRequestDecorator(DELIVERY_STATE)) fastify.decorateRequest(DELIVERY_STATE, null);
  const stateOf = (request: FastifyRequest): DeliveryState => (request[DELIVERY_STATE] ??= {});
  /** Publishes in flight, by delivery id: a concurrent retry waits for the first instead of publishing again. */
  const inflight = new Map<string, Attempt>();
  let closing = false;

  function answer(reply: FastifyReply, st: DeliveryState, outcome: DeliveryOutcome, status: number, body: unknown) {
    st.outcome = outcome;
    if (status === 503) reply.header('retry-after', retryAfter);
    return reply.code(status).send(body);
  }
  function fail(reply: FastifyReply, st: DeliveryState, outcome: DeliveryOutcome, err: JitError) {
    st.reason = err.message;
    return answer(reply, st, outcome, err.statusCode, err.toJSON());
  }

  /**
   * Starts storing the event; the promise settles when the bus does, however long that takes, and is
   * what a concurrent attempt of the same delivery and close() wait for. The id is marked seen as soon
   * as the bus acknowledges, even if the request already gave up (503). The dedupe line is written in
   * the background: losing it (a crash) costs at most one duplicate publish, which consumers absorb
   * (they are idempotent by CloudEvent id); close() waits for it.
   */
  function startPublish(id: string, key: string, event: CloudEventJson): Promise<void> {
    let publishing: Promise<void>;
    try {
      publishing = bus.publish(topic, key, event);
    } catch (err) {
      publishing = Promise.reject(err); // a bus that throws instead of rejecting
    }
    const stored = publishing.then(() => {
      store.add(id).catch((err: unknown) => log.warn({ err: errorSummary(err), deliveryId: id }, 'could not persist dedupe id'));
    });
    const attempt: Attempt = { done: stored, settled: false };
    const settle = () => {
      attempt.settled = true;
      if (inflight.get(id) === attempt) inflight.delete(id);
    };
    stored.then(settle, settle);
    inflight.set(id, attempt);
    return stored;
  }

  /** Waits for `p` at most publishTimeoutMs: a request must answer well within GitLab's 10 s. */
  function within(p: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(Unavailable(`the bus did not acknowledge within ${publishTimeoutMs} ms`)), publishTimeoutMs);
      p.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  if (options.healthRoutes !== false) {
    fastify.get('/healthz', { schema: { summary: 'Liveness of the webhook intake', tags: ['health'] } }, async () => ({ status: 'ok' }));
    fastify.get('/readyz', { schema: { summary: 'Readiness: 503 while the event bus cannot accept publishes', tags: ['health'] } }, async (_request, reply) => {
      const ready = !closing && bus.isReady();
      return reply.code(ready ? 200 : 503).send({ ready, bus: bus.isReady() });
    });
  }
  if (options.metricsRoute !== false) {
    fastify.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }

  // Rotated secrets (X_FILE re-read) take effect at once; the replaced ones keep working for the grace window.
  const unsubscribe: Array<() => void> = [];
  for (const key of ['tokens', 'signingSecrets'] as const) {
    const feed = options.auth?.[key];
    if (!feed || Array.isArray(feed)) continue;
    unsubscribe.push(
      feed.onChange((values) => {
        try {
          verifier.rotate({ [key]: values });
          log.info({ secret: key, graceMs: options.auth.graceMs ?? DEFAULT_SECRET_GRACE_MS }, 'webhook secret rotated; the previous one is accepted for the grace window');
        } catch (err) {
          log.warn({ secret: key, code: (err as { code?: string }).code }, `rotated webhook secret refused, the current one stays in force: ${(err as Error).message}`);
        }
      }),
    );
  }

  fastify.addHook('preClose', async () => {
    closing = true;
    for (const u of unsubscribe) u();
  });
  fastify.addHook('onClose', async () => {
    // Drain: an in-flight publish still marks its id before the store closes.
    await Promise.allSettled([...inflight.values()].map((a) => a.done));
    if (ownStore) await store.close();
  });

  // The webhook route lives in its own context so its raw-body parser, error handler and load
  // shedding do not leak into the host app's routes.
  await fastify.register(async (hook) => {
    hook.removeAllContentTypeParsers();
    hook.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    if (options.underPressure !== false) {
      await hook.register(underPressure, {
        maxEventLoopDelay: 1000,
        retryAfter: Number(retryAfter),
        ...(options.underPressure ?? {}),
      });
    }

    hook.addHook('onRequest', (request, reply, done) => {
      const st = stateOf(request);
      st.event = headerOf(request, 'x-gitlab-event')?.slice(0, 64);
      // Token first, before a byte of body is read: strangers cannot make us buffer anything.
      // An answer sent here ends the request: `done` is then not called (fastify's early-reply rule).
      const token = verifier.checkToken(request.headers['x-gitlab-token']);
      if (!token.ok) return void fail(reply, st, 'unauthorized', Unauthorized(token.reason));
      const length = Number(request.headers['content-length']);
      if (length > bodyLimit) {
        reply.header('connection', 'close');
        return void fail(reply, st, 'too_large', TooLarge(bodyLimit));
      }
      done();
    });

    // Labelled children resolved once: observing through them skips prom-client's label hashing per request.
    const byOutcome = new Map(DELIVERY_OUTCOMES.map((o) => [o, { count: metrics.deliveries.labels({ outcome: o }), duration: metrics.duration.labels({ outcome: o }) }]));
    // Callback-style hooks (here and onRequest): no promise and no extra microtask turn per delivery.
    hook.addHook('onResponse', (request, reply, done) => {
      logDelivery(request, reply);
      done();
    });
    function logDelivery(request: FastifyRequest, reply: FastifyReply): void {
      const st = stateOf(request);
      const outcome = st.outcome ?? outcomeOfStatus(reply.statusCode);
      const m = byOutcome.get(outcome)!;
      m.count.inc();
      m.duration.observe(reply.elapsedTime / 1000);
      // An accepted delivery is recorded by its event on the bus (id, project, MR, action, receivedAt):
      // its line is debug, because serialising and redacting it was a tenth of the intake's CPU. Every
      // other outcome (refused, ignored, duplicate, failed) stays at info/warn.
      const level = outcome === 'unavailable' ? 'warn' : outcome === 'accepted' ? 'debug' : 'info';
      if (!log.isLevelEnabled(level)) return;
      const line = {
        deliveryId: st.deliveryId,
        event: st.event,
        action: st.action,
        projectId: st.projectId,
        mrIid: st.mrIid,
        outcome,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ...(st.reason ? { reason: st.reason } : {}),
      };
      log[level](line, 'webhook delivery');
    }

    hook.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply) => {
      const st = stateOf(request);
      if (error instanceof JitError) return fail(reply, st, error.statusCode === 503 ? 'unavailable' : 'malformed', error);
      switch (error.code) {
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          reply.header('connection', 'close');
          return fail(reply, st, 'too_large', TooLarge(bodyLimit));
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return fail(reply, st, 'unsupported_media_type', UnsupportedMediaType(String(request.headers['content-type'] ?? '(none)').slice(0, 100)));
      }
      if (error.statusCode === 503) {
        // @fastify/under-pressure shedding load
        return fail(reply, st, 'unavailable', Unavailable('the service is overloaded'));
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return fail(reply, st, 'malformed', BadRequest(error.code ?? 'invalid request'));
      }
      log.error({ err: error, deliveryId: st.deliveryId }, 'unexpected error in webhook intake');
      return fail(reply, st, 'unavailable', Unavailable('internal error'));
    });

    const description =
      'GitLab project/group webhook endpoint (Merge Request Hook, Note Hook, Push Hook). Authenticated by X-Gitlab-Token and/or ' +
      'Standard Webhooks signing; 202 once published, 200 for duplicates and ignored events, 503 + Retry-After when the bus is down.';
    // Response schemas: fastify serialises these answers with a compiled serializer (fast-json-stringify),
    // and they document the route. Error answers keep the default serializer (their details vary).
    const answers = {
      202: { type: 'object', properties: { accepted: { type: 'boolean' }, id: { type: 'string' } }, required: ['accepted', 'id'] },
      200: { type: 'object', properties: { duplicate: { type: 'boolean' }, ignored: { type: 'boolean' }, id: { type: 'string' } } },
    } as const;
    const routeSchema = { summary: 'Receive a GitLab webhook delivery', description, tags: ['webhooks'], response: answers };
    hook.post(options.path ?? '/webhooks/gitlab', { bodyLimit, schema: routeSchema }, async (request, reply) => {
      const st = stateOf(request);
      const raw = request.body;
      if (!Buffer.isBuffer(raw)) {
        return fail(reply, st, 'unsupported_media_type', UnsupportedMediaType(String(request.headers['content-type'] ?? '(none)').slice(0, 100)));
      }
      const signed = verifier.checkSignature(raw, request.headers);
      if (!signed.ok) return fail(reply, st, 'unauthorized', Unauthorized(signed.reason));

      const event = st.event;
      if (!event) return fail(reply, st, 'malformed', MissingHeader('X-Gitlab-Event'));
      if (event !== GITLAB_EVENT_HEADERS.mergeRequest && event !== GITLAB_EVENT_HEADERS.note && event !== GITLAB_EVENT_HEADERS.push) {
        st.reason = 'event type not used by jit';
        return answer(reply, st, 'ignored', 200, { ignored: true });
      }

      // Delivery id: webhook-id (signed) = Idempotency-Key, else the event UUID, else the body itself.
      const claimed = headerOf(request, 'webhook-id') ?? headerOf(request, 'idempotency-key') ?? headerOf(request, 'x-gitlab-event-uuid');
      if (claimed !== undefined && !DELIVERY_ID_RE.test(claimed)) {
        return fail(reply, st, 'malformed', MissingHeader('webhook-id / Idempotency-Key / X-Gitlab-Event-UUID (printable, at most 200 characters)'));
      }
      const id = claimed ?? `sha256:${createHash('sha256').update(event).update('\n').update(raw).digest('hex')}`;
      st.deliveryId = id;
      if (store.has(id)) return answer(reply, st, 'duplicate', 200, { duplicate: true, id });

      if (jsonNestingExceeds(raw, maxDepth)) return fail(reply, st, 'malformed', MalformedJson(`nested deeper than ${maxDepth} levels`));
      // Parsed once: the normalizer reads the value, and the text itself is what the bus stores as payload.
      let body: JsonText;
      try {
        body = JsonText.parse(raw);
      } catch {
        return fail(reply, st, 'malformed', MalformedJson('syntax error'));
      }
      const parsed = parseGitlabWebhook(event, body.value);
      if (parsed.status === 'ignored') {
        st.reason = parsed.reason;
        return answer(reply, st, 'ignored', 200, { ignored: true });
      }
      if (parsed.status === 'invalid') {
        const fields = parsed.problems.map((p) => p.path);
        const err = InvalidPayload([...new Set(fields)].join(', '), { details: { problems: parsed.problems } });
        return fail(reply, st, 'malformed', err);
      }
      const normalized = parsed.event;
      st.projectId = normalized.projectId;
      if (normalized.kind !== 'push') {
        st.action = normalized.action;
        st.mrIid = normalized.mrIid;
      }

      // Another attempt of this delivery is being stored (GitLab retried while we were slow): wait for it.
      for (let running = inflight.get(id); running; running = inflight.get(id)) {
        await within(running.done).catch(() => undefined);
        if (store.has(id)) return answer(reply, st, 'duplicate', 200, { duplicate: true, id });
        if (!running.settled) return fail(reply, st, 'unavailable', Unavailable('an earlier attempt of this delivery is still being stored'));
      }
      if (closing) return fail(reply, st, 'unavailable', Unavailable('the service is shutting down'));
      if (!bus.isReady()) return fail(reply, st, 'unavailable', Unavailable('the event bus is not ready'));

      const delivery = {
        id,
        ...optionalId('eventUuid', headerOf(request, 'x-gitlab-event-uuid')),
        ...optionalId('webhookUuid', headerOf(request, 'x-gitlab-webhook-uuid')),
        receivedAt: new Date().toISOString(),
      };
      // A push is keyed by its branch (it belongs to no MR yet); an MR or note event by its MR.
      const data: GitlabWebhookData | GitlabPushData = { ...normalized, delivery, payload: body.value };
      const key = normalized.kind === 'push' ? pushKey(normalized.projectId, normalized.branch) : gitlabKey(normalized.projectId, normalized.mrIid);
      const type = normalized.kind === 'push' ? GITLAB_PUSH_EVENT_TYPE : GITLAB_WEBHOOK_EVENT_TYPE;
      // The CloudEvent as the SDK's toJSON() writes it, built directly: its attributes were validated with
      // the SDK once at registration (above), the SDK object per delivery re-checked nothing, and the
      // bus checks the required attributes again.
      const cloudEvent: CloudEventJson = { id, time: delivery.receivedAt, type, source, specversion: '1.0', datacontenttype: 'application/json', subject: key, data };
      try {
        const prepared = prepareEvent(cloudEvent, { field: 'payload', json: body });
        await within(startPublish(id, key, prepared));
      } catch (err) {
        const status = err instanceof JitError ? err.statusCode : undefined;
        if (status === 413) return fail(reply, st, 'too_large', TooLarge(bodyLimit));
        log.warn({ err: errorSummary(err), deliveryId: id }, 'publish failed');
        return fail(reply, st, 'unavailable', Unavailable(err instanceof JitError && err.retriable ? err.code : 'the event bus did not store the event'));
      }
      return answer(reply, st, 'accepted', 202, { accepted: true, id });
    });
  });
}

/** The GitLab webhook intake. Register with `app.register(ingestPlugin, options)`. */
export const ingestPlugin = fp(ingest, { name: 'jit-ingest', fastify: '5.x' });
