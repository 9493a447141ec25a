import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { BusMessage, CloudEventJson } from './event-bus';
import { createEmbeddedBus } from './embedded-bus';
import { JsonText, prepareEvent } from './prepared-event';
import { openMemoryBus } from './testing/memory-bus';
import { encodeEvent } from './validate';

const raw = (s: string) => Buffer.from(s, 'utf8');

function envelope(payload: unknown, extra: Record<string, unknown> = {}): CloudEventJson {
  return { specversion: '1.0', id: 'd-1', source: '/ingest', type: 'dev.jit.gitlab.webhook.v1', datacontenttype: 'application/json', data: { kind: 'mr', n: 1, payload }, ...extra };
}

/** Errors as `code: reason`, for comparing refusals. */
function refusal(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
}

describe('JsonText', () => {
  it('parses once and keeps the bytes it parsed; refuses what JSON.parse refuses', () => {
    const body = raw('{ "a": [1, 2.50, "ü"], "b": {"c": null} }');
    const doc = JsonText.parse(body);
    expect(doc.value).toEqual({ a: [1, 2.5, 'ü'], b: { c: null } });
    expect(doc.bytes.equals(body)).toBe(true);
    for (const bad of ['', '{', '{"a":1}}', '\ufeff{}', "{'a':1}", '{"a":01}', '[1,]']) {
      expect(() => JsonText.parse(raw(bad)), bad).toThrow(SyntaxError);
    }
  });

  it('keeps what was parsed, not invalid UTF-8: bad bytes become U+FFFD in value and bytes alike', () => {
    const body = Buffer.concat([raw('{"s":"a'), Buffer.from([0xff, 0xfe]), raw('b"}')]);
    const doc = JsonText.parse(body);
    expect(doc.value).toEqual({ s: 'a\ufffd\ufffdb' });
    expect(doc.bytes.toString('utf8')).toBe('{"s":"a\ufffd\ufffdb"}');
    expect(JSON.parse(doc.bytes.toString('utf8'))).toEqual(doc.value);
  });
});

