// The HTTP sink on the real bus (embedded, and Kafka through the harness) against a local
// receiver that checks the CloudEvents HTTP batch format and verifies every Standard Webhooks
// signature with the `standardwebhooks` package: batches, retries re-signed with a fresh
// timestamp, a refusal parked on jit.sink.dlq.v1, nothing lost, no URL or secret in the logs.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { createEmbeddedBus, createKafkaBus, type BusMessage, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, TOPIC_SINK_DEAD_LETTERS } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createLogger, createRegistry } from '@jit/observability';
import { getKafka, waitFor } from '@jit/testing';
import { CLOUDEVENTS_BATCH_CONTENT_TYPE, createHttpSink } from './http-sink';
import { startReceiver } from './testing';

const SECRET = `whsec_${Buffer.from(randomUUID() + randomUUID()).toString('base64')}`;
const OTHER = `whsec_${Buffer.from(randomUUID()).toString('base64')}`;

/** The batch format: a JSON array of structured-mode CloudEvents 1.0. */
const validateBatch = (body: unknown): string[] =>
  Array.isArray(body) && body.length > 0 && body.every((e) => e && e.specversion === '1.0' && typeof e.id === 'string' && typeof e.type === 'string' && typeof e.source === 'string')
    ? []
    : ['not a non-empty array of CloudEvents 1.0'];

function scenario(kind: 'embedded' | 'kafka', openBus: () => Promise<{ bus: EventBus; close: () => Promise<void> }>) {
  it(`${kind}: batches signed with Standard Webhooks, retried, dead-lettered; every event arrives`, async () => {
    const { bus, close } = await openBus();
    const run = randomUUID().slice(0, 8);
    const receiver = await startReceiver(validateBatch);
    const url = receiver.urlFor(`ingest/jit?token=siem-secret-${run}`);
    const logLines: string[] = [];
    const logger = createLogger({ name: 'sink-int', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    const registry = createRegistry();
    const sink = createHttpSink({
      bus,
      groupId: `sink-int-${run}`,
      url: { current: () => url },
      secret: { current: () => SECRET },
      maxEvents: 4,
      lingerMs: 100,
      retry: { maxAttempts: 3, baseMs: 20, maxMs: 100, timeoutMs: 2_000 },
      logger,
      registry,
      startFrom: 'latest',
    });
    const dead: BusMessage[] = [];
    const dlq = await bus.subscribe({ topic: TOPIC_SINK_DEAD_LETTERS, groupId: `sink-dlq-${run}`, startFrom: 'latest', handler: async (m) => void dead.push(m) });
    await sink.start();
    try {
      const projectId = 100_000 + Math.floor(Math.random() * 800_000);
      const events = Array.from({ length: 9 }, (_, i) =>
        sampleEvent(EVENT_TYPES.requested, { elevationId: `gl-${projectId}-${1 + (i % 3)}`, projectId, mrIid: 1 + (i % 3) }, { time: new Date().toISOString() }),
      );
      receiver.respond(503); // the first batch fails once, then is accepted
      for (const e of events) await bus.publish(TOPIC_ELEVATIONS, e.data.elevationId, e);
      const mine = new Set(events.map((e) => e.id));
      const accepted = () =>
        receiver.requests
          .filter((r) => r.status === 200)
          .flatMap((r) => (r.body as Array<{ id: string }>).map((e) => e.id))
          .filter((id) => mine.has(id));
      await waitFor(() => new Set(accepted()).size === events.length, { timeoutMs: 60_000, what: 'every event accepted' });
      for (const r of receiver.requests) {
        expect(r.problems).toEqual([]);
        expect(r.headers['content-type']).toBe(CLOUDEVENTS_BATCH_CONTENT_TYPE);
        expect((r.body as unknown[]).length).toBeLessThanOrEqual(4);
        // the receiver's check, with the library the sender used
        expect(() => new Webhook(SECRET).verify(r.raw, r.headers as Record<string, string>)).not.toThrow();
        expect(() => new Webhook(OTHER).verify(r.raw, r.headers as Record<string, string>)).toThrow();
        expect(() => new Webhook(SECRET).verify(r.raw.replace(/"requester":"[a-z]+"/, '"requester":"mallory"'), r.headers as Record<string, string>)).toThrow();
      }
      // the failed batch was re-sent with its id, re-signed
      const [failed] = receiver.requests.filter((r) => r.status === 503);
      const again = receiver.requests.find((r) => r.status === 200 && r.headers['webhook-id'] === failed!.headers['webhook-id']);
      expect(again?.raw).toBe(failed!.raw);
      // order per elevation is kept across batches
      for (let i = 1; i <= 3; i++) {
        const key = `gl-${projectId}-${i}`;
        const sent = events.filter((e) => e.data.elevationId === key).map((e) => e.id);
        const got = [...new Set(accepted())].filter((id) => sent.includes(id));
        expect(got).toEqual(sent);
      }

      // a refusing receiver: the batch is parked, not retried
      receiver.defaultStatus = 401;
      const refused = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: `gl-${projectId}-9`, projectId, mrIid: 9 });
      const before = receiver.requests.length;
      await bus.publish(TOPIC_ELEVATIONS, refused.data.elevationId, refused);
      await waitFor(() => dead.some((d) => d.event.id === refused.id), { timeoutMs: 60_000, what: 'the refused event dead-lettered' });
      expect(dead.find((d) => d.event.id === refused.id)!.event['jitdlqcode']).toBe('JIT_ERR_NOTIFY_DELIVERY_REFUSED');
      expect(receiver.requests.length - before).toBe(1);

      const logs = logLines.join('\n') + JSON.stringify(dead.map((d) => d.event));
      expect(logs).not.toContain(`siem-secret-${run}`);
      expect(logs).not.toContain(SECRET.slice(6));
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/jit_notify_failures_total\{consumer="sink",channel="sink",code="JIT_ERR_NOTIFY_DELIVERY_FAILED"\} 1/);
      expect(metrics).toMatch(/jit_notify_lag_seconds\{consumer="sink"\}/);
    } finally {
      await sink.stop();
      await dlq.stop();
      await receiver.close();
      await close();
    }
  });
}

describe('http sink', () => {
  scenario('embedded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-sink-'));
    const bus = await createEmbeddedBus({ dir, logger: createLogger({ name: 'bus', level: 'silent' }) });
    await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 3, retentionMs: -1 }]);
    return { bus, close: async () => (await bus.close(), await rm(dir, { recursive: true, force: true })) };
  });
  scenario('kafka', async () => {
    const brokers = await getKafka();
    const bus = await createKafkaBus({ brokers, clientId: `sink-int-${randomUUID().slice(0, 6)}`, logger: createLogger({ name: 'bus', level: 'silent' }) });
    await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
    return { bus, close: () => bus.close() };
  });
});
