// The gate's one MR comment (edited in place): the access plan, who may approve, approvals
// counted and not counted (and why), the verdict at merge. Never contains a secret.
// Every string from a request, a policy or an event goes through markdownText / markdownCode
// (libs/contracts display-text: the one sanitiser), so it cannot add lines, links or a verdict.
import { markdownCode as code, markdownText as md } from '@jit/contracts';
import type { AccessPlan } from '@jit/policy';

export const GATE_MARKER = '<!-- jit:approval-gate -->';

/** The line that opens each merge verdict (sanitised text can never produce one). */
export const VERDICT_HEADINGS = {
  approved: '**Verified at merge**',
  bypass: '**Merged without verified approvals — nothing will be issued.**',
} as const;

export interface ApprovalLine {
  approver: string;
  counted: boolean;
  reason?: string;
}

export interface CommentView {
  elevationId: string;
  requestPath?: string;
  headSha?: string;
  policyVersion?: string;
  plan?: AccessPlan;
  /** Users the policy registers the plan's recipient key to (the requester, by the gate's rule). */
  recipientOwners?: string[];
  eligibleApprovers?: string[];
  anyHuman?: boolean;
  problems?: Array<{ path: string; message: string; line?: number; column?: number }>;
  /** Project is on a GitLab tier without approval rules. */
  free?: boolean;
  settingsDrift?: string[];
  overlapping?: Array<{ elevationId: string; scope?: string; expiresAt?: string }>;
  approvals?: ApprovalLine[];
  verdict?: { kind: 'approved'; approvers: string[]; grantId: string; reviewIssue?: string } | { kind: 'bypass'; reasons: string[] };
  withdrawn?: string;
  policyChange?: { approvals: number; approvers: string[]; problems: Array<{ path: string; message: string; line?: number }> };
  revokeNote?: string;
}

const REASONS: Record<string, string> = {
  bot: 'bot user — bots never count',
  agent: 'listed agent — agents may request but never approve',
  author: 'author of the request — no self-approval',
  committer: 'committed to this MR — committers never count',
  not_eligible: 'not an eligible approver for this tier',
  stale: 'given before the last change to the request — approve again',
  unknown_user: 'user could not be looked up',
  recipient_owner: 'the credential is sealed to a key registered to this user — whoever can open it never approves it',
};

function dur(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', r ? `${r}s` : ''].join('') || '0s';
}

