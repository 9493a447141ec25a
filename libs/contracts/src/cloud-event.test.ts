import { describe, expect, expectTypeOf, it } from 'vitest';
import { EVENT_TYPES, type ElevationEventType } from './topics';
import { createElevationEvent, deterministicEventId, eventKey, parseElevationEvent, type AnyElevationEvent, type CloudEventJson, type ElevationEvent } from './cloud-event';
import type { ElevationGrantedData, ElevationRequestedData } from './event-data';
import { FIXTURE_GRANT, sampleData, sampleEvent } from './testing';

const ALL_TYPES = Object.values(EVENT_TYPES) as ElevationEventType[];
const POLICY_TYPES = new Set<string>([EVENT_TYPES.policyRatified, EVENT_TYPES.policyRefused, EVENT_TYPES.policyBypassDetected]);

describe('createElevationEvent', () => {
  it.each(ALL_TYPES)('builds a valid CloudEvent for %s that parses back to the same event', (type) => {
    const ev = createElevationEvent(type, sampleData[type](), { source: '/jit/test' });
    expect(ev.specversion).toBe('1.0');
    expect(ev.type).toBe(type);
    expect(ev.datacontenttype).toBe('application/json');
    const policy = POLICY_TYPES.has(type);
    const push = type === EVENT_TYPES.pushRecorded;
    expect(ev.dataschema).toMatch(policy ? /^https:\/\/schemas\.jit\.dev\/events\/policy\..+\.v1\.json$/ : /^https:\/\/schemas\.jit\.dev\/events\/elevation\..+\.v1\.json$/);
    // Policy events and pushes have no elevation: subject (and Kafka key) is the project's policy key, or `<project_id>@<branch>`.
    expect(ev.subject).toBe(policy ? 'policy-42' : push ? '42@req-backfill' : 'gl-42-7');
    expect(ev.elevationid).toBe(policy || push ? undefined : 'gl-42-7');
    const parsed = parseElevationEvent(JSON.parse(JSON.stringify(ev)));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.event).toEqual(ev);
  });

  it('is JSON text a SIEM can read: only JSON types, no class instances', () => {
    const ev = sampleEvent(EVENT_TYPES.granted);
    expect(JSON.parse(JSON.stringify(ev))).toEqual(ev);
    expect(Object.getPrototypeOf(ev)).toBe(Object.prototype);
  });

  it('gives the same id for the same idKey (retries republish the same id) and random ids otherwise', () => {
    const a = sampleEvent(EVENT_TYPES.approved, {}, { idKey: FIXTURE_GRANT });
    const b = sampleEvent(EVENT_TYPES.approved, {}, { idKey: FIXTURE_GRANT });
    const other = sampleEvent(EVENT_TYPES.granted, {}, { idKey: FIXTURE_GRANT });
    expect(a.id).toBe(b.id);
    expect(other.id).not.toBe(a.id);
    expect(a.id).toBe(deterministicEventId(EVENT_TYPES.approved, FIXTURE_GRANT));
    expect(sampleEvent(EVENT_TYPES.approved).id).not.toBe(sampleEvent(EVENT_TYPES.approved).id);
    expect(sampleEvent(EVENT_TYPES.approved, {}, { id: 'explicit-1' }).id).toBe('explicit-1');
  });

  it('marks break-glass, bypass and orphan events high severity, others info unless asked', () => {
    expect(sampleEvent(EVENT_TYPES.requested).severity).toBe('info');
    expect(sampleEvent(EVENT_TYPES.requested, { breakGlass: true }).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.approved, { breakGlass: true }, { severity: 'info' }).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.bypassDetected).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.orphanRevoked).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.policyRefused).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.policyBypassDetected).severity).toBe('high');
    expect(sampleEvent(EVENT_TYPES.policyRatified).severity).toBe('info');
    expect(sampleEvent(EVENT_TYPES.revoked, {}, { severity: 'high' }).severity).toBe('high');
  });

  it('keys policy events by the project (policy-<id>) and refuses a subject naming another', () => {
    const ev = sampleEvent(EVENT_TYPES.policyRatified);
    expect(eventKey(ev)).toBe('policy-42');
    const forged = parseElevationEvent({ ...JSON.parse(JSON.stringify(ev)), subject: 'policy-43' });
    expect(forged.ok).toBe(false);
  });

  it('keys orphan events without an elevation by grant id', () => {
    const ev = sampleEvent(EVENT_TYPES.orphanRevoked, { elevationId: undefined });
    expect(ev.elevationid).toBeUndefined();
    expect(ev.subject).toBe(FIXTURE_GRANT);
    expect(eventKey(ev)).toBe(FIXTURE_GRANT);
    expect(eventKey(sampleEvent(EVENT_TYPES.granted))).toBe('gl-42-7');
  });

  it('rejects data with wrong types, missing fields and unknown keys, listing every problem', () => {
    const bad = { ...sampleData[EVENT_TYPES.requested](), ttlSeconds: '30m', recipient: undefined, extra: 1 };
    let err: unknown;
    try {
      createElevationEvent(EVENT_TYPES.requested, bad as unknown as ElevationRequestedData, { source: '/t' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'JIT_ERR_CONTRACTS_INVALID_EVENT', retriable: false });
    const problems = (err as { details: { problems: string[] } }).details.problems;
    expect(problems.some((p) => p.startsWith('data.ttlSeconds'))).toBe(true);
    expect(problems.some((p) => p.startsWith('data.recipient'))).toBe(true);
    expect(problems.some((p) => p.includes('extra'))).toBe(true);
  });

  it('rejects a grant id that does not belong to the elevation', () => {
    expect(() => sampleEvent(EVENT_TYPES.granted, { grantId: 'gl-1-1-abcdef0' })).toThrow(/grantId must start/);
  });

  it('rejects an age recipient with a broken checksum', () => {
    const r = sampleData[EVENT_TYPES.requested]().recipient;
    const broken = `${r.slice(0, -1)}${r.endsWith('q') ? 'p' : 'q'}`;
    expect(() => sampleEvent(EVENT_TYPES.requested, { recipient: broken })).toThrow(/age X25519 recipient/);
  });

  it('refuses a plaintext credential in sealedCredential', () => {
    expect(() => sampleEvent(EVENT_TYPES.granted, { sealedCredential: '{"password":"hunter2"}' })).toThrow(/age ciphertext/);
  });

  it.each([
    ['credential URL', 'postgres://jit_gl_42_7:s3cr3tPassw0rd@db:5432/orders'],
    ['vault token', 'token hvs.CAESIJk2Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA'],
    ['age identity', 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ'],
    ['lower-case age identity', 'age-secret-key-1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq'],
    ['aws session token', 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ'],
    ['vault batch token', 'hvb.AAAAAQJ0eXBlX2lzX2JhdGNoX3Rva2VuX2Zvcl90ZXN0'],
    ['private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE'],
    ['google token', 'ya29.a0AfH6SMBx3abcdefghijklmnopqrstuvwxyz'],
  ])('refuses a %s anywhere in the data and does not echo it', (_what, secret) => {
    let err: Error | undefined;
    try {
      sampleEvent(EVENT_TYPES.revoked, { verifyDetail: `probe said ${secret}` });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toMatchObject({ code: 'JIT_ERR_CONTRACTS_SECRET_IN_EVENT' });
    expect(err?.message).toContain('data.verifyDetail');
    expect(JSON.stringify(err)).not.toContain(secret.slice(-12));
    expect(err?.message).not.toContain(secret.slice(-12));
  });

  it('rejects an unknown event type', () => {
    expect(() => createElevationEvent('dev.jit.nope.v1' as ElevationEventType, {} as never, { source: '/t' })).toThrow(/unknown event type/);
  });

  it('rejects a bad envelope attribute via the cloudevents SDK', () => {
    expect(() => sampleEvent(EVENT_TYPES.expired, {}, { time: 'yesterday' })).toThrow(/JIT|invalid|time/i);
  });
});

describe('parseElevationEvent', () => {
  const good = () => JSON.parse(JSON.stringify(sampleEvent(EVENT_TYPES.granted))) as Record<string, unknown>;

  it('accepts JSON text and strips unknown data keys from newer producers', () => {
    const ev = good();
    (ev.data as Record<string, unknown>).addedInV1_1 = 'x';
    const r = parseElevationEvent(JSON.stringify(ev));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event.data).not.toHaveProperty('addedInV1_1');
  });

  it.each([
    ['not JSON', '{"specversion":'],
    ['a JSON array', '[]'],
    ['null', null],
    ['a number', 42],
    ['oversized text', `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}`],
  ])('returns a clear error for %s', (_what, input) => {
    const r = parseElevationEvent(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('JIT_ERR_CONTRACTS_INVALID_EVENT');
  });

  it('lists every envelope problem at once', () => {
    const ev = { ...good(), specversion: '0.3', id: '', time: 'noon', severity: 'critical' };
    const r = parseElevationEvent(ev);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const problems = r.error.details?.problems as string[];
      for (const field of ['specversion', 'id', 'time', 'severity']) {
        expect(problems.some((p) => p.startsWith(field))).toBe(true);
      }
    }
  });

  it('rejects an unknown type with its own code', () => {
    const r = parseElevationEvent({ ...good(), type: 'dev.jit.elevation.teleported.v1' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('JIT_ERR_CONTRACTS_UNKNOWN_EVENT_TYPE');
  });

  it('rejects data that does not match the type, and a subject that disagrees with the data', () => {
    const wrongData = parseElevationEvent({ ...good(), type: EVENT_TYPES.requested });
    expect(wrongData.ok).toBe(false);
    const wrongSubject = parseElevationEvent({ ...good(), subject: 'gl-1-1' });
    expect(wrongSubject.ok).toBe(false);
    if (!wrongSubject.ok) expect(wrongSubject.error.message).toMatch(/subject/);
    const wrongExt = parseElevationEvent({ ...good(), elevationid: 'gl-1-1' });
    expect(wrongExt.ok).toBe(false);
  });

  it('refuses an event carrying a secret even when the producer skipped createElevationEvent', () => {
    const ev = JSON.parse(JSON.stringify(sampleEvent(EVENT_TYPES.revoked)));
    ev.data.verifyDetail = 'login ok as postgres://jit_x:Pa55w0rdXYZ@db/orders';
    const r = parseElevationEvent(ev);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('JIT_ERR_CONTRACTS_SECRET_IN_EVENT');
      expect(JSON.stringify(r.error) + r.error.message).not.toContain('Pa55w0rdXYZ');
    }
  });

  it('never throws on hostile input', () => {
    const hostile: unknown[] = [
      undefined,
      'null',
      JSON.parse('{"__proto__":{"polluted":true},"specversion":"1.0"}'),
      { ...good(), data: { __proto__: { elevationId: 'gl-1-1' } } },
      { ...good(), data: 'string' },
      { ...good(), type: 'x'.repeat(100_000) },
    ];
    for (const h of hostile) expect(parseElevationEvent(h).ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('public types', () => {
  it('narrows the data by type', () => {
    const ev = sampleEvent(EVENT_TYPES.granted);
    expectTypeOf(ev).toEqualTypeOf<ElevationEvent<typeof EVENT_TYPES.granted>>();
    expectTypeOf(ev.data).toEqualTypeOf<ElevationGrantedData>();
    expectTypeOf(ev.data.handle.ref).toEqualTypeOf<Record<string, string | number | boolean>>();
    const any = {} as AnyElevationEvent;
    if (any.type === EVENT_TYPES.requested) expectTypeOf(any.data).toEqualTypeOf<ElevationRequestedData>();
    expectTypeOf(createElevationEvent).parameter(1).toBeObject();
  });

  it('is a CloudEventJson, and data of another type is refused at compile time', () => {
    expectTypeOf<AnyElevationEvent>().toExtend<CloudEventJson>();
    expect(() =>
      // @ts-expect-error data of another type is refused at compile time
      createElevationEvent(EVENT_TYPES.granted, sampleData[EVENT_TYPES.requested](), { source: '/t' }),
    ).toThrow(/does not match/);
  });
});
