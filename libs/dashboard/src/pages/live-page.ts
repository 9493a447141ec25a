// "Live grants": who holds what on which target, since when and until when (a countdown the page
// script keeps live), break-glass marked; grants that overlap on one target are grouped and said so.
import { html, type Html } from '../html';
import { elevationLink, time } from './format';
import type { Elevation } from './types';

/** What static/dashboard.js shows as it ticks: `1h 05m 09s left`, `4m 09s left`, `9s left`, `expired`. */
export function countdownText(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${h > 0 ? `${h}h ${pad(m)}m ` : m > 0 ? `${m}m ` : ''}${h > 0 || m > 0 ? pad(s % 60) : s % 60}s left`;
}

export function countdown(expiresAt: string | undefined, now: number): Html | string {
  if (!expiresAt) return '—';
  const left = Date.parse(expiresAt) - now;
  return html`<span role="timer" data-countdown="${expiresAt}"${left <= 0 ? html` class="expired"` : ''}>${countdownText(left)}</span>`;
}

export function livePage(p: { grants: Elevation[]; now: number }): Html {
  if (p.grants.length === 0) return html`<p class="empty">No live grant you may see.</p>`;
  const byTarget = new Map<string, Elevation[]>();
  for (const g of [...p.grants].sort((a, b) => (a.expiresAt ?? '').localeCompare(b.expiresAt ?? ''))) {
    const key = g.target ?? '—';
    byTarget.set(key, [...(byTarget.get(key) ?? []), g]);
  }
  return html`<p class="muted">Countdowns run live; the page refreshes every 15 seconds.</p>
${[...byTarget].map(
  ([
    target,
    grants,
  ]) => html`<section aria-labelledby="t-${target}" data-target="${target}"><h2 id="t-${target}">${target}${grants.length > 1 ? html` <span class="chip pending">${grants.length} overlapping grants</span>` : ''}</h2>
<table><thead><tr><th scope="col">Holder</th><th scope="col">Scope</th><th scope="col">Tier</th><th scope="col">Since</th><th scope="col">Until</th><th scope="col">Left</th><th scope="col">Elevation</th></tr></thead><tbody>
${grants.map(
  (
    g,
  ) => html`<tr data-elevation="${g.id}"><td data-label="Holder">${g.requester ?? '—'}${g.breakGlass ? html` <span class="chip break-glass">break-glass</span>` : ''}</td><td data-label="Scope">${g.scope ?? '—'}</td><td data-label="Tier">${g.tier ?? '—'}</td>
<td data-label="Since">${time(g.issuedAt)}</td><td data-label="Until">${time(g.expiresAt)}</td><td data-label="Left">${countdown(g.expiresAt, p.now)}</td><td data-label="Elevation">${elevationLink(g.id)}</td></tr>`,
)}</tbody></table></section>`,
)}`;
}
