import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import swagger from '@fastify/swagger';
import { CloudEvent } from 'cloudevents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GITLAB_PUSH_EVENT_TYPE, GITLAB_WEBHOOK_EVENT_TYPE, GitlabPushDataSchema, GitlabWebhookDataSchema, TOPIC_GITLAB } from '@jit/contracts';
import { createLogger, createRegistry } from '@jit/observability';
import { DedupeStore } from './dedupe-store';
import type { IngestPluginOptions } from './ingest-options';
import { ingestPlugin } from './ingest-plugin';
import { jsonNestingExceeds } from './json-nesting';
import { FakeBus, captureStream, fixture, signedHeaders, signingToken } from './test-support';

const TOKEN = 'gl-hook-token-0123456789';
const OLD_TOKEN = 'gl-hook-token-previous-42';
const SIGNING = signingToken('signing-key-current');
const OLD_SIGNING = signingToken('signing-key-previous');
const MR = fixture('merge-request-hook.json');
const NOTE_MR = fixture('note-hook-merge-request.json');
const NOTE_ISSUE = fixture('note-hook-issue.json');
const PUSH = fixture('push-hook.json');

let bus: FakeBus;
let app: FastifyInstance;
let log: ReturnType<typeof captureStream>;

async function build(options: Partial<IngestPluginOptions> = {}, level: 'info' | 'debug' = 'info'): Promise<FastifyInstance> {
  log = captureStream();
  const logger = createLogger({ name: 'ingest-test', destination: log.stream, level });
  const instance = Fastify({ loggerInstance: logger }) as unknown as FastifyInstance;
  await instance.register(ingestPlugin, { bus, auth: { tokens: [TOKEN] }, logger, underPressure: false, ...options });
  await instance.ready();
  return instance;
}

function deliver(body: string, headers: Record<string, string> = {}, event = 'Merge Request Hook') {
  return app.inject({
    method: 'POST',
    url: '/webhooks/gitlab',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': event,
      'x-gitlab-token': TOKEN,
      'idempotency-key': randomUUID(),
      'x-gitlab-event-uuid': randomUUID(),
      ...headers,
    },
  });
}

