// Output for people (tables) and for agents (JSON, CSV). A column names its header and reads its
// value from the API's answer, so the tables are typed by the API's own types (`./tables.ts`).
import { displayText } from '@jit/contracts';

export interface Column<R> {
  /** CSV header as is; upper-cased in a table. */
  header: string;
  value: (row: R) => unknown;
}

export function toTable<R>(rows: R[], columns: Array<Column<R>>): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

export function toCsv<R>(rows: R[], columns: Array<Column<R>>): string {
  const esc = (v: string) => (/[",\n\r]/.test(v) || /^[=+\-@]/.test(v) ? `"${v.replace(/^([=+\-@])/, "'$1").replace(/"/g, '""')}"` : v);
  return [columns.map((c) => c.header).join(','), ...rows.map((r) => columns.map((c) => esc(cell(c.value(r)))).join(','))].join('\n');
}

/** A cell is one line of display text: a value from the API cannot add rows or reach the terminal as an escape. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  return displayText(typeof v === 'object' ? JSON.stringify(v) : v, 1000);
}

/** One timeline entry of an elevation (`jit status`, `jit request --wait`, the demo), each value one clean line. */
export function timelineLine(t: { time: string; type: string; summary?: string }, indent = '  '): string {
  const type = displayText(t.type, 200).replace(/^dev\.jit\.|\.v1$/g, '');
  return `${indent}${displayText(t.time, 200)}  ${type}${t.summary ? `  ${displayText(t.summary, 500)}` : ''}`;
}
