// Who may approve: approver specs resolved to usernames through an injected group resolver, and
// the per-approval eligibility decision (authors, agents and bots never count).
import type { ApproverSpec, BreakGlassRule, PolicyModel } from './model';

export interface ResolvedMember {
  username: string;
  bot?: boolean;
}

/** Group name -> members (inherited included). Injected by the app (GitLab group members). */
export type GroupResolver = (group: string) => Promise<ResolvedMember[]>;

export interface ExcludeRules {
  author?: string;
  agents: readonly string[];
  /** Extra usernames never eligible (e.g. committers, the jit bot). */
  others?: readonly string[];
}

const lc = (s: string) => s.toLowerCase();

/**
 * Resolves a spec to the usernames that may approve. `anyHuman` yields `{ anyHuman: true }` and the
 * listed users/groups (if any) for display; eligibility then comes from `isEligibleApprover`.
 */
export async function resolveApprovers(spec: ApproverSpec, resolveGroup: GroupResolver, exclude: ExcludeRules): Promise<{ anyHuman: boolean; usernames: string[] }> {
  const never = new Set([...(exclude.author ? [exclude.author] : []), ...exclude.agents, ...(exclude.others ?? [])].map(lc));
  const out = new Map<string, string>();
  for (const u of spec.users) if (!never.has(lc(u))) out.set(lc(u), u);
  for (const g of spec.groups) {
    for (const m of await resolveGroup(g)) {
      if (m.bot || never.has(lc(m.username))) continue;
      out.set(lc(m.username), m.username);
    }
  }
  return { anyHuman: spec.anyHuman, usernames: [...out.values()].sort() };
}

/** The approver rule an elevation is judged by: break-glass's, or its tier's (undefined: the policy has none). */
export function approverSpecOf(policy: Pick<PolicyModel, 'tiers' | 'breakGlass'>, elevation: { tier?: string; breakGlass?: boolean }): ApproverSpec | undefined {
  return elevation.breakGlass ? policy.breakGlass?.approvers : policy.tiers.find((t) => t.name === elevation.tier)?.approvers;
}

export type IneligibleReason = 'bot' | 'agent' | 'author' | 'committer' | 'not_eligible';

export interface ApproverFacts {
  username: string;
  bot: boolean;
  /** Whether the user authored a commit on the MR (GitLab's "committer"). */
  committer?: boolean;
}

/**
 * Decides whether one approval counts. Order matters for the reason reported: bot, agent, author,
 * committer, then membership.
 */
export function isEligibleApprover(
  approver: ApproverFacts,
  spec: ApproverSpec,
  resolved: { usernames: readonly string[] },
  exclude: ExcludeRules,
): { eligible: true } | { eligible: false; reason: IneligibleReason } {
  const name = lc(approver.username);
  if (approver.bot) return { eligible: false, reason: 'bot' };
  if (exclude.agents.some((a) => lc(a) === name)) return { eligible: false, reason: 'agent' };
  if (exclude.author && lc(exclude.author) === name) return { eligible: false, reason: 'author' };
  if (approver.committer) return { eligible: false, reason: 'committer' };
  if ((exclude.others ?? []).some((o) => lc(o) === name)) return { eligible: false, reason: 'not_eligible' };
  if (spec.anyHuman) return { eligible: true };
  if (resolved.usernames.some((u) => lc(u) === name)) return { eligible: true };
  return { eligible: false, reason: 'not_eligible' };
}

/**
 * Break-glass is for the humans on call named in `breakGlass.requesters` (users, group members):
 * never an agent, a bot or anyone else. Returns why `requester` may not use it, or undefined.
 */
export async function breakGlassRequesterProblem(
  rule: BreakGlassRule,
  requester: { username: string; bot: boolean },
  agents: readonly string[],
  resolveGroup: GroupResolver,
): Promise<string | undefined> {
  const name = lc(requester.username);
  if (requester.bot) return `break-glass is for humans on call; ${requester.username} is a bot`;
  if (agents.some((a) => lc(a) === name)) return `break-glass is for humans on call; ${requester.username} is listed under agents`;
  const allowed = await resolveApprovers({ anyHuman: false, ...rule.requesters }, resolveGroup, { agents });
  if (allowed.usernames.some((u) => lc(u) === name)) return undefined;
  if (rule.requesters.groups.length === 0 && rule.requesters.users.length === 0) {
    return 'this policy names no breakGlass.requesters, so nobody may use break-glass; a policy-change MR can add the humans on call';
  }
  return `${requester.username} is not among breakGlass.requesters (${[...rule.requesters.users, ...rule.requesters.groups.map((g) => `group ${g}`)].join(', ')}); ask one of them, or request through a tier`;
}