async function metricValue(outcome: string): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  const m = res.body.match(new RegExp(`^jit_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

beforeEach(() => {
  bus = new FakeBus();
});
afterEach(async () => {
  await app?.close();
  await bus.close();
});

describe('POST /webhooks/gitlab — publishing', () => {
  beforeEach(async () => {
    app = await build();
  });

  it('publishes envelopes the CloudEvents SDK accepts for any delivery id it takes (checked once at registration, not per delivery)', async () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(printable, async (id) => {
        const before = bus.published.length;
        const res = await deliver(MR, { 'idempotency-key': id });
        if (res.statusCode === 200) return; // a repeat of an id already published
        expect(res.statusCode).toBe(202);
        const { event } = bus.published[before]!;
        expect(event.id).toBe(id);
        expect(() => new CloudEvent(event as never, true)).not.toThrow();
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a source the CloudEvents SDK would reject, at registration', async () => {
    await expect(build({ source: 'not a uri reference' })).rejects.toMatchObject({ code: 'JIT_ERR_INGEST_CONFIG' });
  });

  it('publishes a Merge Request Hook as a CloudEvent keyed <project>!<iid> and answers 202', async () => {
    const res = await deliver(MR, { 'idempotency-key': 'delivery-mr-1', 'x-gitlab-event-uuid': 'evt-1', 'x-gitlab-webhook-uuid': 'hook-9' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: true, id: 'delivery-mr-1' });
    expect(bus.published).toHaveLength(1);
    const [{ topic, key, event }] = bus.published as [(typeof bus.published)[0]];
    expect(topic).toBe(TOPIC_GITLAB);
    expect(key).toBe('1!1');
    expect(event).toMatchObject({
      specversion: '1.0',
      id: 'delivery-mr-1',
      type: GITLAB_WEBHOOK_EVENT_TYPE,
      source: '/jit/webhook-ingest',
      subject: '1!1',
      datacontenttype: 'application/json',
    });
    const data = GitlabWebhookDataSchema.parse(event.data);
    expect(data).toMatchObject({
      kind: 'merge_request',
      action: 'open',
      projectId: 1,
      projectPath: 'gitlabhq/gitlab-test',
      mrIid: 1,
      mrState: 'opened',
      sourceBranch: 'ms-viewport',
      targetBranch: 'master',
      headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      authorId: 51,
      actor: { id: 1, username: 'root', name: 'Administrator' },
      labels: ['API'],
      delivery: { id: 'delivery-mr-1', eventUuid: 'evt-1', webhookUuid: 'hook-9' },
    });
    expect(data.payload).toEqual(JSON.parse(MR));
  });

  it('publishes a Note Hook on a merge request with the note body', async () => {
    const res = await deliver(NOTE_MR, {}, 'Note Hook');
    expect(res.statusCode).toBe(202);
    expect(bus.published).toHaveLength(1);
    expect(bus.published[0]!.key).toBe('5!1');
    expect(bus.published[0]!.event.data).toMatchObject({
      kind: 'note',
      action: 'create',
      mrIid: 1,
      headSha: '562e173be03b8ff2efb05345d12df18815438a4b',
      note: { id: 1244, body: 'This MR needs work.', system: false },
      labels: ['Afterpod', 'Element'],
    });
  });

  it('acknowledges other events with 200 and publishes nothing', async () => {
    for (const [body, event] of [
      [NOTE_ISSUE, 'Note Hook'],
      [PUSH.replace('"refs/heads/master"', '"refs/tags/v1.0.0"'), 'Push Hook'],
      ['{}', 'Pipeline Hook'],
      ['not even json', 'Job Hook'],
    ] as const) {
      const res = await deliver(body, {}, event);
      expect(res.statusCode, event).toBe(200);
      expect(res.json()).toEqual({ ignored: true });
    }
    expect(bus.published).toHaveLength(0);
    expect(await metricValue('ignored')).toBe(4);
  });

  it('publishes a branch push, keyed by <project_id>@<branch>, with who pushed (user_username)', async () => {
    const res = await deliver(PUSH, {}, 'Push Hook');
    expect(res.statusCode).toBe(202);
    expect(bus.published).toHaveLength(1);
    const [m] = bus.published;
    expect(m!.key).toBe('15@master');
    expect(m!.event.type).toBe(GITLAB_PUSH_EVENT_TYPE);
    expect(GitlabPushDataSchema.parse(m!.event.data)).toMatchObject({
      kind: 'push',
      projectId: 15,
      branch: 'master',
      actor: { id: 4, username: 'jsmith' },
      after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      totalCommits: 4,
    });
  });
});

describe('authentication', () => {
  it('answers 401 to a missing or wrong X-Gitlab-Token without reading the body', async () => {
    app = await build();
    const missing = await deliver('this is not json', { 'x-gitlab-token': '' });
    const wrong = await deliver(MR, { 'x-gitlab-token': `${TOKEN}x` });
    const prefix = await deliver(MR, { 'x-gitlab-token': TOKEN.slice(0, -1) });
    for (const res of [missing, wrong, prefix]) {
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('JIT_ERR_INGEST_UNAUTHORIZED');
    }
    expect(bus.published).toHaveLength(0);
    expect(await metricValue('unauthorized')).toBe(3);
  });

  it('accepts every token of a rotation', async () => {
    app = await build({ auth: { tokens: [TOKEN, OLD_TOKEN] } });
    expect((await deliver(MR, { 'x-gitlab-token': OLD_TOKEN })).statusCode).toBe(202);
    expect((await deliver(MR, { 'x-gitlab-token': TOKEN })).statusCode).toBe(202);
    expect((await deliver(MR, { 'x-gitlab-token': 'neither' })).statusCode).toBe(401);
    expect(bus.published).toHaveLength(2);
  });

  it('follows a live secret: the rotated token works at once, the replaced one for the grace window, a refused rotation changes nothing', async () => {
    let listener: ((v: string[]) => void) | undefined;
    const feed = { current: () => [OLD_TOKEN], onChange: (l: (v: string[]) => void) => ((listener = l), () => (listener = undefined)) };
    app = await build({ auth: { tokens: feed, graceMs: 60_000 } });
    expect((await deliver(MR, { 'x-gitlab-token': TOKEN })).statusCode).toBe(401);
    listener!([TOKEN]);
    expect((await deliver(MR, { 'x-gitlab-token': TOKEN })).statusCode).toBe(202);
    expect((await deliver(MR, { 'x-gitlab-token': OLD_TOKEN })).statusCode).toBe(202);
    listener!([]);
    expect((await deliver(MR, { 'x-gitlab-token': TOKEN })).statusCode).toBe(202);
    expect(log.text()).toContain('rotated webhook secret refused');
    expect(log.text()).not.toContain(TOKEN);
    expect(log.text()).not.toContain(OLD_TOKEN);
    await app.close();
    expect(listener).toBeUndefined();
  });

  describe('Standard Webhooks signing', () => {
    beforeEach(async () => {
      app = await build({ auth: { signingSecrets: [SIGNING, OLD_SIGNING] } });
    });
    const noToken = { 'x-gitlab-token': '' };

    it('accepts a signature computed over the raw body, with either rotated key', async () => {
      const a = await deliver(MR, { ...noToken, ...signedHeaders(SIGNING, MR) });
      const b = await deliver(MR, { ...noToken, ...signedHeaders(OLD_SIGNING, MR) });
      expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
      // webhook-id is the delivery id, and so the CloudEvent id
      expect(bus.published[0]!.event.id).toMatch(/^msg_/);
    });

    it('verifies the bytes as sent, whitespace and all', async () => {
      const pretty = JSON.stringify(JSON.parse(MR), null, 4) + '\n\n';
      expect((await deliver(pretty, { ...noToken, ...signedHeaders(SIGNING, pretty) })).statusCode).toBe(202);
      const other = JSON.stringify(JSON.parse(MR));
      expect((await deliver(other, { ...noToken, ...signedHeaders(SIGNING, pretty) })).statusCode).toBe(401);
    });

    it('accepts timestamps within 5 minutes either way (clock skew)', async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const timestamp of [now - 4 * 60, now + 4 * 60]) {
        const res = await deliver(MR, { ...noToken, ...signedHeaders(SIGNING, MR, { timestamp }) });
        expect(res.statusCode).toBe(202);
      }
    });

    it('accepts when one of several space-separated signatures matches', async () => {
      const h = signedHeaders(SIGNING, MR);
      const res = await deliver(MR, { ...noToken, ...h, 'webhook-signature': `v1,AAAA ${h['webhook-signature']}` });
      expect(res.statusCode).toBe(202);
    });

    it('rejects stale and future timestamps, other bodies, other keys, and missing headers', async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: Record<string, string>[] = [
        signedHeaders(SIGNING, MR, { timestamp: now - 6 * 60 }),
        signedHeaders(SIGNING, MR, { timestamp: now + 6 * 60 }),
        signedHeaders(SIGNING, NOTE_MR),
        signedHeaders(signingToken('attacker-key'), MR),
        { ...signedHeaders(SIGNING, MR), 'webhook-timestamp': 'yesterday' },
        { ...signedHeaders(SIGNING, MR), 'webhook-id': 'msg_changed' },
        { 'webhook-id': 'msg_1', 'webhook-timestamp': String(now) },
        {},
      ];
      for (const headers of cases) {
        const res = await deliver(MR, { ...noToken, ...headers });
        expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      }
      const stale = await deliver(MR, { ...noToken, ...signedHeaders(SIGNING, MR, { timestamp: now - 6 * 60 }) });
      expect(stale.json().message).toMatch(/timestamp too old/);
      expect(bus.published).toHaveLength(0);
    });
  });

  it('requires both the token and the signature when both are configured', async () => {
    app = await build({ auth: { tokens: [TOKEN], signingSecrets: [SIGNING] } });
    expect((await deliver(MR, { ...signedHeaders(SIGNING, MR) })).statusCode).toBe(202);
    expect((await deliver(MR, { ...signedHeaders(SIGNING, MR), 'x-gitlab-token': 'wrong' })).statusCode).toBe(401);
    expect((await deliver(MR, {})).statusCode).toBe(401);
    expect(bus.published).toHaveLength(1);
  });

  it('refuses to start without any secret, or with a signing token that is not whsec_<base64>', async () => {
    const bare = Fastify();
    await expect(bare.register(ingestPlugin, { bus, auth: {} }).ready()).rejects.toThrow(/JIT_ERR_INGEST_CONFIG|at least one/);
    const bad = Fastify();
    await expect(bad.register(ingestPlugin, { bus, auth: { signingSecrets: ['hunter2'] } }).ready()).rejects.toThrow(/whsec_/);
    await expect(
      Fastify()
        .register(ingestPlugin, { bus, auth: { signingSecrets: ['hunter2'] } })
        .ready(),
    ).rejects.not.toThrow(/hunter2/);
  });
});

describe('bad input', () => {
  beforeEach(async () => {
    app = await build({ bodyLimit: 64 * 1024 });
  });

  it('answers 400 to malformed JSON, naming no body content', async () => {
    for (const body of ['{"object_kind":', '', 'null x', '\u0000\u0001', '{"a":1}}']) {
      const res = await deliver(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect(bus.published).toHaveLength(0);
    expect(await metricValue('malformed')).toBe(5);
  });

  it('answers 400 naming the fields GitLab JSON lacks', async () => {
    const body = JSON.parse(MR);
    delete body.project.id;
    delete body.object_attributes.iid;
    body.object_attributes.source_branch = 42;
    const res = await deliver(JSON.stringify(body));
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.code).toBe('JIT_ERR_INGEST_INVALID_PAYLOAD');
    expect(json.message).toContain('project.id');
    expect(json.message).toContain('object_attributes.iid');
    expect(json.message).toContain('object_attributes.source_branch');
    for (const notAnObject of ['[]', '42', '"x"', 'null']) expect((await deliver(notAnObject)).statusCode).toBe(400);
  });

  it('answers 400 to a missing X-Gitlab-Event or an unusable delivery id', async () => {
    const noEvent = await app.inject({
      method: 'POST',
      url: '/webhooks/gitlab',
      payload: MR,
      headers: { 'content-type': 'application/json', 'x-gitlab-token': TOKEN },
    });
    expect(noEvent.statusCode).toBe(400);
    expect(noEvent.json().message).toContain('X-Gitlab-Event');
    expect((await deliver(MR, { 'idempotency-key': 'has spaces in it' })).statusCode).toBe(400);
    expect((await deliver(MR, { 'idempotency-key': 'x'.repeat(201) })).statusCode).toBe(400);
    expect(bus.published).toHaveLength(0);
    // informational ids that are junk are dropped, not carried onto the bus
    const junk = await deliver(MR, { 'idempotency-key': 'ok-id', 'x-gitlab-event-uuid': 'a b', 'x-gitlab-webhook-uuid': 'u'.repeat(5000) });
    expect(junk.statusCode).toBe(202);
    expect((bus.published[0]!.event.data as { delivery: object }).delivery).not.toHaveProperty('eventUuid');
    expect((bus.published[0]!.event.data as { delivery: object }).delivery).not.toHaveProperty('webhookUuid');
  });

  it('answers 400 to hostile nesting instead of recursing', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const res = await deliver(deep);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/nested deeper/);
    expect(jsonNestingExceeds(Buffer.from('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[["}'), 3)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from('{"a":[[[1]]]}'), 3)).toBe(true);
    // an escaped backslash ends the string; the brackets after it count
    expect(jsonNestingExceeds(Buffer.from('{"a":"x\\\\","b":[[[1]]]}'), 3)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from('{"a":"x\\\\\\"[[[[["}'), 3)).toBe(false);
  });

  it('measures nesting like the parsed value does (property)', () => {
    const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, max) => {
        const text = JSON.stringify(value);
        expect(jsonNestingExceeds(Buffer.from(text), max)).toBe(depthOf(JSON.parse(text)) > max);
      }),
      { numRuns: 500 },
    );
  });

  it('answers 413 to a body over the limit, from Content-Length and from the bytes', async () => {
    const big = JSON.stringify({ ...JSON.parse(MR), filler: 'x'.repeat(70 * 1024) });
    const res = await deliver(big);
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('JIT_ERR_INGEST_TOO_LARGE');
    expect(bus.published).toHaveLength(0);
    expect(await metricValue('too_large')).toBe(1);
  });

  it('answers 413 when the bus refuses the event as too large, and does not mark it seen', async () => {
    await app.close();
    app = await build({ bodyLimit: 4 * 1024 * 1024 });
    const huge = JSON.stringify({ ...JSON.parse(MR), filler: 'x'.repeat(1536 * 1024) });
    const res = await deliver(huge, { 'idempotency-key': 'huge' });
    expect(res.statusCode).toBe(413);
    expect(bus.published).toHaveLength(0);
    expect((await deliver(MR, { 'idempotency-key': 'huge' })).statusCode).toBe(202);
  });

  it('answers 415 to anything but application/json', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await deliver(MR, { 'content-type': type });
      expect(res.statusCode, type).toBe(415);
    }
    const noType = await app.inject({
      method: 'POST',
      url: '/webhooks/gitlab',
      payload: MR,
      headers: { 'x-gitlab-token': TOKEN, 'x-gitlab-event': 'Merge Request Hook', 'content-type': '' },
    });
    expect(noType.statusCode).toBe(415);
    expect((await deliver(MR, { 'content-type': 'application/json; charset=utf-8' })).statusCode).toBe(202);
    expect(await metricValue('unsupported_media_type')).toBe(5);
  });
});

describe('413 without buffering the rest (real socket)', () => {
  it('answers before the client has sent the body it announced', async () => {
    app = await build({ bodyLimit: 64 * 1024 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: {
          'content-type': 'application/json',
          'content-length': String(50 * 1024 * 1024),
          'x-gitlab-token': TOKEN,
          'x-gitlab-event': 'Merge Request Hook',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write('{"object_kind":"merge_request",'); // 31 of the announced 50 MiB, then wait
    });
    expect(status).toBe(413);
    expect(bus.published).toHaveLength(0);
  });
});

describe('out-of-order deliveries', () => {
  beforeEach(async () => {
    app = await build();
  });

  it('publishes every delivery in arrival order under the MR key, whatever the lifecycle order', async () => {
    const mr = JSON.parse(MR);
    const as = (action: string, state: string, updatedAt: string) => JSON.stringify({ ...mr, object_attributes: { ...mr.object_attributes, action, state, updated_at: updatedAt } });
    const note = JSON.parse(NOTE_MR);
    note.project = mr.project;
    note.merge_request.iid = 1;
    // merge arrives first, then a note, then the open it follows, then an older retry of an update
    const sent = [
      [as('merge', 'merged', '2024-01-03T00:00:00Z'), 'Merge Request Hook', 'd-merge'],
      [JSON.stringify(note), 'Note Hook', 'd-note'],
      [as('open', 'opened', '2024-01-01T00:00:00Z'), 'Merge Request Hook', 'd-open'],
      [as('update', 'opened', '2024-01-02T00:00:00Z'), 'Merge Request Hook', 'd-update'],
    ] as const;
    for (const [body, event, id] of sent) expect((await deliver(body, { 'idempotency-key': id }, event)).statusCode).toBe(202);
    expect(bus.published.map((p) => [p.key, p.event.id])).toEqual(sent.map(([, , id]) => ['1!1', id]));
    // the consumer orders by what the data says, not by arrival
    expect(bus.published.map((p) => (p.event.data as { mrUpdatedAt: string }).mrUpdatedAt)).toContain('2024-01-01T00:00:00Z');
  });
});

describe('413 on a chunked body (no Content-Length)', () => {
  it('stops reading at the limit and answers while the client is still sending', async () => {
    app = await build({ bodyLimit: 64 * 1024 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const result = await new Promise<{ status: number; sentBytes: number }>((resolve, reject) => {
      let sentBytes = 0;
      let answered = false;
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-gitlab-token': TOKEN, 'x-gitlab-event': 'Merge Request Hook' },
      });
      req.on('response', (res) => {
        answered = true;
        res.resume();
        resolve({ status: res.statusCode ?? 0, sentBytes });
        req.destroy();
      });
      req.on('error', (err) => (answered ? undefined : reject(err)));
      const pump = () => {
        // up to 16 MiB, one chunk per turn, until the server answers
        if (answered || sentBytes >= 16 * 1024 * 1024) return;
        sentBytes += chunk.length;
        req.write(chunk, () => setImmediate(pump));
      };
      req.write('{"object_kind":"merge_request","pad":"');
      pump();
    });
    expect(result.status).toBe(413);
    expect(result.sentBytes).toBeLessThan(16 * 1024 * 1024);
    expect(bus.published).toHaveLength(0);
  });
});

describe('de-duplication', () => {
  beforeEach(async () => {
    app = await build();
  });

  it.each([
    ['Idempotency-Key', { 'idempotency-key': 'same-key' }, { 'idempotency-key': 'same-key' }],
    ['webhook-id', { 'webhook-id': 'msg_same' }, { 'webhook-id': 'msg_same' }],
    ['X-Gitlab-Event-UUID', { 'idempotency-key': '', 'x-gitlab-event-uuid': 'e-1' }, { 'idempotency-key': '', 'x-gitlab-event-uuid': 'e-1' }],
  ])('a second delivery with the same %s is acknowledged and not published', async (_name, first, second) => {
    expect((await deliver(MR, first)).statusCode).toBe(202);
    const again = await deliver(MR, second);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ duplicate: true });
    expect(bus.published).toHaveLength(1);
    expect(await metricValue('duplicate')).toBe(1);
  });

  it('without any id header, the same body is the same delivery', async () => {
    const none = { 'idempotency-key': '', 'x-gitlab-event-uuid': '' };
    expect((await deliver(MR, none)).statusCode).toBe(202);
    expect((await deliver(MR, none)).statusCode).toBe(200);
    expect((await deliver(NOTE_MR, none, 'Note Hook')).statusCode).toBe(202);
    expect(bus.published.map((p) => p.event.id)).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/), expect.any(String)]);
  });

  it('concurrent deliveries of one id publish once', async () => {
    let release!: () => void;
    bus.hold = new Promise((r) => (release = r));
    const pending = Array.from({ length: 5 }, () => deliver(MR, { 'idempotency-key': 'racing' }));
    await waitFor(() => bus.inFlight === 1);
    release();
    const codes = (await Promise.all(pending)).map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 200, 200, 200, 202]);
    expect(bus.published).toHaveLength(1);
  });

  it('remembers ids across a restart through the data dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ingest-dedupe-'));
    try {
      await app.close();
      app = await build({ dedupe: { dir } });
      expect((await deliver(MR, { 'idempotency-key': 'survives' })).statusCode).toBe(202);
      await app.close();
      expect(await readFile(join(dir, 'ingest-dedupe.log'), 'utf8')).toContain(' survives\n');
      app = await build({ dedupe: { dir } });
      expect((await deliver(MR, { 'idempotency-key': 'survives' })).statusCode).toBe(200);
      expect(bus.published).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bus unavailable', () => {
  it('answers 503 with Retry-After fast when the bus is not ready, and readiness is false', async () => {
    app = await build();
    bus.ready = false;
    const started = Date.now();
    const res = await deliver(MR, { 'idempotency-key': 'while-down' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    bus.ready = true;
    expect((await app.inject({ url: '/readyz' })).json()).toMatchObject({ ready: true });
    // The 503'd delivery was not marked seen: GitLab's retry is accepted.
    expect((await deliver(MR, { 'idempotency-key': 'while-down' })).statusCode).toBe(202);
    expect(bus.published).toHaveLength(1);
    expect(await metricValue('unavailable')).toBe(1);
  });

  it('answers 503 when publish rejects, and accepts the retry once the bus is back', async () => {
    app = await build();
    bus.failWith = Object.assign(new Error('broker gone'), { retriable: true });
    expect((await deliver(MR, { 'idempotency-key': 'retry-me' })).statusCode).toBe(503);
    bus.failWith = undefined;
    expect((await deliver(MR, { 'idempotency-key': 'retry-me' })).statusCode).toBe(202);
    expect(bus.published).toHaveLength(1);
  });

  it('answers 503 when the bus does not acknowledge in time; a late success still counts as seen', async () => {
    app = await build({ publishTimeoutMs: 50 });
    let release!: () => void;
    bus.hold = new Promise((r) => (release = r));
    expect((await deliver(MR, { 'idempotency-key': 'slow' })).statusCode).toBe(503);
    // GitLab retries while the first attempt is still with the bus: it waits for it, does not publish again
    expect((await deliver(MR, { 'idempotency-key': 'slow' })).statusCode).toBe(503);
    expect(bus.inFlight).toBe(1);
    bus.hold = undefined;
    release();
    await waitFor(() => bus.published.length === 1);
    expect((await deliver(MR, { 'idempotency-key': 'slow' })).statusCode).toBe(200);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met');
    await new Promise((r) => setImmediate(r));
  }
}

describe('observability', () => {
  it('logs one line per delivery with ids and outcome (accepted ones at debug), and never a token or signature', async () => {
    app = await build({ auth: { tokens: [TOKEN], signingSecrets: [SIGNING] } }, 'debug');
    const signed = signedHeaders(SIGNING, MR);
    await deliver(MR, { ...signed, 'idempotency-key': 'logged-1' });
    const bad = signedHeaders(SIGNING, MR);
    await deliver(MR, { ...bad, 'x-gitlab-token': 'wrong-token-value-777' });
    await deliver(MR, { 'webhook-signature': 'v1,Zm9yZ2VkLXNpZ25hdHVyZQ==' });
    const lines = log.lines().filter((l) => l['msg'] === 'webhook delivery');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ deliveryId: 'msg_' + signed['webhook-id'].slice(4), event: 'Merge Request Hook', action: 'open', projectId: 1, mrIid: 1, outcome: 'accepted' });
    expect(lines[0]!['level']).toBe(20);
    expect(lines[1]).toMatchObject({ outcome: 'unauthorized', level: 30 });
    const all = log.text();
    for (const secret of [
      TOKEN,
      SIGNING,
      SIGNING.slice(6),
      signed['webhook-signature'],
      signed['webhook-signature'].slice(3),
      bad['webhook-signature'],
      'wrong-token-value-777',
      'Zm9yZ2VkLXNpZ25hdHVyZQ==',
    ]) {
      expect(all).not.toContain(secret);
    }
  });

  it('at info, logs every delivery but the accepted ones, whose record is their event on the bus', async () => {
    app = await build();
    await deliver(MR, { 'idempotency-key': 'quiet-1' });
    await deliver(MR, { 'idempotency-key': 'quiet-1' });
    await deliver(MR, { 'x-gitlab-token': 'nope-nope-nope' });
    await deliver('{}', {}, 'Pipeline Hook');
    bus.failWith = new Error('broker gone');
    await deliver(MR, { 'idempotency-key': 'quiet-2' });
    const lines = log.lines().filter((l) => l['msg'] === 'webhook delivery');
    expect(lines.map((l) => [l['outcome'], l['level']])).toEqual([
      ['duplicate', 30],
      ['unauthorized', 30],
      ['ignored', 30],
      ['unavailable', 40],
    ]);
    expect(bus.published).toHaveLength(1);
  });

  it('exports the counter and histogram on /metrics, or on a given registry only', async () => {
    app = await build();
    await deliver(MR);
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/^jit_webhook_deliveries_total\{outcome="accepted"\} 1$/m);
    expect(text).toMatch(/^jit_webhook_deliveries_total\{outcome="too_large"\} 0$/m);
    expect(text).toMatch(/^jit_webhook_duration_seconds_count\{outcome="accepted"\} 1$/m);
    await app.close();

    const registry = createRegistry();
    app = await build({ registry, metricsRoute: false, healthRoutes: false });
    await deliver(MR);
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(404);
    expect(await registry.metrics()).toMatch(/^jit_webhook_deliveries_total\{outcome="accepted"\} 1$/m);
  });

  it('serves /healthz', async () => {
    app = await build();
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});

describe('composition and lifecycle', () => {
  it('keeps its raw-body parser to its own route: the host app still parses JSON', async () => {
    log = captureStream();
    app = Fastify();
    app.post('/host', async (req) => ({ got: req.body }));
    await app.register(ingestPlugin, { bus, auth: { tokens: [TOKEN] }, underPressure: false, metricsRoute: false });
    const res = await app.inject({ method: 'POST', url: '/host', payload: { a: 1 } });
    expect(res.json()).toEqual({ got: { a: 1 } });
  });

  it('documents its routes for a host serving OpenAPI, without validating anything extra', async () => {
    app = Fastify();
    await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } });
    await app.register(ingestPlugin, { bus, auth: { tokens: [TOKEN] }, underPressure: false });
    await app.ready();
    const doc = app.swagger() as { paths: Record<string, Record<string, { summary?: string }>> };
    expect(doc.paths['/webhooks/gitlab']?.['post']?.summary).toMatch(/GitLab webhook/);
    expect(doc.paths['/metrics']).toBeUndefined();
    expect((await deliver(MR)).statusCode).toBe(202);
  });

  it('sheds load with 503 + Retry-After when under pressure', async () => {
    app = await build({ underPressure: { healthCheck: async () => false, healthCheckInterval: 10 }, retryAfterSeconds: 7 });
    await waitFor(() => app.isUnderPressure(), 2000).catch(() => undefined);
    const res = await deliver(MR);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(bus.published).toHaveLength(0);
    expect(await metricValue('unavailable')).toBe(1);
  });

  it('drains an in-flight delivery on close and persists its id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ingest-drain-'));
    try {
      app = await build({ dedupe: { dir } });
      let release!: () => void;
      bus.hold = new Promise((r) => (release = r));
      const inFlight = deliver(MR, { 'idempotency-key': 'in-flight' });
      await waitFor(() => bus.inFlight === 1);
      const closing = app.close();
      release();
      expect((await inFlight).statusCode).toBe(202);
      await closing;
      expect(await readFile(join(dir, 'ingest-dedupe.log'), 'utf8')).toContain(' in-flight\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts an already-open DedupeStore and leaves it open', async () => {
    const store = await DedupeStore.open();
    app = await build({ dedupe: store });
    await deliver(MR, { 'idempotency-key': 'shared-store' });
    await app.close();
    expect(store.has('shared-store')).toBe(true);
  });
});
