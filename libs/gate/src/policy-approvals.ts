// The policyApprover approvals a merged policy-change MR counts: each approver once, eligible by the
// policy in force before it (never the author, an agent, a bot or a committer), and approved after
// the merged head arrived — by GitLab's clock (its diff versions), not the dates a pusher's git wrote.
import type { GitlabClient, GitlabUser, MergeRequest, MergeRequestVersion } from '@jit/gitlab';
import { isEligibleApprover, type ApproverSpec } from '@jit/policy';
import type { ApprovalLine } from './render-comment';

type MrRef = { projectId: number; mrIid: number };

const lc = (s: string) => s.toLowerCase();

/**
 * When `head` last became the MR's head, by GitLab's clock: the oldest of the newest run of diff
 * versions at that head (a version GitLab recomputes for the same head changes nothing the
 * approvers saw; a head pushed, replaced and pushed back counts from its return). Undefined when
 * the newest version is not at `head`.
 */
export function headArrival(versions: readonly MergeRequestVersion[], head: string): number | undefined {
  const newestFirst = [...versions].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id);
  let since: number | undefined;
  for (const v of newestFirst) {
    if (v.headCommitSha !== head) break;
    since = Date.parse(v.createdAt);
  }
  return since === undefined || Number.isNaN(since) ? undefined : since;
}

export interface PolicyApprovalsInput {
  gitlab: GitlabClient;
  ref: MrRef;
  mr: MergeRequest;
  spec: ApproverSpec;
  resolved: { usernames: readonly string[] };
  required: number;
  agents: string[];
  botUsername: string;
  userById(id: number): Promise<GitlabUser | undefined>;
  isCommitter(ref: MrRef, user: GitlabUser): Promise<boolean>;
}

/** Who counted, a line per approver for the comment, and why the approvals fall short (if they do). */
export async function countPolicyApprovals(input: PolicyApprovalsInput): Promise<{ counted: string[]; lines: ApprovalLine[]; reasons: string[] }> {
  const { gitlab, ref, mr, spec, resolved, required, agents, botUsername } = input;
  const reasons: string[] = [];
  // Approvals: GitLab's own approved_at must follow the arrival of the head that was merged, by
  // GitLab's clock (its diff versions). A commit's dates are what the pusher's git wrote: a push
  // backdated to before the approvals must not make them look fresh.
  const headSince = headArrival(await gitlab.mergeRequests.versions(ref.projectId, ref.mrIid), mr.sha);
  if (headSince === undefined) reasons.push(`GitLab records no diff version for the MR's head ${mr.sha}, so no approval can be shown to follow it`);
  const commits = await gitlab.mergeRequests.commits(ref.projectId, ref.mrIid);
  const lastChange =
    headSince === undefined
      ? undefined
      : commits.reduce<number>((m, c) => {
          const t = c.createdAt ? Date.parse(c.createdAt) : NaN;
          return Number.isNaN(t) ? m : Math.max(m, t);
        }, headSince);
  const approvals = await gitlab.mergeRequests.approvals(ref.projectId, ref.mrIid);
  const counted: string[] = [];
  const lines: ApprovalLine[] = [];
  for (const a of approvals.approvedBy) {
    if (lines.some((l) => lc(l.approver) === lc(a.username))) continue;
    const user = await input.userById(a.userId);
    let v: { eligible: true } | { eligible: false; reason: string } = user
      ? isEligibleApprover({ username: user.username, bot: user.bot || user.username === botUsername }, spec, resolved, {
          author: mr.author.username,
          agents,
        })
      : { eligible: false, reason: 'unknown_user' };
    if (v.eligible && user && (await input.isCommitter(ref, user))) v = { eligible: false, reason: 'committer' };
    if (v.eligible && (lastChange === undefined || a.approvedAt === undefined || Date.parse(a.approvedAt) < lastChange)) {
      v = { eligible: false, reason: 'stale' };
    }
    lines.push({ approver: a.username, counted: v.eligible, ...(v.eligible ? {} : { reason: v.reason }) });
    if (v.eligible) counted.push(user?.username ?? a.username);
  }
  if (counted.length < required) {
    reasons.push(
      `merged with ${counted.length} of ${required} required policyApprover approval(s) given after the last change` +
        (lines.some((l) => !l.counted)
          ? ` (not counted: ${lines
              .filter((l) => !l.counted)
              .map((l) => `${l.approver}: ${l.reason}`)
              .join(', ')})`
          : ''),
    );
  }
  return { counted, lines, reasons };
}
