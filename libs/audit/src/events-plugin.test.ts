import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createSigningBus, type EventBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { EVENT_TYPES, TOPIC_ELEVATIONS, producerTrust, verifyEventLog } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createChainHeads } from '@jit/ledger';
import { eventsPlugin } from './events-plugin';

const { signer } = createTestSigningKey();
const trust = producerTrust({}, { key: signer.publicKey, roles: ['gate', 'issuer', 'revoker'] });

describe('GET /v1/events', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function serve(bus: EventBus): Promise<string> {
    const app = Fastify({ forceCloseConnections: true });
    // what the auth plugin does: the caller named by the token (here by a test header)
    app.addHook('onRequest', async (req) => {
      const who = req.headers['x-test-user'];
      if (typeof who === 'string') (req as { caller?: unknown }).caller = { username: who, bot: false, via: 'gitlab-token' };
    });
    await app.register(eventsPlugin, { bus, access: { viewOf: async (c) => ({ auditor: c.username === 'auditor' }) }, maxStreams: 2 });
    apps.push(app);
    return app.listen({ host: '127.0.0.1', port: 0 });
  }
  async function lifecycle(bus: EventBus) {
    const signing = createSigningBus(bus, signer, [TOPIC_ELEVATIONS], createChainHeads());
    for (const type of [EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted] as const) {
      // granted on the 2nd, until half an hour later
      const data = type === EVENT_TYPES.granted ? { expiresAt: '2026-01-02T00:30:00.000Z' } : {};
      await signing.publish(TOPIC_ELEVATIONS, 'gl-42-7', { ...sampleEvent(type, data as never), time: type === EVENT_TYPES.requested ? '2026-01-01T00:00:00.000Z' : '2026-01-02T00:00:00.000Z' });
    }
    return signing;
  }
  const lines = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('auditors only: no caller 401, a non-auditor 403', async () => {
    const url = await serve(createMemoryBus());
    expect((await fetch(`${url}/v1/events`)).status).toBe(401);
    const r = await fetch(`${url}/v1/events`, { headers: { 'x-test-user': 'carol' } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { code: string }).code).toBe('JIT_ERR_AUDIT_NOT_AUDITOR');
    expect((await fetch(`${url}/v1/events?since=yesterday`, { headers: { 'x-test-user': 'auditor' } })).status).toBe(400);
    expect((await fetch(`${url}/v1/events?format=xml`, { headers: { 'x-test-user': 'auditor' } })).status).toBe(400);
  });

  it('streams the events exactly as published (they verify), from the start or a point in time, as CloudEvents or OCSF', async () => {
    const bus = createMemoryBus();
    await lifecycle(bus);
    const url = await serve(bus);
    const h = { headers: { 'x-test-user': 'auditor' } };
    const res = await fetch(`${url}/v1/events`, h);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const all = lines(await res.text());
    expect(all.map((e) => e.type)).toEqual([EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted]);
    expect(verifyEventLog(all, { trust })).toMatchObject({ ok: true, events: 3 });
    const later = lines(await (await fetch(`${url}/v1/events?since=2026-01-01T12:00:00Z`, h)).text());
    // from a point in time: the elevation's last earlier event first (the anchor), so the export verifies
    expect(later.map((e) => e.type)).toEqual([EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted]);
    expect(verifyEventLog(later, { trust, since: new Date('2026-01-01T12:00:00Z') })).toMatchObject({ ok: true, anchors: 1 });
    const ocsf = lines(await (await fetch(`${url}/v1/events?format=ocsf&since=2026-01-01T12:00:00Z`, h)).text());
    // the requester comes from the request, read before `since`
    expect(ocsf[1]).toMatchObject({ class_uid: 3005, activity_id: 1, user: { name: 'carol' } });
    expect(lines(await (await fetch(`${url}/v1/events?elevation=gl-1-1`, h)).text())).toEqual([]);
  });

  it('follows: an event published later arrives on the open stream; closing the stream frees its slot', async () => {
    const bus = createMemoryBus();
    const signing = await lifecycle(bus);
    const url = await serve(bus);
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/events?follow=true`, { headers: { 'x-test-user': 'auditor' }, signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    const until = async (n: number) => {
      while (text.split('\n').filter(Boolean).length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += new TextDecoder().decode(value);
      }
    };
    await until(3);
    await signing.publish(TOPIC_ELEVATIONS, 'gl-42-7', sampleEvent(EVENT_TYPES.revoked));
    await until(4);
    expect(
      lines(text)
        .map((e) => e.type)
        .pop(),
    ).toBe(EVENT_TYPES.revoked);
    expect(verifyEventLog(lines(text), { trust }).ok).toBe(true);
    controller.abort();
    // two slots: after the abort, two more streams can open
    const again = await Promise.all([1, 2].map(() => fetch(`${url}/v1/events`, { headers: { 'x-test-user': 'auditor' } })));
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    await Promise.all(again.map((r) => r.text()));
  });
  it('a follower taken off the auditors gets no event published after that: the stream ends (hostile review 2)', async () => {
    const bus = createMemoryBus();
    const signing = await lifecycle(bus);
    const auditors = new Set(['eve']);
    const app = Fastify({ forceCloseConnections: true });
    app.addHook('onRequest', async (req) => {
      (req as { caller?: unknown }).caller = { username: 'eve', bot: false, via: 'gitlab-token' };
    });
    await app.register(eventsPlugin, { bus, access: { viewOf: async (c) => ({ auditor: auditors.has(c.username) }) }, recheckMs: 0 });
    apps.push(app);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const reader = (await fetch(`${url}/v1/events?follow=true`)).body!.getReader();
    let text = '';
    const next = async (): Promise<boolean> => {
      const { value, done } = await reader.read();
      if (done) return false;
      text += new TextDecoder().decode(value);
      return true;
    };
    while (text.split('\n').filter(Boolean).length < 3) expect(await next()).toBe(true);
    // eve leaves the auditors (a ratified policy change, or she left the group); she keeps the socket
    auditors.delete('eve');
    await signing.publish(TOPIC_ELEVATIONS, 'gl-42-7', sampleEvent(EVENT_TYPES.revoked));
    while (await next());
    expect(lines(text).map((e) => e.type)).not.toContain(EVENT_TYPES.revoked);
  });
});
