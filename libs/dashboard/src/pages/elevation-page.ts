// One elevation: what was asked and why, who approved (counted or not, and why), the grant, the
// verified-revocation receipt, and the timeline of every event jit recorded for it.
import { html, type Html } from '../html';
import { duration, mrLink, stateChip, time } from './format';
import type { Elevation } from './types';

export function elevationPage(e: Elevation): Html {
  const fact = (label: string, value: unknown) => html`<dt>${label}</dt><dd>${value === undefined || value === '' ? '—' : value}</dd>`;
  return html`<dl class="facts">
${fact('State', stateChip(e.state))}${fact('Requester', e.requester)}${fact('Target / scope', `${e.target ?? '—'} / ${e.scope ?? '—'}`)}
${fact('Tier', e.declaredTier && e.declaredTier !== e.tier ? `${e.tier ?? '—'} (declared ${e.declaredTier})` : e.tier)}${fact('TTL', e.ttlSeconds !== undefined ? duration(e.ttlSeconds * 1000) : undefined)}
${fact('Break-glass', e.breakGlass ? html`<span class="chip break-glass">yes</span>` : 'no')}${fact('Justification', html`<span class="justification">${e.justification ?? ''}</span>`)}
${fact('Rollback plan', html`<span class="justification">${e.rollbackPlan ?? ''}</span>`)}${fact('Merge request', mrLink(e.mrUrl, `MR !${e.mrIid}`))}${fact('Policy version', e.policyVersion)}
</dl>
<h2>Approvals</h2>
${
  e.approvals.length === 0
    ? html`<p class="empty">No approval recorded.</p>`
    : html`<ul>${e.approvals.map((a) => html`<li>${a.approver}: ${a.action}${a.counted ? ' (counted)' : html` (not counted${a.reason ? html`: ${a.reason}` : ''})`} at ${time(a.at)}</li>`)}</ul>`
}
<h2>Grant and receipt</h2>
<dl class="facts">${fact('Grant', e.grantId)}${fact('Substrate', e.substrate)}${fact('Verified approvers', e.approvers?.join(', '))}${fact('Issued', time(e.issuedAt))}${fact('Expires', time(e.expiresAt))}
${fact('Revoked', time(e.revokedAt))}${fact('Revocation', e.revokedAt ? `${e.revokeCause ?? 'revoked'}; ${e.revokeVerified ? 'verified gone on the substrate' : 'NOT verified'}${e.latenessMs !== undefined ? `; ${Math.round(e.latenessMs / 1000)} s after expiry` : ''}` : undefined)}
${fact('Failed revocation attempts', e.revokeFailures > 0 ? String(e.revokeFailures) : undefined)}</dl>
<h2>Timeline</h2>
<ol class="timeline">${e.timeline.map((t) => html`<li>${time(t.time)} <code>${t.type.replace(/^dev\.jit\./, '').replace(/\.v1$/, '')}</code> ${t.summary}</li>`)}</ol>`;
}
