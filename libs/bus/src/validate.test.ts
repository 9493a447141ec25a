import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEvent, parseCloudEvent } from './validate';

/** The definition encodeEvent must keep: serialise, cap the size, and judge the text a consumer will parse. */
function reference(event: unknown, maxBytes: number): { bytes: string } | { code: string; message: string } {
  try {
    const text = JSON.stringify(event);
    if (text === undefined) return { code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'not JSON-serialisable' };
    if (Buffer.byteLength(text) > maxBytes) return { code: 'JIT_ERR_BUS_EVENT_TOO_LARGE', message: '' };
    const parsed = parseCloudEvent(text);
    return 'problem' in parsed ? { code: 'JIT_ERR_BUS_INVALID_EVENT', message: parsed.problem } : { bytes: text };
  } catch {
    return { code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'not JSON-serialisable' };
  }
}

function actual(event: unknown, maxBytes: number): { bytes: string } | { code: string; message: string } {
  try {
    return { bytes: encodeEvent(event, maxBytes).toString('utf8') };
  } catch (err) {
    const e = err as { code: string; message: string };
    const reason = /^invalid CloudEvent \((.*)\):/.exec(e.message)?.[1] ?? (e.code === 'JIT_ERR_BUS_EVENT_TOO_LARGE' ? '' : e.message);
    return { code: e.code, message: reason };
  }
}

const ok = { specversion: '1.0', id: 'e-1', source: '/s', type: 't', data: { n: 1, s: 'ü\u2028\ud800' } };

describe('encodeEvent', () => {
  it('stores exactly JSON.stringify of a plain event', () => {
    expect(encodeEvent(ok, 1024).toString('utf8')).toBe(JSON.stringify(ok));
  });

  it('judges what is written, not what the object says, when toJSON or getters are involved', () => {
    // Looks valid, serialises to something else: refused.
    expect(actual({ ...ok, toJSON: () => ({ hello: 'world' }) }, 1024)).toEqual({ code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'specversion must be "1.0"' });
    class Wrapped {
      toJSON() {
        return { ...ok };
      }
    }
    // Does not look like an event, serialises to one: accepted, as before.
    expect(actual(new Wrapped(), 1024)).toEqual({ bytes: JSON.stringify(ok) });
    const hidden = { ...ok };
    Object.defineProperty(hidden, 'id', { value: 'e-1', enumerable: false });
    expect(actual(hidden, 1024)).toEqual({ code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'id must be a non-empty string' });
    let reads = 0;
    const getter = {
      ...ok,
      get type() {
        reads++;
        return reads === 1 ? '' : 't'; // serialised empty, reads fine afterwards
      },
    };
    expect(actual(getter, 1024)).toEqual({ code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'type must be a non-empty string' });
    const lying = new Proxy({ ...ok }, { get: (t, k) => (k === 'source' ? '' : Reflect.get(t, k)) });
    expect(actual(lying, 1024)).toEqual({ code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'source must be a non-empty string' });
    expect(actual({ ...ok, id: { toJSON: () => 'from-tojson' } }, 1024)).toEqual({ bytes: JSON.stringify({ ...ok, id: 'from-tojson' }) });
  });

  it('ignores attributes inherited through a polluted prototype, as JSON.stringify does', () => {
    const proto = Object.create(null) as Record<string, unknown>;
    proto['id'] = 'inherited';
    const e = Object.assign(Object.create(proto) as Record<string, unknown>, { specversion: '1.0', source: 's', type: 't' });
    expect(actual(e, 1024)).toEqual({ code: 'JIT_ERR_BUS_INVALID_EVENT', message: 'id must be a non-empty string' });
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, ok);
    expect(actual(nullProto, 1024)).toEqual({ bytes: JSON.stringify(ok) });
  });

  it('checks the size before anything else and counts bytes, not characters', () => {
    const wide = { ...ok, data: 'é'.repeat(600) };
    expect(actual(wide, 1024)).toEqual({ code: 'JIT_ERR_BUS_EVENT_TOO_LARGE', message: '' });
    expect(actual({ ...wide, specversion: '0.3' }, 1024)).toEqual({ code: 'JIT_ERR_BUS_EVENT_TOO_LARGE', message: '' });
  });

  it('agrees with the serialise-and-parse definition on arbitrary objects (property)', () => {
    const attr = fc.oneof(
      fc.constant('1.0'),
      fc.constant(''),
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant({ toJSON: () => '1.0' }),
      fc.constant({ toJSON: () => '' }),
    );
    const shape = fc.record({ specversion: attr, id: attr, source: attr, type: attr, data: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] });
    const wrapping = fc.constantFrom('plain', 'null-proto', 'class', 'toJSON', 'getter', 'non-enumerable', 'proxy', 'array');
    fc.assert(
      fc.property(shape, wrapping, fc.constantFrom('specversion', 'id', 'source', 'type'), fc.integer({ min: 40, max: 400 }), (fields, how, name, max) => {
        let event: unknown = { ...fields };
        const target = event as Record<string, unknown>;
        if (how === 'null-proto') event = Object.assign(Object.create(null) as object, fields);
        if (how === 'class') event = Object.assign(new (class Evt {})(), fields);
        if (how === 'toJSON') target['toJSON'] = () => ({ ...fields, [name]: 'x' });
        if (how === 'getter') Object.defineProperty(target, name, { get: () => 'g', enumerable: true });
        if (how === 'non-enumerable') Object.defineProperty(target, name, { value: target[name], enumerable: false });
        if (how === 'proxy') event = new Proxy(target, {});
        if (how === 'array') event = [fields];
        expect(actual(event, max)).toEqual(reference(event, max));
      }),
      { numRuns: 2000 },
    );
  });
});
