// JSON lines in and out. Out: one value per line with every non-ASCII character escaped, so a
// terminal or a forwarder sees plain ASCII (no escape sequence, no bidi control) and a JSON parser
// gets back exactly the values that were signed. In: lines read with bounded memory; a line that
// is too long, cut short or not JSON is reported with its number, and reading goes on after it.
import type { JitError } from '@jit/errors';
import { LineNotJson, LineTooLong } from './errors';

/** Longest line read: an event is at most 1 MiB (the bus's limit), plus room for escaping. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** `value` as one line of ASCII JSON, newline included. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

export type JsonLine = { line: number; value: Record<string, unknown> } | { line: number; error: JitError };

/** The lines of `source` (chunks of UTF-8), parsed; blank lines are skipped. */
export async function* readJsonLines(source: AsyncIterable<Buffer | string>, options: { maxLineBytes?: number } = {}): AsyncGenerator<JsonLine> {
  const max = options.maxLineBytes ?? MAX_LINE_BYTES;
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = function* (): Generator<JsonLine> {
    line += 1;
    if (tooLong) yield { line, error: LineTooLong(line, max) };
    else if (size > 0) {
      const text = Buffer.concat(parts).toString('utf8').replace(/\r$/, '');
      if (text.trim() !== '') yield parse(line, text);
    }
    parts = [];
    size = 0;
    tooLong = false;
  };
  for await (const chunk of source) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a)) {
      take(buf.subarray(0, nl));
      yield* finish();
      buf = buf.subarray(nl + 1);
    }
    take(buf);
  }
  if (size > 0 || tooLong) yield* finish();

  function take(piece: Buffer): void {
    if (tooLong || piece.length === 0) return;
    if (size + piece.length > max) {
      tooLong = true;
      parts = [];
      size = 0;
      return;
    }
    parts.push(piece);
    size += piece.length;
  }
}

function parse(line: number, text: string): JsonLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { line, error: LineNotJson(line, 'cut short or not JSON') };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { line, error: LineNotJson(line, 'JSON, but not an object') };
  return { line, value: value as Record<string, unknown> };
}
