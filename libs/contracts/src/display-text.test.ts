import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { displayJson, displayText, terminalText } from './display-text';

/** Characters an attacker reaches for: line breaks, escapes, bidi and zero-width controls, C1, lone surrogates. */
const HOSTILE = [
  '\r',
  '\n',
  '\r\n',
  '\u2028',
  '\u2029',
  '\u0085',
  '\v',
  '\f',
  '\u001b[2J',
  '\u001b]8;;http://evil\u0007',
  '\u009b31m',
  '\u007f',
  '\u0000',
  '\b',
  '\u202e',
  '\u2066',
  '\u2069',
  '\u200b',
  '\u200f',
  '\ufeff',
  '\u061c',
  '\ud800',
  '\udfff',
  '\udb40\udc01',
];
const hostile = fc.array(fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 20 }).map((a) => a.join(''));
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

describe('displayText', () => {
  it('leaves one line with no control, format, separator character or lone surrogate, whatever the input', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const out = displayText(s);
        expect(out).not.toMatch(UNSAFE);
        expect(Array.from(out).length).toBeLessThanOrEqual(500);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps ordinary text, turns every line break into a space and drops escapes and bidi controls', () => {
    expect(displayText('backfill order totals after INC-4411 — ünïcödé 数据')).toBe('backfill order totals after INC-4411 — ünïcödé 数据');
    expect(displayText('fine\r**Verified at merge**\u2028x\u2029y')).toBe('fine **Verified at merge** x y');
    expect(displayText('\u001b[31mred\u001b[0m \u202egnp.exe')).toBe('[31mred[0m gnp.exe');
    expect(displayText(undefined)).toBe('');
    expect(displayText(42)).toBe('42');
  });

  it('cuts at a code point, never inside a surrogate pair', () => {
    const out = displayText('😀'.repeat(10), 4);
    expect(out).toBe('😀😀😀…');
  });
});

describe('terminalText', () => {
  it("keeps LF and tab, turns CR into LF, removes escape sequences' introducers and bidi controls", () => {
    expect(terminalText('a\tb\nc\rd\r\ne\u2028f')).toBe('a\tb\nc\nd\ne\nf');
    expect(terminalText('\u001b]52;c;cHduZWQ=\u0007 \u009b2J \u202eok')).toBe(']52;c;cHduZWQ= 2J ok');
  });

  it('never lets a control other than LF and tab through', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        expect(terminalText(s)).not.toMatch(/(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
      }),
      { numRuns: 500 },
    );
  });
});

describe('displayJson', () => {
  it('is the same value, with every unsafe character escaped', () => {
    fc.assert(
      fc.property(fc.dictionary(hostile, hostile, { maxKeys: 4 }), (value) => {
        const text = displayJson(value, 2);
        expect(text).not.toMatch(/(?![\n ])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
    expect(displayJson({ a: '\u202e\u2028\u009b' })).toBe('{"a":"\\u202e\\u2028\\u009b"}');
  });
});
