// Small formatting helpers shared by the pages: durations, times, state chips, safe links.
import { html, type Html } from '../html';

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function time(iso: string | undefined): Html | string {
  if (!iso) return '—';
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

export function stateChip(state: string): Html {
  return html`<span class="chip ${state.replace(/[^a-z_]/g, '')}">${state.replace('_', ' ')}</span>`;
}

/** A link to the MR only when its URL is http(s): a `javascript:` URL from a forged event is shown as text. */
export function mrLink(url: string | undefined, label: string): Html | string {
  if (!url) return '—';
  try {
    const u = new URL(url);
    if (u.protocol === 'https:' || u.protocol === 'http:') return html`<a href="${u.toString()}" rel="noopener noreferrer">${label}</a>`;
  } catch {
    /* not a URL: shown as text below */
  }
  return url;
}

export function elevationLink(id: string): Html {
  return html`<a href="/ui/elevations/${encodeURIComponent(id)}">${id}</a>`;
}
