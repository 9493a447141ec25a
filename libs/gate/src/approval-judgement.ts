// The approval judgement: whether one approval counts (a human, eligible, not the author, an agent,
// a bot, the recipient key's owner or anyone who pushed to the MR), who pushed to the MR (GitLab's
// push events and the log's recorded Push Hooks, never a commit's author line alone), GitLab's
// approvals judged as at merge, and break-glass's second human.
import type { GitlabUser, MergeRequest, MergeRequestApprovals, MergeRequestCommit } from '@jit/gitlab';
import { approverSpecOf, isEligibleApprover, isRecipientOf, resolveApprovers, type PolicyModel } from '@jit/policy';
import type { PushRecord, RequestVersion } from '@jit/ledger';
import { ANY_HUMAN, type GateContext, type MrRef } from './gate-context';
import type { ApprovalLine } from './render-comment';

type Ctx = Pick<GateContext, 'gitlab' | 'ledger' | 'botUsername' | 'directory' | 'resolveGroup'>;

export type ApprovalReason = 'bot' | 'agent' | 'author' | 'committer' | 'not_eligible' | 'unknown_user' | 'recipient_owner';

const ZERO_SHA = '0'.repeat(40);

/**
 * The project's pushes as GitLab itself recorded them (its events API: the authenticated pusher,
 * the branch, from and to which commit), since the day before the MR or its oldest commit: a Push
 * Hook lost while webhook-ingest was away must not make a pusher unknown. Bulk pushes (no ref) and
 * tags name no branch; a push older than the window leaves its commits unknown (fail closed).
 */
async function gitlabPushes(ctx: Pick<GateContext, 'gitlab'>, projectId: number, mr: MergeRequest, commits: MergeRequestCommit[]): Promise<PushRecord[]> {
  const times = [mr.createdAt, ...commits.map((c) => c.createdAt)].map((t) => (t ? Date.parse(t) : NaN)).filter((t) => Number.isFinite(t));
  const earliest = times.length > 0 ? Math.min(...times) : Date.now();
  const after = new Date(Math.min(earliest, Date.now()) - 86_400_000).toISOString().slice(0, 10);
  const out: PushRecord[] = [];
  for (const e of await ctx.gitlab.events.pushes(projectId, { after })) {
    if (e.refType !== 'branch' || !e.ref || !e.commitTo) continue;
    out.push({ projectId, branch: e.ref, pusher: e.authorUsername, before: e.commitFrom ?? ZERO_SHA, after: e.commitTo, commits: [] });
  }
  return out;
}

/**
 * Who pushed to an MR, from GitLab's push events and the log's pushRecorded events (GitLab's Push
 * Hook `user_username`), never from a commit's author line alone: anyone who pushed to its source
 * branch or pushed one of its commits. An MR commit no known push to the source branch accounts
 * for has an unknown pusher.
 */
export interface PushFacts {
  /** Lower-case usernames. */
  pushers: Set<string>;
  commits: MergeRequestCommit[];
  /** Shas of MR commits whose pusher jit cannot tell. */
  unknown: string[];
}

export async function pushFacts(ctx: Pick<GateContext, 'gitlab' | 'ledger'>, ref: MrRef): Promise<PushFacts> {
  const [mr, commits] = await Promise.all([ctx.gitlab.mergeRequests.show(ref.projectId, ref.mrIid), ctx.gitlab.mergeRequests.commits(ref.projectId, ref.mrIid)]);
  const order = commits.map((c) => c.id);
  const pushers = new Set<string>();
  const covered = new Set<string>();
  for (const p of [...ctx.ledger.pushes(ref.projectId), ...(await gitlabPushes(ctx, ref.projectId, mr, commits))]) {
    // A push to the target branch never changes the MR; the merge itself is one (its commits are
    // the MR's), and counting it made the merger a pusher of the MR.
    if (p.branch === mr.targetBranch) continue;
    const onBranch = p.branch === mr.sourceBranch;
    if (!onBranch && !order.includes(p.after) && !p.commits.some((c) => order.includes(c))) continue;
    pushers.add(p.pusher.toLowerCase());
    // Only a push to the source branch accounts for how a commit got onto the MR. A push of the
    // same commit elsewhere (a backup branch) makes its pusher one of the MR's, but the push that
    // put it here may be one jit never heard of (GitLab sends no Push Hook for a push of more than
    // 3 branches and its events API records that as a bulk push without a ref).
    if (!onBranch) continue;
    for (const c of [...p.commits, p.after]) covered.add(c);
    // GitLab lists at most 20 commits per push: the MR commits between its before and after are its too.
    const i = order.indexOf(p.after);
    const j = order.indexOf(p.before);
    if (onBranch && i >= 0 && j >= 0) for (let k = Math.min(i, j); k <= Math.max(i, j); k++) if (k !== j) covered.add(order[k]!);
  }
  return { pushers, commits, unknown: order.filter((c) => !covered.has(c)) };
}