describe('prepareEvent', () => {
  it('stores the received text as data.payload; the document equals serialising the object', () => {
    const body = raw('{"object_kind":"merge_request",  "n": 1e2, "s":"\\u00fc\\u2028", "deep":[{"x":[true,false]}]}');
    const doc = JsonText.parse(body);
    const event = prepareEvent(envelope(doc.value, { time: '2026-01-01T00:00:00.000Z', jitext: 'x' }), { field: 'payload', json: doc });
    const bytes = encodeEvent(event, 1024 * 1024);
    expect(bytes.includes(body)).toBe(true);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(event)));
    expect(Object.isFrozen(event) && Object.isFrozen(event.data)).toBe(true);
  });

  it('keeps a __proto__ member of the envelope or data as data, as plain serialisation does', () => {
    const doc = JsonText.parse(raw('{"a":1}'));
    const event = JSON.parse('{"specversion":"1.0","id":"p","source":"s","type":"t","__proto__":{"x":1},"data":{"__proto__":{"y":2},"n":1}}') as CloudEventJson;
    (event.data as Record<string, unknown>)['payload'] = doc.value;
    const expected = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    const stored = JSON.parse(encodeEvent(prepareEvent(event, { field: 'payload', json: doc }), 4096).toString('utf8')) as Record<string, unknown>;
    expect(stored).toEqual(expected);
    expect(Object.prototype.hasOwnProperty.call(stored, '__proto__')).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(stored['data'], '__proto__')).toBe(true);
  });

  it('is equivalent to plain serialisation for arbitrary JSON payloads and envelopes (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }), fc.boolean(), (payload, others, pretty) => {
        const doc = JsonText.parse(raw(JSON.stringify(payload, null, pretty ? 2 : undefined)));
        const data = { ...others, payload: doc.value };
        const plain = { specversion: '1.0' as const, id: 'i', source: 's', type: 't', data };
        const event = prepareEvent({ ...plain, data: { ...data } }, { field: 'payload', json: doc });
        expect(JSON.parse(encodeEvent(event, 1 << 20).toString('utf8'))).toEqual(JSON.parse(JSON.stringify(plain)));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what is not a plain, valid CloudEvent carrying that very document', () => {
    const doc = JsonText.parse(raw('{"a":1}'));
    const other = JsonText.parse(raw('{"a":1}'));
    const ok = () => envelope(doc.value);
    expect(refusal(() => prepareEvent({ ...ok(), id: '' }, { field: 'payload', json: doc }))).toMatch(/^JIT_ERR_BUS_INVALID_EVENT: .*id must be/);
    expect(refusal(() => prepareEvent({ ...ok(), specversion: '0.3' as '1.0' }, { field: 'payload', json: doc }))).toMatch(/INVALID_EVENT/);
    expect(refusal(() => prepareEvent({ ...ok(), toJSON: () => ({}) }, { field: 'payload', json: doc }))).toMatch(/plain object/);
    expect(refusal(() => prepareEvent(ok(), { field: 'payload', json: other }))).toMatch(/data\.payload/);
    expect(refusal(() => prepareEvent(ok(), { field: 'missing', json: doc }))).toMatch(/data\.missing/);
    expect(refusal(() => prepareEvent({ ...ok(), data: { 7: doc.value } }, { field: '7', json: doc }))).toMatch(/INVALID_EVENT/);
    expect(refusal(() => prepareEvent({ ...ok(), data: [doc.value] }, { field: '0', json: doc }))).toMatch(/INVALID_EVENT/);
    const forged = Object.assign(Object.create(JsonText.prototype) as JsonText, { value: doc.value, bytes: raw('not json') });
    expect(refusal(() => prepareEvent(envelope(forged.value), { field: 'payload', json: forged }))).toMatch(/JsonText\.parse/);
    const constructed = new (JsonText as unknown as new (v: unknown, b: Buffer) => JsonText)(doc.value, raw('not json'));
    expect(refusal(() => prepareEvent(envelope(constructed.value), { field: 'payload', json: constructed }))).toMatch(/JsonText\.parse/);
    const withToJson = { ...ok(), data: { payload: doc.value, toJSON: () => 'x' } };
    expect(refusal(() => prepareEvent(withToJson, { field: 'payload', json: doc }))).toMatch(/INVALID_EVENT/);
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(refusal(() => prepareEvent({ ...ok(), data: { loop: circular, payload: doc.value } }, { field: 'payload', json: doc }))).toMatch(/not JSON-serialisable/);
  });

  it('still caps the size at publish, per bus', () => {
    const doc = JsonText.parse(raw(JSON.stringify({ big: 'x'.repeat(3000) })));
    const event = prepareEvent(envelope(doc.value), { field: 'payload', json: doc });
    expect(refusal(() => encodeEvent(event, 2048))).toMatch(/^JIT_ERR_BUS_EVENT_TOO_LARGE/);
    expect(encodeEvent(event, 4096).length).toBeGreaterThan(3000);
  });

  it('publishes through the embedded and memory buses, consumers get the parsed document', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bus-prepared-'));
    const embedded = await createEmbeddedBus({ dir, logger: createLogger({ name: 't', level: 'silent' }) });
    const memory = await openMemoryBus();
    try {
      for (const bus of [embedded, memory]) {
        const doc = JsonText.parse(raw('{"object_kind":"note","__proto__":{"polluted":true},"n":[1,2]}'));
        await bus.publish('prepared', 'k', prepareEvent(envelope(doc.value), { field: 'payload', json: doc }));
        const got: BusMessage[] = [];
        await bus.replay('prepared', (m) => void got.push(m));
        const payload = (got[0]!.event.data as { payload: Record<string, unknown> }).payload;
        expect(payload['n']).toEqual([1, 2]);
        expect(Object.prototype.hasOwnProperty.call(payload, '__proto__')).toBe(true);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        expect(got[0]!.event).toMatchObject({ id: 'd-1', type: 'dev.jit.gitlab.webhook.v1', data: { kind: 'mr', n: 1 } });
      }
    } finally {
      await embedded.close();
      await memory.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
