// The intake on real Kafka: what lands on the topic, de-duplication (also across a restart of the
// plugin), and a broker outage answered with 503 and recovered from without losing the delivery.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type BusMessage, type EventBus } from '@jit/bus';
import { GITLAB_WEBHOOK_EVENT_TYPE, GitlabWebhookDataSchema } from '@jit/contracts';
import { createLogger } from '@jit/observability';
import { getKafka, startKafka, uniqueName, waitFor, type KafkaHandle } from '@jit/testing';
import type { IngestPluginOptions } from './ingest-options';
import { ingestPlugin } from './ingest-plugin';
import { fixture } from './test-support';

const TOKEN = 'int-test-token-0042';
const MR = fixture('merge-request-hook.json');
const NOTE = fixture('note-hook-merge-request.json');
const silent = createLogger({ name: 'ingest-int', level: 'silent' });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function openBus(brokers: string[]): Promise<EventBus> {
  const bus = await createKafkaBus({ brokers, clientId: uniqueName('ingest'), logger: silent });
  cleanups.push(() => bus.close());
  return bus;
}

async function openApp(bus: EventBus, topic: string, options: Partial<IngestPluginOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(ingestPlugin, { bus, topic, auth: { tokens: [TOKEN] }, logger: silent, underPressure: false, ...options });
  await app.ready();
  cleanups.push(() => app.close());
  return app;
}

function deliver(app: FastifyInstance, id: string, body = MR, event = 'Merge Request Hook') {
  return app.inject({
    method: 'POST',
    url: '/webhooks/gitlab',
    payload: body,
    headers: { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-token': TOKEN, 'idempotency-key': id },
  });
}

async function readTopic(bus: EventBus, topic: string): Promise<BusMessage[]> {
  const out: BusMessage[] = [];
  await bus.replay(topic, (m) => {
    out.push(m);
  });
  return out;
}

describe('ingest on Kafka', () => {
  let brokers: string[];
  beforeAll(async () => {
    brokers = await getKafka();
  });

  it('publishes the delivery keyed <project>!<iid> as a CloudEvent with normalized data and the payload', async () => {
    const topic = uniqueName('gitlab');
    const bus = await openBus(brokers);
    await bus.ensureTopics([{ topic, partitions: 3 }]);
    const app = await openApp(bus, topic);
    expect((await deliver(app, 'int-mr-1')).statusCode).toBe(202);
    expect((await deliver(app, 'int-note-1', NOTE, 'Note Hook')).statusCode).toBe(202);

    const messages = await readTopic(bus, topic);
    expect(messages.map((m) => [m.key, m.event.id]).sort()).toEqual([
      ['1!1', 'int-mr-1'],
      ['5!1', 'int-note-1'],
    ]);
    const mr = messages.find((m) => m.event.id === 'int-mr-1')!;
    expect(mr.event).toMatchObject({ specversion: '1.0', type: GITLAB_WEBHOOK_EVENT_TYPE, source: '/jit/webhook-ingest', subject: '1!1' });
    const data = GitlabWebhookDataSchema.parse(mr.event.data);
    expect(data).toMatchObject({ kind: 'merge_request', projectId: 1, mrIid: 1, headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' });
    expect(data.payload).toEqual(JSON.parse(MR));
  });

  it('publishes nothing for a duplicate delivery, also after the plugin restarts on the same data dir', async () => {
    const topic = uniqueName('gitlab');
    const dir = await mkdtemp(join(tmpdir(), 'ingest-int-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const bus = await openBus(brokers);
    await bus.ensureTopics([{ topic }]);

    const first = await openApp(bus, topic, { dedupe: { dir } });
    expect((await deliver(first, 'int-dup')).statusCode).toBe(202);
    const again = await deliver(first, 'int-dup');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ duplicate: true });
    await first.close();

    const second = await openApp(bus, topic, { dedupe: { dir } });
    expect((await deliver(second, 'int-dup')).statusCode).toBe(200);
    expect((await deliver(second, 'int-new')).statusCode).toBe(202);

    const ids = (await readTopic(bus, topic)).map((m) => m.event.id);
    expect(ids).toEqual(['int-dup', 'int-new']);
  });
});

describe('ingest with the broker down (private broker)', () => {
  let kafka: KafkaHandle;
  beforeAll(async () => {
    kafka = await startKafka();
  });
  afterAll(async () => {
    await kafka?.dispose();
  });

  it('answers 503 while the broker is away, readiness false, and accepts the retry once it is back', async () => {
    const topic = uniqueName('gitlab');
    const bus = await openBus(kafka.brokers);
    await bus.ensureTopics([{ topic }]);
    const app = await openApp(bus, topic, { publishTimeoutMs: 5000 });
    expect((await deliver(app, 'before-outage')).statusCode).toBe(202);

    await kafka.stop();
    const t0 = Date.now();
    const during = await deliver(app, 'during-outage');
    expect(during.statusCode).toBe(503);
    expect(during.headers['retry-after']).toBeDefined();
    expect(Date.now() - t0).toBeLessThan(6000); // within GitLab's 10 s timeout
    const t1 = Date.now();
    expect((await deliver(app, 'during-outage')).statusCode).toBe(503);
    expect(Date.now() - t1).toBeLessThan(1000); // known-down bus: answered at once
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);

    await kafka.start();
    await waitFor(async () => (await app.inject({ url: '/readyz' })).statusCode === 200, { timeoutMs: 90_000, what: 'readiness after the broker returned' });
    // GitLab retries the 503'd delivery: it was never marked seen, so it is accepted now.
    await waitFor(async () => (await deliver(app, 'during-outage')).statusCode === 202, { timeoutMs: 60_000, what: 'the retried delivery accepted' });
    expect((await deliver(app, 'during-outage')).statusCode).toBe(200);

    const ids = (await readTopic(bus, topic)).map((m) => m.event.id);
    expect(ids.filter((id) => id === 'during-outage')).toHaveLength(1);
    expect(ids).toContain('before-outage');
  });
});
