// "History": the audit trail with the read API's filters (state, target, requester, time range),
// each row linking to the elevation's timeline and receipt; the same query as CSV.
import { ELEVATION_STATES } from '@jit/ledger';
import { html, type Html } from '../html';
import { elevationLink, stateChip, time } from './format';
import type { Elevation } from './types';

export interface HistoryQuery {
  state?: string;
  target?: string;
  requester?: string;
  /** `YYYY-MM-DDTHH:MM` (a datetime-local field), taken as UTC. */
  since?: string;
  until?: string;
}

const LOCAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?$/;

/** The read API's query for a form's fields; a field that cannot be one is a problem to show. */
export function apiQuery(q: HistoryQuery): { query: Record<string, string | undefined>; problems: string[] } {
  const problems: string[] = [];
  const iso = (name: 'since' | 'until') => {
    const v = q[name]?.trim();
    if (!v) return undefined;
    if (!LOCAL.test(v) || Number.isNaN(Date.parse(`${v}Z`))) {
      problems.push(`${name} must be a date and time`);
      return undefined;
    }
    return new Date(`${v}Z`).toISOString();
  };
  const state = q.state && (ELEVATION_STATES as readonly string[]).includes(q.state) ? q.state : undefined;
  if (q.state && !state) problems.push('unknown state');
  return { query: { state, target: q.target?.trim() || undefined, requester: q.requester?.trim() || undefined, since: iso('since'), until: iso('until') }, problems };
}

export function historyPage(p: { q: HistoryQuery; elevations: Elevation[]; problems: string[]; csvHref: string }): Html {
  const field = (name: keyof HistoryQuery, label: string, type = 'text') =>
    html`<label for="f-${name}">${label}<input id="f-${name}" name="${name}" type="${type}" value="${p.q[name] ?? ''}"></label>`;
  const rows = [...p.elevations].reverse();
  return html`<form class="filters" method="get" action="/ui/history" role="search" aria-label="Filter the history">
<label for="f-state">State<select id="f-state" name="state"><option value="">any</option>${ELEVATION_STATES.map((s) => html`<option value="${s}"${p.q.state === s ? html` selected` : ''}>${s.replace('_', ' ')}</option>`)}</select></label>
${field('target', 'Target')}${field('requester', 'Requester')}${field('since', 'From (UTC)', 'datetime-local')}${field('until', 'To (UTC)', 'datetime-local')}
<div><button type="submit">Filter</button> <a href="${p.csvHref}" download>Export CSV</a></div></form>
${p.problems.length > 0 ? html`<p class="notice error" role="alert">${p.problems.join('; ')}</p>` : ''}
${
  rows.length === 0
    ? html`<p class="empty">No elevation matches.</p>`
    : html`<table><caption class="muted">${rows.length} elevation(s), newest first</caption><thead><tr><th scope="col">Elevation</th><th scope="col">State</th><th scope="col">Requester</th><th scope="col">Target / scope</th><th scope="col">Tier</th><th scope="col">Requested</th><th scope="col">Granted</th><th scope="col">Revoked</th><th scope="col">Receipt</th></tr></thead><tbody>
${rows.map(
  (
    e,
  ) => html`<tr data-elevation="${e.id}"><td data-label="Elevation">${elevationLink(e.id)}${e.breakGlass ? html` <span class="chip break-glass">break-glass</span>` : ''}</td><td data-label="State">${stateChip(e.state)}</td><td data-label="Requester">${e.requester ?? '—'}</td>
<td data-label="Target / scope">${e.target ?? '—'} / ${e.scope ?? '—'}</td><td data-label="Tier">${e.tier ?? '—'}</td><td data-label="Requested">${time(e.createdAt)}</td><td data-label="Granted">${time(e.issuedAt)}</td><td data-label="Revoked">${time(e.revokedAt)}</td>
<td data-label="Receipt">${e.revokedAt ? (e.revokeVerified ? html`verified${e.latenessMs !== undefined ? html`, ${Math.round(e.latenessMs / 1000)} s after expiry` : ''}` : html`<strong class="expired">not verified</strong>`) : '—'}</td></tr>`,
)}</tbody></table>`
}`;
}

const CSV_COLUMNS = [
  'id',
  'state',
  'requester',
  'target',
  'scope',
  'tier',
  'ttlSeconds',
  'breakGlass',
  'createdAt',
  'issuedAt',
  'expiresAt',
  'revokedAt',
  'revokeVerified',
  'latenessMs',
  'mrUrl',
] as const;

/** One CSV cell (RFC 4180); a value a spreadsheet would run as a formula is prefixed with ' (CSV injection). */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function historyCsv(elevations: Elevation[]): string {
  const lines = [CSV_COLUMNS.join(','), ...elevations.map((e) => CSV_COLUMNS.map((c) => cell((e as unknown as Record<string, unknown>)[c])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}
