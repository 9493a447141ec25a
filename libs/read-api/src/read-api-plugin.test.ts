import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@jit/contracts';
import { FIXTURE_ELEVATION, FIXTURE_SEALED, sampleEvent } from '@jit/contracts/testing';
import { createLedger } from '@jit/ledger';
import { readApiPlugin } from './read-api-plugin';
import { auditorReader } from './testing';

async function app(events: Parameters<ReturnType<typeof createLedger>['apply']>[0][]) {
  const ledger = createLedger();
  for (const e of events) ledger.apply(e);
  const f = Fastify();
  const reader = auditorReader();
  reader.actAs(f);
  await f.register(readApiPlugin, { ledger, ...reader });
  return f;
}

describe('read API', () => {
  it('shows state and timeline without the sealed blob, and serves the blob only on its route while live', async () => {
    const f = await app([sampleEvent(EVENT_TYPES.requested), sampleEvent(EVENT_TYPES.approved), sampleEvent(EVENT_TYPES.granted)]);
    const one = await f.inject({ url: `/v1/elevations/${FIXTURE_ELEVATION}` });
    expect(one.statusCode).toBe(200);
    expect(one.json().state).toBe('granted');
    expect(
      one
        .json()
        .timeline.map((t: { type: string }) => t.type)
        .sort(),
    ).toEqual([EVENT_TYPES.approved, EVENT_TYPES.granted, EVENT_TYPES.requested]);
    expect(one.body).not.toContain('BEGIN AGE');

    const cred = await f.inject({ url: `/v1/elevations/${FIXTURE_ELEVATION}/credential` });
    expect(cred.statusCode).toBe(200);
    expect(cred.json().sealedCredential).toBe(FIXTURE_SEALED);
  });

  it('stops serving the credential once revoked (410) and before grant (409)', async () => {
    const revoked = await app([sampleEvent(EVENT_TYPES.requested), sampleEvent(EVENT_TYPES.approved), sampleEvent(EVENT_TYPES.granted), sampleEvent(EVENT_TYPES.revoked)]);
    const r = await revoked.inject({ url: `/v1/elevations/${FIXTURE_ELEVATION}/credential` });
    expect(r.statusCode).toBe(410);
    expect(r.json().code).toBe('JIT_ERR_API_CREDENTIAL_ENDED');

    const pending = await app([sampleEvent(EVENT_TYPES.requested)]);
    const p = await pending.inject({ url: `/v1/elevations/${FIXTURE_ELEVATION}/credential` });
    expect(p.statusCode).toBe(409);
    expect(p.json().message).toMatch(/is pending/);
  });

  it('filters the list and rejects malformed or hostile queries clearly', async () => {
    const f = await app([sampleEvent(EVENT_TYPES.requested), sampleEvent(EVENT_TYPES.rejected, { elevationId: 'gl-42-8' })]);
    const all = await f.inject({ url: '/v1/elevations' });
    expect(all.json().elevations).toHaveLength(2);
    const rejected = await f.inject({ url: '/v1/elevations?state=rejected' });
    expect(rejected.json().elevations.map((e: { id: string }) => e.id)).toEqual(['gl-42-8']);
    for (const bad of ['/v1/elevations?state=owned', '/v1/elevations?since=yesterday', '/v1/elevations?limit=0', `/v1/elevations?target=${'x'.repeat(500)}`]) {
      const res = await f.inject({ url: bad });
      expect(res.statusCode, bad).toBe(400);
    }
    // unknown keys (including __proto__) are dropped by the schema, never merged into objects
    const proto = await f.inject({ url: '/v1/elevations?__proto__[state]=rejected&constructor=x' });
    expect(proto.statusCode).toBe(200);
    expect(proto.json().elevations).toHaveLength(2);
    expect(({} as Record<string, unknown>).state).toBeUndefined();
    const order = await f.inject({ url: '/v1/elevations?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z' });
    expect(order.statusCode).toBe(400);
    expect(order.json().code).toBe('JIT_ERR_API_BAD_QUERY');
  });

  it('answers 404 for unknown ids and 400 for malformed ones', async () => {
    const f = await app([]);
    expect((await f.inject({ url: '/v1/elevations/gl-1-1' })).json().code).toBe('JIT_ERR_API_NOT_FOUND');
    expect((await f.inject({ url: '/v1/elevations/..%2F..%2Fetc' })).statusCode).toBe(400);
    expect((await f.inject({ url: '/v1/elevations/gl-1-1%3Bdrop/credential' })).statusCode).toBe(400);
  });
});
