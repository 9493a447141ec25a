// MR opened, updated or reopened: the request judged under the policy in force and recorded
// (elevation.requested or elevation.rejected) before GitLab is told anything (rule, settings,
// status, comment). A policy-only MR is the ratifier's.
import { EVENT_TYPES, elevationId as toElevationId } from '@jit/contracts';
import { recipientOwners, type AccessPlan, type PolicyProblem } from '@jit/policy';
import { baseView, durationText, writeComment } from '../comment-view';
import { ensureJitRule, hardenSettings, ruleName, setStatus } from '../enforcement';
import { ANY_HUMAN, type GateContext, type MrEvent } from '../gate-context';
import { isPolicyOnly, mrChanges, structureProblems } from '../mr-changes';
import { judgeRequest, sha256, shownProblems } from '../request-evaluation';

export async function onOpenOrUpdate(ctx: GateContext, ev: MrEvent, sourceId: string): Promise<void> {
  const { gitlab, ledger, log } = ctx;
  const elevation = toElevationId(ev.projectId, ev.mrIid);
  if (ledger.isDecided(elevation)) {
    log.info({ elevationId: elevation }, 'MR already decided at merge; update ignored');
    return;
  }
  const mr = await gitlab.mergeRequests.show(ev.projectId, ev.mrIid);
  if (mr.state !== 'opened') {
    log.info({ elevationId: elevation, state: mr.state }, 'MR is not open any more; out-of-order update ignored');
    return;
  }
  const author = mr.author.username;
  const c = await mrChanges(gitlab, ctx.layout, ev);
  if (isPolicyOnly(c)) {
    await ctx.ratifier.onPolicyChange(ev, mr.sha);
    return;
  }
  let problems = structureProblems(c, ctx.layout);
  const requestPath = c.requestPaths[0];
  let bytes: Uint8Array | undefined;
  if (problems.length === 0 && requestPath) {
    const file = await gitlab.files.show(ev.projectId, requestPath, mr.sha);
    bytes = file.content;
    if (file.size > ctx.maxRequestBytes || bytes.byteLength > ctx.maxRequestBytes) {
      problems = [{ path: '(document)', message: `request file is ${Math.max(file.size, bytes.byteLength)} bytes; the limit is ${ctx.maxRequestBytes} bytes — a request is a few lines of YAML` }];
    }
  }
  const policyLoaded = await ctx.policyNow();
  const policy = policyLoaded.policy;
  let plan: AccessPlan | undefined;
  let eligible: string[] = [];
  if (problems.length === 0 && bytes) {
    const judged = await judgeRequest(
      {
        parseRequest: ctx.parseRequest,
        resolveGroup: ctx.resolveGroup,
        botUsername: ctx.botUsername,
        requesterIsBot: async () => {
          const who = await ctx.directory.userById(mr.author.id);
          return !who || who.bot;
        },
      },
      bytes,
      author,
      policy,
    );
    ({ problems, plan, eligible } = judged);
  }

  if (problems.length > 0 || !plan || !bytes || !requestPath) {
    await reject(ctx, ev, elevation, mr.sha, author, problems, sourceId);
    return;
  }

  const contentHash = sha256(bytes);
  const eligibleApprovers = plan.approvers.anyHuman ? [ANY_HUMAN, ...eligible] : eligible;
  // the phase by log order (ledger.phase): gate replicas' clocks may disagree with it
  const prevState = ledger.phase(elevation);
  const prevPending = prevState === 'pending';
  const prevReq = ledger.request(elevation)?.data;
  const wanted = {
    name: ruleName(plan),
    approvalsRequired: plan.requiredApprovals,
    userIds: plan.approvers.anyHuman ? [] : await ctx.directory.userIds(eligible),
  };
  // Drift only if jit had already set this very rule (same name, count and approvers) for the MR:
  // judged on the ledger as it was before this request is recorded.
  const known =
    prevReq !== undefined &&
    prevPending &&
    ruleName(prevReq) === wanted.name &&
    prevReq.requiredApprovals === wanted.approvalsRequired &&
    prevReq.eligibleApprovers.join(',') === eligibleApprovers.join(',');
  const unchanged =
    prevPending &&
    prevReq?.contentHash === contentHash &&
    prevReq.policyVersion === policyLoaded.version &&
    prevReq.requiredApprovals === plan.requiredApprovals &&
    prevReq.eligibleApprovers.join(',') === eligibleApprovers.join(',');
  // The decision first: recorded before GitLab is told anything (approval-gate.ts's header).
  if (!unchanged) {
    await ctx.emit(
      EVENT_TYPES.requested,
      {
        elevationId: elevation,
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        ...(mr.webUrl && /^https?:\/\//.test(mr.webUrl) ? { mrUrl: mr.webUrl } : {}),
        requester: author,
        target: plan.target,
        scope: plan.scope,
        tier: plan.tier,
        declaredTier: plan.declaredTier,
        ttlSeconds: plan.ttlSeconds,
        justification: plan.justification,
        ...(plan.rollbackPlan ? { rollbackPlan: plan.rollbackPlan } : {}),
        recipient: plan.recipient,
        breakGlass: plan.breakGlass,
        contentHash,
        requestPath,
        headSha: mr.sha,
        policyVersion: policyLoaded.version,
        requiredApprovals: plan.requiredApprovals,
        eligibleApprovers,
      },
      // A reopened MR is requested again even at the same version: its earlier `requested` is spent.
      `${elevation}:requested:${mr.sha}:${contentHash}:${policyLoaded.version}${prevState === 'withdrawn' ? `:reopened:${sourceId}` : ''}`,
    );
  }
  // GitLab side: one approval rule, hardened settings, the status, the comment.
  const ruleState = await ensureJitRule(ctx, ev, wanted, known);
  let free = ruleState.free;
  let drift: string[] = [...ruleState.drift];
  if (!free) {
    const settings = await hardenSettings(ctx, ev.projectId);
    free = settings.free;
    drift.push(...settings.drift);
  }
  if (free) drift = [];
  if (free) ctx.freeProjects.add(ev.projectId);
  else ctx.freeProjects.delete(ev.projectId);
  await setStatus(ctx, ev, mr.sha, 'success', `${plan.tier}: ${plan.requiredApprovals} approval(s), ${durationText(plan.ttlSeconds)}`);
  const view = await baseView(ctx, ev, elevation);
  await writeComment(ctx, ev, { ...view, plan, recipientOwners: recipientOwners(policy, plan.recipient), free, settingsDrift: drift });
}

/** elevation.rejected (once per head and problem list), then the failed status and the comment listing every problem. */
async function reject(ctx: GateContext, ev: MrEvent, elevation: string, headSha: string, requester: string, problems: PolicyProblem[], sourceId: string): Promise<void> {
  const list = shownProblems(problems);
  const fingerprint = sha256(new TextEncoder().encode(JSON.stringify(list)));
  const same = ctx.ledger.phase(elevation) === 'rejected' && ctx.ledger.rejection(elevation)?.headSha === headSha;
  if (!same) {
    await ctx.emit(
      EVENT_TYPES.rejected,
      {
        elevationId: elevation,
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        requester,
        headSha,
        problems: list.map((p) => ({
          path: p.path.slice(0, 512),
          message: p.message.slice(0, 2000),
          ...(p.line ? { line: p.line } : {}),
          ...(p.column ? { column: p.column } : {}),
        })),
      },
      `${elevation}:rejected:${headSha}:${fingerprint}`,
    );
  }
  ctx.log.info({ elevationId: elevation, problems: list.length, source: sourceId }, 'request rejected');
  await setStatus(ctx, ev, headSha, 'failed', `${list.length} problem(s): see the jit comment`);
  await writeComment(ctx, ev, { elevationId: elevation, problems: list, headSha });
}
