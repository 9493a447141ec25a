import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, tryParseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['30m', 1800],
    ['45s', 45],
    ['2h', 7200],
    ['1d', 86_400],
    ['1h30m', 5400],
    ['1d2h3m4s', 93_784],
    ['90m', 5400],
    ['30d', 2_592_000],
  ])('%s -> %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    ['0', /not a duration/],
    ['0m', /zero/],
    ['0h0m', /zero/],
    ['-5m', /not a duration/],
    ['1.5h', /not a duration/],
    ['30 m', /not a duration/],
    [' 30m', /not a duration/],
    ['30m ', /not a duration/],
    ['30', /not a duration/],
    ['30w', /not a duration/],
    ['30M', /not a duration/],
    ['30min', /not a duration/],
    ['1m1h', /not a duration/],
    ['1h1h', /not a duration/],
    ['', /not a duration/],
    ['31d', /30d maximum/],
    ['720h1s', /30d maximum/],
    ['99999999999999999999d', /not a duration/],
    ['1e3s', /not a duration/],
    ['PT30M', /not a duration/],
    ['３０m', /not a duration/],
  ])('rejects %j', (text, why) => {
    expect(() => parseDuration(text)).toThrow(why);
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ code: 'JIT_ERR_CONTRACTS_INVALID_DURATION' }));
  });

  it('rejects non-strings without throwing from tryParseDuration', () => {
    for (const v of [1800, null, undefined, {}, ['30m'], true]) expect(tryParseDuration(v).ok).toBe(false);
  });

  it('does not echo a huge input back in full', () => {
    const r = tryParseDuration('x'.repeat(100_000));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.length).toBeLessThan(200);
  });
});

describe('formatDuration', () => {
  it.each([
    [1800, '30m'],
    [5400, '1h30m'],
    [86_400, '1d'],
    [93_784, '1d2h3m4s'],
    [59, '59s'],
  ])('%i -> %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));

  it.each([0, -1, 1.5, Number.NaN, Infinity])('rejects %s', (n) => expect(() => formatDuration(n)).toThrow());

  it('round-trips every valid number of seconds', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 * 86_400 }), (s) => parseDuration(formatDuration(s)) === s));
  });
});
