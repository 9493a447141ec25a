// "Waiting for me": pending requests the read API lets the signed-in user see, split into what
// they may approve (eligible, not their own, not approved by them yet), their own requests, and
// the rest (an auditor sees every pending request). Approval itself stays in GitLab (the MR link).
import { html, type Html } from '../html';
import { duration, elevationLink, mrLink } from './format';
import type { Elevation } from './types';

function counted(e: Elevation): number {
  return new Set(e.approvals.filter((a) => a.action === 'approved' && a.counted).map((a) => a.approver.toLowerCase())).size;
}

function table(list: Elevation[], now: number, caption: string): Html {
  if (list.length === 0) return html`<p class="empty">Nothing here.</p>`;
  return html`<table><caption class="muted">${caption}</caption><thead><tr><th scope="col">Request</th><th scope="col">Requester</th><th scope="col">Target / scope</th><th scope="col">Tier</th><th scope="col">TTL</th><th scope="col">Justification</th><th scope="col">Approvals</th><th scope="col">Age</th><th scope="col">Merge request</th></tr></thead><tbody>
${list.map(
  (e) => html`<tr data-elevation="${e.id}"><td data-label="Request">${elevationLink(e.id)}${e.breakGlass ? html` <span class="chip break-glass">break-glass</span>` : ''}</td>
<td data-label="Requester">${e.requester ?? '—'}</td><td data-label="Target / scope">${e.target ?? '—'} / ${e.scope ?? '—'}</td><td data-label="Tier">${e.tier ?? '—'}</td>
<td data-label="TTL">${e.ttlSeconds !== undefined ? duration(e.ttlSeconds * 1000) : '—'}</td><td data-label="Justification" class="justification">${e.justification ?? ''}</td>
<td data-label="Approvals">${counted(e)} of ${e.requiredApprovals ?? '?'}</td><td data-label="Age">${duration(now - Date.parse(e.createdAt))}</td><td data-label="Merge request">${mrLink(e.mrUrl, `MR !${e.mrIid}`)}</td></tr>`,
)}</tbody></table>`;
}

export function waitingPage(p: { username: string; pending: Elevation[]; now: number }): Html {
  const me = p.username.toLowerCase();
  const mine = p.pending.filter((e) => e.requester?.toLowerCase() === me);
  const approvedByMe = (e: Elevation) => e.approvals.some((a) => a.approver.toLowerCase() === me && a.action === 'approved');
  const forMe = p.pending.filter((e) => !mine.includes(e) && (e.eligibleApprovers ?? []).some((u) => u.toLowerCase() === me) && !approvedByMe(e));
  const others = p.pending.filter((e) => !mine.includes(e) && !forMe.includes(e));
  return html`<p class="muted">Approve in GitLab: open the merge request. This page refreshes every 15 seconds.</p>
<section aria-labelledby="for-me"><h2 id="for-me">You may approve (${forMe.length})</h2>${table(forMe, p.now, 'Pending requests you are eligible to approve')}</section>
<section aria-labelledby="mine"><h2 id="mine">Your requests (${mine.length})</h2>${table(mine, p.now, 'Your pending requests')}</section>
${others.length > 0 ? html`<section aria-labelledby="others"><h2 id="others">Other pending requests (${others.length})</h2>${table(others, p.now, 'Pending requests you may see but not approve now')}</section>` : ''}`;
}
