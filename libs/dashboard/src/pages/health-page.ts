// "Health": what the caller may see of jit's record — bypasses and rejections over the last days,
// merge→granted and expiry→revoked latency (the SLOs' measures, from the elevations' own times),
// revocations overdue or failing, and the policy version in force with how it was ratified.
import { html, type Html } from '../html';
import { duration, elevationLink, time } from './format';
import type { Elevation } from './types';

export interface Ratification {
  version: string;
  how: 'merge' | 'pin';
  at: string;
  by: string[];
  mergedBy?: string;
  mrIid?: number;
}

function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const APPROVED = /elevation\.approved/;

export function healthPage(p: { elevations: Elevation[]; details: Elevation[]; policy?: { version?: string; ratified?: Ratification }; now: number; days?: number }): Html {
  const days = p.days ?? 14;
  const dayOf = (iso: string) => iso.slice(0, 10);
  const recent = Array.from({ length: days }, (_, i) => new Date(p.now - i * 86_400_000).toISOString().slice(0, 10));
  const count = (state: string, day: string) => p.elevations.filter((e) => e.state === state && dayOf(e.updatedAt) === day).length;
  const mergeToGrant = p.details
    .map((d) => {
      const approved = d.timeline.find((t) => APPROVED.test(t.type));
      return approved && d.issuedAt ? Date.parse(d.issuedAt) - Date.parse(approved.time) : undefined;
    })
    .filter((v): v is number => v !== undefined && v >= 0);
  const lateness = p.elevations.map((e) => e.latenessMs).filter((v): v is number => typeof v === 'number');
  const overdue = p.elevations.filter((e) => e.state === 'granted' && e.expiresAt && Date.parse(e.expiresAt) < p.now);
  const unverified = p.elevations.filter((e) => e.revokedAt && e.revokeVerified === false);
  const ms = (v: number | undefined) => (v === undefined ? '—' : v < 1000 ? `${v} ms` : duration(v));
  const r = p.policy?.ratified;
  return html`<p class="muted">From the elevations you may see (an auditor sees all).</p>
<h2>Policy in force</h2>
<p>${p.policy?.version ? html`<code>${p.policy.version}</code>` : p.policy ? 'none yet' : 'not known to this process (in distributed mode the approval gate serves GET /v1/catalog)'}${
    r
      ? html` — ${r.how === 'pin' ? 'pinned by the operator' : html`ratified by a policy MR${r.mrIid !== undefined ? html` (!${r.mrIid})` : ''}${r.by.length > 0 ? html`, approved by ${r.by.join(', ')}` : ''}${r.mergedBy ? html`, merged by ${r.mergedBy}` : ''}`} at ${time(r.at)}`
      : ''
  }</p>
<h2>Latency</h2>
<table><thead><tr><th scope="col">Measure</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">max</th><th scope="col">samples</th></tr></thead><tbody>
<tr><td data-label="Measure">merge → granted</td><td data-label="p50">${ms(percentile(mergeToGrant, 50))}</td><td data-label="p95">${ms(percentile(mergeToGrant, 95))}</td><td data-label="max">${ms(percentile(mergeToGrant, 100))}</td><td data-label="samples">${mergeToGrant.length}</td></tr>
<tr><td data-label="Measure">expiry → revoked</td><td data-label="p50">${ms(percentile(lateness, 50))}</td><td data-label="p95">${ms(percentile(lateness, 95))}</td><td data-label="max">${ms(percentile(lateness, 100))}</td><td data-label="samples">${lateness.length}</td></tr>
</tbody></table>
<h2>Revocations</h2>
${
  overdue.length + unverified.length === 0
    ? html`<p>No revocation overdue or unverified.</p>`
    : html`<ul>${overdue.map((e) => html`<li><strong class="expired">overdue</strong>: ${elevationLink(e.id)} expired ${time(e.expiresAt)}${e.revokeFailures > 0 ? `, ${e.revokeFailures} failed attempt(s)` : ''}</li>`)}${unverified.map((e) => html`<li><strong class="expired">not verified</strong>: ${elevationLink(e.id)} revoked ${time(e.revokedAt)}</li>`)}</ul>`
}
<h2>Bypasses and rejections, last ${days} days</h2>
<table><thead><tr><th scope="col">Day (UTC)</th><th scope="col">Bypassed</th><th scope="col">Rejected</th><th scope="col">Granted</th></tr></thead><tbody>
${recent.map((d) => html`<tr><td data-label="Day">${d}</td><td data-label="Bypassed">${count('bypassed', d) > 0 ? html`<strong class="expired">${count('bypassed', d)}</strong>` : 0}</td><td data-label="Rejected">${count('rejected', d)}</td><td data-label="Granted">${p.elevations.filter((e) => e.issuedAt && dayOf(e.issuedAt) === d).length}</td></tr>`)}
</tbody></table>`;
}
