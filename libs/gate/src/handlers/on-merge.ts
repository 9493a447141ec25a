// MR merged: verified on the gate's own, from GitLab's API state and the ledger, never from the
// webhook — default branch, the request at the merge commit is the validated content, the policy
// version still in force, enough eligible human approvals after the last change, break-glass's
// second human — then elevation.approved or elevation.bypass.detected, then the GitLab side: the
// break-glass review issue and the verdict on the comment. Policy MRs are the ratifier's.
import { EVENT_TYPES, elevationId as toElevationId, grantId as toGrantId } from '@jit/contracts';
import { GitlabNotFound } from '@jit/gitlab';
import { breakGlassMergerProblem, verifyApprovals } from '../approval-judgement';
import { baseView, durationText, writeComment } from '../comment-view';
import type { RequestVersion } from '@jit/ledger';
import type { ElevationApprovedData } from '@jit/contracts';
import { ANY_HUMAN, type GateContext, type MrEvent, type MrRef } from '../gate-context';
import { isPolicyOnly, mrChanges, nonPolicyPaths, structureProblems } from '../mr-changes';
import { GATE_MARKER, VERDICT_HEADINGS, type ApprovalLine, type CommentView } from '../render-comment';
import { sha256 } from '../request-evaluation';

export async function onMerge(ctx: GateContext, ev: MrEvent, sourceId: string): Promise<void> {
  const { gitlab, ledger, log } = ctx;
  const elevation = toElevationId(ev.projectId, ev.mrIid);
  if (ledger.isDecided(elevation)) {
    // Recorded already: what may be missing is what followed it (a crash after the emit).
    log.info({ elevationId: elevation, source: sourceId }, 'merge already verified; completing its GitLab side effects');
    await announceVerdict(ctx, ev, elevation);
    return;
  }
  const mr = await gitlab.mergeRequests.show(ev.projectId, ev.mrIid);
  if (mr.state !== 'merged') {
    log.warn({ elevationId: elevation, state: mr.state }, 'merge webhook but GitLab says the MR is not merged; ignored (forged or stale)');
    return;
  }
  const c = await mrChanges(gitlab, ctx.layout, ev);
  if (isPolicyOnly(c)) {
    await ctx.ratifier.onPolicyMerge(ev, mr);
    return;
  }
  // policy.yaml changed along with anything else: never adopted, reported; the request is judged below.
  if (c.policy) await ctx.ratifier.onMixedMerge(ev, mr, nonPolicyPaths(c));
  const mergeSha = mr.mergeCommitSha ?? mr.squashCommitSha ?? undefined;
  const project = await gitlab.projects.show(ev.projectId);
  const req = ledger.request(elevation);
  const reasons: string[] = [];
  const lines: ApprovalLine[] = [];
  const counted: string[] = [];
  if (mr.targetBranch !== project.defaultBranch) {
    reasons.push(`merged into ${mr.targetBranch}, not the default branch ${project.defaultBranch}`);
  }
  if (!req) reasons.push(ledger.rejection(elevation) ? 'the request was rejected at its last version; it was merged anyway' : 'no validated request on record for this MR');
  if (!mergeSha) reasons.push('GitLab reports no merge commit for this MR');
  if (req && structureProblems(c, ctx.layout).length > 0) reasons.push('the merged MR no longer changes exactly one request file');
  if (req && mergeSha) {
    const file = await gitlab.files.show(ev.projectId, req.data.requestPath, mergeSha).catch((err: unknown) => {
      if (GitlabNotFound.is(err)) return undefined;
      throw err;
    });
    if (!file) reasons.push(`${req.data.requestPath} does not exist at the merge commit`);
    else if (sha256(file.content) !== req.data.contentHash) {
      reasons.push(`${req.data.requestPath} at the merge commit is not the content jit validated`);
    }
    const inForce = await ctx.policyNow();
    const policy = inForce.policy;
    if (req.data.policyVersion !== inForce.version) {
      // Its tier, approvers, approval count and target were planned under a policy that a ratified
      // change has since replaced (a removed approver, a raised count, a moved target): never
      // issued on the old terms.
      reasons.push(
        `the request was validated under policy version ${req.data.policyVersion.slice(0, 12)}, which version ${inForce.version.slice(0, 12)} replaced before the merge; nothing is issued on a superseded policy — open a new MR so it is judged under the policy in force`,
      );
    }
    const verified = await verifyApprovals(ctx, ev, elevation, req, policy);
    lines.push(...verified.lines);
    if (req.data.breakGlass) {
      const why = await breakGlassMergerProblem(ctx, ev, mr.mergedBy ?? null, req.data.requester, policy);
      if (why) reasons.push(why);
    }
    counted.push(...verified.counted);
    // Each commit whose pusher jit cannot tell could be any one of the counted approvers: the tier's
    // count must still come from people who provably did not push.
    const unknown = counted.length > 0 ? verified.unknownPushers.length : 0;
    if (counted.length - unknown < req.data.requiredApprovals) {
      reasons.push(
        `${counted.length} of ${req.data.requiredApprovals} required eligible human approval(s) verified at merge` +
          (lines.some((l) => !l.counted)
            ? ` (not counted: ${lines
                .filter((l) => !l.counted)
                .map((l) => `${l.approver}: ${l.reason}`)
                .join(', ')})`
            : '') +
          (unknown > 0
            ? `; ${unknown} commit(s) have no recorded pusher (${verified.unknownPushers
                .slice(0, 5)
                .map((c) => c.slice(0, 12))
                .join(
                  ', ',
                )}: their Push Hook never reached jit — is "Push events" on for jit's webhook?) and each could be one of the approvers, so only ${Math.max(0, counted.length - unknown)} provably did not push`
            : ''),
      );
    }
  }
  if (reasons.length === 0 && req && mergeSha) {
    const grant = toGrantId(elevation, mergeSha);
    await ctx.emit(
      EVENT_TYPES.approved,
      {
        elevationId: elevation,
        grantId: grant,
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        requester: req.data.requester,
        target: req.data.target,
        scope: req.data.scope,
        tier: req.data.tier,
        ttlSeconds: req.data.ttlSeconds,
        recipient: req.data.recipient,
        breakGlass: req.data.breakGlass,
        approvers: counted,
        contentHash: req.data.contentHash,
        mergeSha,
        policyVersion: req.data.policyVersion,
        requestPath: req.data.requestPath,
      },
      grant,
    );
  } else {
    await ctx.emit(
      EVENT_TYPES.bypassDetected,
      {
        elevationId: elevation,
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        ...(mergeSha && /^[0-9a-f]{7,64}$/.test(mergeSha) ? { mergeSha } : {}),
        reasons: reasons.map((r) => r.slice(0, 2000)),
      },
      `${elevation}:bypass:${mergeSha ?? sourceId}`,
    );
    log.warn({ elevationId: elevation, reasons }, 'merged without verified approvals: bypass detected, nothing issued');
  }
  await announceVerdict(ctx, ev, elevation, { mergedBy: mr.mergedBy?.username, lines });
}

