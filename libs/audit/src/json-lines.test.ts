import { describe, expect, it } from 'vitest';
import { jsonLine, readJsonLines } from './json-lines';

async function all(chunks: (string | Buffer)[], maxLineBytes?: number) {
  const out = [];
  for await (const l of readJsonLines(
    (async function* () {
      yield* chunks;
    })(),
    maxLineBytes ? { maxLineBytes } : {},
  ))
    out.push('value' in l ? { line: l.line, id: l.value['id'] } : { line: l.line, code: l.error.code });
  return out;
}

describe('JSON lines', () => {
  it('writes ASCII only, and reads back exactly the value written', () => {
    const value = { id: 'x', s: 'é\u202e\u001b[31m\u2028 @channel', n: 1 };
    const line = jsonLine(value);
    expect(line).toMatch(/^[\x20-\x7e]*\n$/);
    expect(JSON.parse(line)).toEqual(value);
  });

  it('reads lines split across chunks, CRLF and blank lines', async () => {
    expect(await all(['{"id":"a"}\r\n\n{"i', 'd":"b"}\n{"id":"c"}'])).toEqual([
      { line: 1, id: 'a' },
      { line: 3, id: 'b' },
      { line: 4, id: 'c' },
    ]);
  });

  it('a truncated, non-object or huge line is reported by number and nothing after it is lost', async () => {
    const huge = `{"id":"${'x'.repeat(5000)}"}`;
    expect(await all(['{"id":"a"}\n{"id":"b', '\n[1,2]\n', huge.slice(0, 3000), huge.slice(3000), '\n{"id":"c"}\n{"id":"d"'], 1024)).toEqual([
      { line: 1, id: 'a' },
      { line: 2, code: 'JIT_ERR_AUDIT_LINE_NOT_JSON' },
      { line: 3, code: 'JIT_ERR_AUDIT_LINE_NOT_JSON' },
      { line: 4, code: 'JIT_ERR_AUDIT_LINE_TOO_LONG' },
      { line: 5, id: 'c' },
      { line: 6, code: 'JIT_ERR_AUDIT_LINE_NOT_JSON' },
    ]);
  });
});