export function renderComment(v: CommentView): string {
  const out: string[] = [];
  if (v.policyChange) {
    out.push('### jit: policy change');
    out.push(
      `This MR changes \`policy.yaml\`. It needs **${v.policyChange.approvals}** approval(s) from the policy approvers: ${v.policyChange.approvers.map((u) => `${code(u)}`).join(', ') || '(none resolved)'}. It may not carry an elevation request.`,
    );
    if (v.policyChange.problems.length > 0) {
      out.push('', '**The new policy is invalid** — if merged, the current policy stays in force:');
      for (const p of v.policyChange.problems) out.push(`- ${code(p.path)}${p.line ? ` (line ${p.line})` : ''}: ${md(p.message)}`);
    } else out.push('', 'The new policy validates.');
    if (v.approvals && v.approvals.length > 0) {
      out.push('', '**Approvals at merge**');
      for (const a of v.approvals) {
        out.push(`- ${code(a.approver)}: ${a.counted ? 'counted' : `not counted — ${REASONS[a.reason ?? ''] ?? md(a.reason ?? 'not counted')}`}`);
      }
    }
    if (v.verdict?.kind === 'bypass') {
      out.push('', "**Merged without the policyApprovers' approvals — jit refuses this policy version.**");
      for (const r of v.verdict.reasons) out.push(`- ${md(r)}`);
    }
    if (v.revokeNote) out.push('', md(v.revokeNote));
    return out.join('\n');
  }
  out.push(`### jit: elevation \`${v.elevationId}\``);
  if (v.withdrawn) {
    out.push('', `**Withdrawn**: ${md(v.withdrawn)}. Nothing will be issued.`);
  }
  if (v.problems && v.problems.length > 0) {
    out.push('', `**Rejected** — fix every problem below and push again${v.requestPath ? ` (${code(v.requestPath)})` : ''}:`);
    for (const p of v.problems) {
      const where = p.line ? ` (line ${p.line}${p.column ? `, column ${p.column}` : ''})` : '';
      out.push(`- ${code(p.path)}${where}: ${md(p.message)}`);
    }
    out.push('', 'Nothing will be issued for this MR while it is rejected. `jit catalog` lists what may be requested.');
  }
  if (v.plan) {
    const p = v.plan;
    out.push('', '**Access plan**', '');
    out.push('| | |', '|---|---|');
    out.push(`| target / scope | ${code(p.target)} / ${code(p.scope)} (${md(p.substrate)}) |`);
    out.push(`| tier | **${md(p.tier)}**${p.declaredTier !== p.tier ? ` (declared ${md(p.declaredTier)})` : ''}${p.breakGlass ? ' — **BREAK-GLASS**' : ''} |`);
    out.push(`| duration | ${dur(p.ttlSeconds)} from issue (ceiling ${dur(p.ttlCeilingSeconds)}), then revoked |`);
    out.push(`| approvals required | ${p.requiredApprovals} distinct eligible human(s), given after the last change |`);
    const who = v.anyHuman ? 'any human except the author, agents and bots' : (v.eligibleApprovers ?? []).map((u) => `${code(u)}`).join(', ') || '(nobody)';
    out.push(`| who may approve | ${who} |`);
    const owners = v.recipientOwners ?? [];
    out.push(
      `| credential sealed to | ${code(p.recipient)} ${owners.length > 0 ? `registered to ${owners.map((u) => `@${md(u)}`).join(', ')} — only they can open it` : '— registered to nobody in the policy'} |`,
    );
    out.push(`| justification | ${md(p.justification)} |`);
    if (p.rollbackPlan) out.push(`| rollback plan | ${md(p.rollbackPlan)} |`);
    if (p.breakGlass && p.reviewWithinSeconds) out.push(`| post-incident review | within ${dur(p.reviewWithinSeconds)} of approval |`);
    if (v.policyVersion) out.push(`| policy version | ${code(v.policyVersion.slice(0, 12))} |`);
    if (v.overlapping && v.overlapping.length > 0) {
      out.push(
        '',
        `**Live grants on ${code(p.target)}**: ${v.overlapping.map((o) => `${code(o.elevationId)}${o.scope ? ` (${md(o.scope)})` : ''}${o.expiresAt ? ` until ${md(o.expiresAt)}` : ''}`).join(', ')}`,
      );
    }
    if (v.free) {
      out.push(
        '',
        '> This project has no GitLab approval rules (GitLab Free): GitLab will not block the merge. jit verifies the approvals itself at merge; a merge without them issues nothing and is reported as a bypass.',
      );
    }
    if (v.settingsDrift && v.settingsDrift.length > 0) {
      out.push('', `> GitLab's approval setup had drifted: ${v.settingsDrift.map((d) => md(d)).join('; ')}.`);
    }
    out.push('', '**Reviewer checklist**');
    out.push('- [ ] the justification names a real incident/ticket and the scope is the smallest that works');
    out.push('- [ ] the duration is no longer than the work needs');
    out.push('- [ ] the rollback plan would actually undo the change');
    out.push('- [ ] overlapping grants on the same target (above) are expected');
  }
  if (v.approvals && v.approvals.length > 0) {
    out.push('', '**Approvals**');
    for (const a of v.approvals) {
      out.push(`- ${code(a.approver)}: ${a.counted ? 'counted' : `not counted — ${REASONS[a.reason ?? ''] ?? md(a.reason ?? 'not counted')}`}`);
    }
  }
  if (v.verdict?.kind === 'approved') {
    out.push(
      '',
      `${VERDICT_HEADINGS.approved}: approved by ${v.verdict.approvers.map((u) => `${code(u)}`).join(', ') || '(break-glass, no approvals required)'}. Grant ${code(v.verdict.grantId)} will be issued.`,
    );
    if (v.verdict.reviewIssue) out.push(`Post-incident review: ${md(v.verdict.reviewIssue)}`);
  } else if (v.verdict?.kind === 'bypass') {
    out.push('', `${VERDICT_HEADINGS.bypass} This was reported as a bypass:`);
    for (const r of v.verdict.reasons) out.push(`- ${md(r)}`);
  }
  if (v.revokeNote) out.push('', md(v.revokeNote));
  if (v.headSha) out.push('', `<sub>validated at ${md(v.headSha.slice(0, 12))}</sub>`);
  return out.join('\n');
}
