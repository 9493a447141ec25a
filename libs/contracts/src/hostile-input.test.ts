// Property tests: no input, however mangled, makes a parser throw; every failure names its problems.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseElevationEvent } from './cloud-event';
import { parseElevationRequest } from './elevation-request';
import { parsePolicy } from './policy';
import { SAMPLE_POLICY_YAML, SAMPLE_REQUEST_YAML, sampleEvent } from './testing';
import { EVENT_TYPES } from './topics';

/** A valid text with random splices of YAML-significant characters. */
const mangled = (text: string) =>
  fc
    .array(
      fc.record({
        at: fc.nat(text.length),
        drop: fc.nat(8),
        insert: fc.string({ unit: fc.constantFrom(...':-[]{}&*!|>\'"#%@`,?\n \t\\'.split('')), maxLength: 6 }),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((edits) => edits.reduce((t, e) => t.slice(0, e.at) + e.insert + t.slice(e.at + e.drop), text));

function wellFormed(r: { ok: boolean; problems: { path: string; message: string }[] }): boolean {
  if (r.ok) return r.problems.length === 0;
  return r.problems.length > 0 && r.problems.every((p) => typeof p.path === 'string' && p.message.length > 0);
}

describe('parsers never throw', () => {
  it('parseElevationRequest on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (t) => wellFormed(parseElevationRequest(t))),
      { numRuns: 300 },
    );
  });

  it('parseElevationRequest on mangled valid requests', () => {
    fc.assert(
      fc.property(mangled(SAMPLE_REQUEST_YAML), (t) => wellFormed(parseElevationRequest(t))),
      { numRuns: 300 },
    );
  });

  it('parsePolicy on mangled valid policies', () => {
    fc.assert(
      fc.property(mangled(SAMPLE_POLICY_YAML), (t) => wellFormed(parsePolicy(t))),
      { numRuns: 200 },
    );
  });

  it('parseElevationEvent on arbitrary JSON values and mangled events', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = parseElevationEvent(v);
        return r.ok === false && r.error.code.startsWith('JIT_ERR_CONTRACTS_');
      }),
      { numRuns: 300 },
    );
    const good = JSON.stringify(sampleEvent(EVENT_TYPES.granted));
    fc.assert(
      fc.property(mangled(good), (t) => {
        const r = parseElevationEvent(t);
        return r.ok || r.error.code.startsWith('JIT_ERR_CONTRACTS_');
      }),
      { numRuns: 300 },
    );
  });

  it('parseElevationEvent on events with one data field replaced by anything', () => {
    const good = sampleEvent(EVENT_TYPES.requested);
    const keys = Object.keys(good.data);
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.anything(), (key, value) => {
        const r = parseElevationEvent({ ...good, data: { ...good.data, [key]: value } });
        expect(r.ok || r.error.code.startsWith('JIT_ERR_CONTRACTS_')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