/** Whether `user` pushed to the MR or a commit's author/committer line names them (username, name or e-mail). */
export function pushedOrAuthored(facts: PushFacts, user: GitlabUser): boolean {
  if (facts.pushers.has(user.username.toLowerCase())) return true;
  const email = user.email?.toLowerCase();
  const names = [user.username, user.name].filter((n): n is string => !!n).map((n) => n.toLowerCase());
  return facts.commits.some(
    (c) =>
      (email && (c.authorEmail.toLowerCase() === email || c.committerEmail.toLowerCase() === email)) || names.includes(c.authorName.toLowerCase()) || names.includes(c.committerName.toLowerCase()),
  );
}

/** One approval of the validated request: counted, or why not. */
export async function judgeApprover(
  ctx: Ctx,
  ref: MrRef,
  req: RequestVersion['data'],
  user: GitlabUser | undefined,
  policy: PolicyModel,
  facts?: PushFacts,
): Promise<{ counted: boolean; reason?: ApprovalReason }> {
  if (!user) return { counted: false, reason: 'unknown_user' };
  const anyHuman = req.eligibleApprovers.includes(ANY_HUMAN);
  const verdict = isEligibleApprover(
    { username: user.username, bot: user.bot || user.username === ctx.botUsername, committer: false },
    { anyHuman, groups: [], users: req.eligibleApprovers },
    { usernames: req.eligibleApprovers.filter((u) => u !== ANY_HUMAN) },
    { author: req.requester, agents: policy.agents },
  );
  if (!verdict.eligible && verdict.reason !== 'not_eligible') return { counted: false, reason: verdict.reason };
  // Belt and braces beside the evaluate-time rule (which leaves owners out of the eligible list):
  // an owner of the recipient key (a key listed under two users) could open the credential, so
  // their approval never counts, and the comment says why.
  if (isRecipientOf(policy, user.username, req.recipient)) return { counted: false, reason: 'recipient_owner' };
  if (!verdict.eligible) return { counted: false, reason: verdict.reason };
  if (pushedOrAuthored(facts ?? (await pushFacts(ctx, ref)), user)) return { counted: false, reason: 'committer' };
  return { counted: true };
}

/**
 * Who the policy's approvers resolve to now (undefined for `anyHuman`). The request keeps the
 * usernames resolved when it was validated; an approver removed from the group since, or a
 * username that changed hands since, must not count on that snapshot alone.
 */
async function currentlyEligible(ctx: Pick<GateContext, 'resolveGroup' | 'botUsername'>, r: RequestVersion['data'], policy: PolicyModel): Promise<Set<string> | undefined> {
  if (r.eligibleApprovers.includes(ANY_HUMAN)) return undefined;
  const spec = approverSpecOf(policy, r);
  if (!spec) return new Set();
  if (spec.anyHuman) return undefined;
  const resolved = await resolveApprovers(spec, ctx.resolveGroup, { author: r.requester, agents: policy.agents, others: [ctx.botUsername] });
  return new Set(resolved.usernames.map((u) => u.toLowerCase()));
}