const REVIEW_LABELS = ['jit', 'break-glass', 'post-incident-review'];
const reviewTitlePrefix = (elevation: string) => `Post-incident review: break-glass ${elevation} (`;

/**
 * The post-incident review issue of an approved break-glass merge, created once: a redelivered
 * merge finds the issue an earlier attempt created (by its labels and title) instead of opening another.
 * Only an issue jit itself opened counts: anyone who can file issues in the project knows the
 * elevation id once the MR is open, and a decoy of theirs (closed, unassigned) must not stand in
 * for the review the on-call owe.
 */
async function ensureReviewIssue(ctx: GateContext, ref: MrRef, elevation: string, approved: ElevationApprovedData, req: RequestVersion['data'], mergedBy: string | undefined): Promise<string> {
  const prefix = reviewTitlePrefix(elevation);
  const existing = (await ctx.gitlab.issues.all(ref.projectId, { labels: REVIEW_LABELS })).find((i) => i.authorUsername === ctx.botUsername && i.title?.startsWith(prefix));
  if (existing) return existing.webUrl ?? `issue #${existing.iid}`;
  const onCall = req.eligibleApprovers.filter((u) => u !== ANY_HUMAN);
  const issue = await ctx.gitlab.issues.create(ref.projectId, {
    title: `${prefix}${req.target}/${req.scope})`,
    description: [
      `Break-glass elevation \`${elevation}\` was merged (grant \`${approved.grantId}\`).`,
      `Requester: ${req.requester}. Merged by: ${mergedBy ?? 'unknown'}. Target: ${req.target}/${req.scope} for ${durationText(req.ttlSeconds)}.`,
      `Approvals at merge: ${approved.approvers.join(', ') || 'none (break-glass)'}.`,
      'Review what was done with this access and whether break-glass was warranted.',
    ].join('\n\n'),
    assigneeIds: await ctx.directory.userIds(onCall),
    labels: REVIEW_LABELS,
  });
  return issue.webUrl ?? `issue #${issue.iid}`;
}

/**
 * What follows a merge verdict on the log, in GitLab: the break-glass review issue and the verdict
 * on the MR comment. `fresh` is the merge that has just emitted the verdict; without it (a
 * redelivered merge) the comment is written only if it does not show the verdict yet, so a replay
 * never rewrites the lines judged at merge with the ledger's shorter view.
 */
async function announceVerdict(ctx: GateContext, ref: MrRef, elevation: string, fresh?: { mergedBy: string | undefined; lines: ApprovalLine[] }): Promise<void> {
  const { gitlab } = ctx;
  const e = ctx.ledger.verdict(elevation);
  const req = ctx.ledger.request(elevation)?.data;
  let verdict: CommentView['verdict'];
  if (e?.approved && req) {
    const reviewIssue = req.breakGlass
      ? await ensureReviewIssue(ctx, ref, elevation, e.approved, req, fresh ? fresh.mergedBy : (await gitlab.mergeRequests.show(ref.projectId, ref.mrIid)).mergedBy?.username)
      : undefined;
    verdict = { kind: 'approved', approvers: e.approved.approvers, grantId: e.approved.grantId, ...(reviewIssue ? { reviewIssue } : {}) };
  } else if (e?.bypass) verdict = { kind: 'bypass', reasons: e.bypass.reasons };
  else return; // a policy merge, or decided by a later event only (its own handler answers it)
  const view = await baseView(ctx, ref, elevation);
  if (!fresh) {
    const notes = await gitlab.notes.all(ref.projectId, ref.mrIid);
    const mine = notes.find((n) => !n.system && n.body.startsWith(GATE_MARKER) && n.authorUsername === ctx.botUsername);
    if (mine && mine.body.includes(VERDICT_HEADINGS[verdict.kind])) return;
  }
  const lines = fresh?.lines.length ? fresh.lines : view.approvals;
  await writeComment(ctx, ref, { ...view, ...(lines ? { approvals: lines } : {}), verdict });
}