/**
 * GitLab's approvals judged as at merge: eligible humans only, and only approvals given after the
 * last validated change (our ledger first; without a record, GitLab's approved_at).
 */
export async function verifyApprovals(
  ctx: Ctx,
  ref: MrRef,
  elevation: string,
  req: RequestVersion,
  policy: PolicyModel,
  given?: MergeRequestApprovals,
): Promise<{ lines: ApprovalLine[]; counted: string[]; unknownPushers: string[] }> {
  const { ledger } = ctx;
  const approvals = given ?? (await ctx.gitlab.mergeRequests.approvals(ref.projectId, ref.mrIid));
  const facts = await pushFacts(ctx, ref);
  const eligibleNow = await currentlyEligible(ctx, req.data, policy);
  const ledgerCounted = new Set<string>();
  for (const [name, a] of ledger.approvalsSinceLastChange(elevation)) if (a.action === 'approved' && a.counted) ledgerCounted.add(name);
  const seen = new Set<string>();
  const lines: ApprovalLine[] = [];
  const counted: string[] = [];
  for (const a of approvals.approvedBy) {
    const key = a.username.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const user = await ctx.directory.userById(a.userId);
    let v: { counted: boolean; reason?: string } = await judgeApprover(ctx, ref, req.data, user, policy, facts);
    if (v.counted && eligibleNow && !eligibleNow.has((user?.username ?? a.username).toLowerCase())) v = { counted: false, reason: 'not_eligible' };
    if (v.counted) {
      // Both clocks must agree the approval follows the last change: GitLab's own approved_at (a
      // late or forged approval webhook is not GitLab's word), and our ledger (an approval we last
      // saw before the current version is stale whatever GitLab's clock says). Without a ledger
      // record (webhook lost), GitLab's approved_at alone decides.
      const recorded = ledger.lastApproval(elevation, a.username, { ever: true });
      const staleByLedger = recorded !== undefined && recorded.action === 'approved' && !ledgerCounted.has(key) && recorded.seq < req.seq;
      const freshByGitlab = a.approvedAt !== undefined && Date.parse(a.approvedAt) >= Date.parse(req.at);
      if (staleByLedger || !freshByGitlab) v = { counted: false, reason: 'stale' };
    }
    lines.push({ approver: a.username, counted: v.counted, ...(v.reason ? { reason: v.reason } : {}) });
    if (v.counted) counted.push(user?.username ?? a.username);
  }
  return { lines, counted, unknownPushers: facts.unknown };
}

/** Break-glass needs two humans even with `approvals: 0`: the merger must be a human other than the requester. */
export async function breakGlassMergerProblem(ctx: Ctx, ref: MrRef, mergedBy: { id: number } | null, requester: string, policy: PolicyModel): Promise<string | undefined> {
  const merger = mergedBy ? await ctx.directory.userById(mergedBy.id) : undefined;
  const need = 'break-glass needs a second human: the merger must be a human other than the requester';
  if (!merger) return `${need}; GitLab names no merger for this MR`;
  if (merger.bot || merger.username === ctx.botUsername) return `${need}; ${merger.username} who merged it is a bot`;
  if (policy.agents.some((a) => a.toLowerCase() === merger.username.toLowerCase())) return `${need}; ${merger.username} who merged it is an agent`;
  if (merger.username.toLowerCase() === requester.toLowerCase()) return `${need}; the requester ${requester} merged it`;
  // A merger who pushed to the MR wrote (part of) what was merged: one person decided it alone.
  const facts = await pushFacts(ctx, ref);
  if (pushedOrAuthored(facts, merger)) return `${need} who did not change it; ${merger.username} who merged it also pushed to it`;
  // A commit neither a Push Hook nor GitLab's push events account for could be the merger's.
  if (facts.unknown.length > 0)
    return `${need} who did not change it; ${facts.unknown.length} commit(s) have no known pusher (${facts.unknown
      .slice(0, 5)
      .map((c) => c.slice(0, 12))
      .join(', ')}), so ${merger.username} who merged it may have pushed to it`;
  return undefined;
}
