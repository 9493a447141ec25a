// Policy trust, the gate's half (DESIGN.md §3 "Policy trust"): the gate is the one writer of the
// policy events. A merged policy-only MR is verified from GitLab's API state and recorded as
// policy.ratified or policy.refused; a mixed MR, a direct push or a force-push that changes
// policy.yaml on the default branch is recorded as policy.bypass.detected. The policy store puts
// only ratified versions in force, so what is on the default branch never decides anything alone.
import { EVENT_TYPES, type ElevationEventType, type EventDataByType, type GitlabWebhookData } from '@jit/contracts';
import { JitError } from '@jit/errors';
import { GitlabNotFound, isApprovalRulesUnsupported, type GitlabClient, type GitlabUser, type MergeRequest } from '@jit/gitlab';
import type { Logger, Registry } from '@jit/observability';
import { PolicyMissing, resolveApprovers, type GroupResolver, type LoadedPolicy, type PolicyProblem, type PolicyStatus, type PolicyStore } from '@jit/policy';
import { LRUCache } from 'lru-cache';
import { countPolicyApprovals } from './policy-approvals';
import { createRatifierMetrics } from './policy-ratifier-metrics';
import type { CommentView } from './render-comment';

type MrRef = Pick<GitlabWebhookData, 'projectId' | 'mrIid'>;

/** What an MR changes, as the gate classifies it. */
export interface PolicyMrChanges {
  policy: boolean;
  /** Anything else (requests, deletions, other files). */
  otherPaths: string[];
}

export interface PolicyRatifierOptions {
  gitlab: GitlabClient;
  policyStore: PolicyStore;
  logger: Logger;
  registry?: Registry;
  botUsername: string;
  resolveGroup: GroupResolver;
  /** The gate's emit (publishes, applies to its read models). */
  emit<T extends ElevationEventType>(type: T, data: EventDataByType[T], idKey: string, severity?: 'info' | 'high'): Promise<void>;
  comment(ref: MrRef, view: CommentView): Promise<void>;
  status(ref: Pick<MrRef, 'projectId'>, sha: string, state: 'success' | 'failed', description: string): Promise<void>;
  userIds(usernames: string[]): Promise<number[]>;
  userById(id: number): Promise<GitlabUser | undefined>;
  /** The gate's rule for "this user pushed to / committed on the MR" (never counts). */
  isCommitter(ref: MrRef, user: GitlabUser): Promise<boolean>;
  changes(ref: MrRef): Promise<PolicyMrChanges>;
  /** The gate's per-MR lock (the same one webhooks take). */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  lockKey(ref: MrRef): string;
  /** Merged MRs listed when the default branch holds a version nobody explained yet. Default 100. */
  scanDepth?: number;
}

export interface PolicyRatifier {
  /** A policy-only MR opened or updated: approval rule, status and comment. */
  onPolicyChange(ev: MrRef, headSha: string): Promise<void>;
  /** A policy-only MR merged: verified and recorded as ratified or refused. */
  onPolicyMerge(ev: MrRef, mr: MergeRequest): Promise<void>;
  /** A merged MR that changed policy.yaml along with other files: a policy bypass. */
  onMixedMerge(ev: MrRef, mr: MergeRequest, others: string[]): Promise<void>;
  /**
   * Refreshes the policy store; records the operator's pin on an empty log; explains a version on
   * the default branch that is not in force (judging missed policy merges first) or reports it.
   */
  refresh(): Promise<PolicyStatus>;
  /** Whether the log already holds a verdict for this merged MR (the reconciler skips it). */
  judged(iid: number): boolean;
}

export function createPolicyRatifier(options: PolicyRatifierOptions): PolicyRatifier {
  const { gitlab, policyStore, botUsername, emit } = options;
  const log = options.logger.child({ component: 'policy-ratifier' });
  const { refused, bypasses, unratified, noPolicy } = createRatifierMetrics(options.registry);
  /** Merged MRs already looked at by the scan that touch no policy (so they are not fetched again). */
  const notPolicy = new LRUCache<string, true>({ max: 10_000 });
  let refreshing: Promise<PolicyStatus> | undefined;

  /** policy.yaml is gone from the default branch while a ratified version is in force. */
  const absent = (st: PolicyStatus) => st.version !== undefined && st.latestVersion === undefined && st.error?.code === PolicyMissing.code;
  /** In-force versions whose deletion from the default branch this process already reported. */
  const absenceReported = new Set<string>();

  function gauges(st: PolicyStatus): PolicyStatus {
    unratified.set(st.unratified || absent(st) ? 1 : 0);
    noPolicy.set(policyStore.peek() ? 0 : 1);
    return st;
  }

  /** The store re-read without the scan: what a handler holding an MR lock may call (the scan takes MR locks). */
  async function reload(): Promise<PolicyStatus> {
    return gauges(await policyStore.refresh());
  }

  async function policyNow(): Promise<LoadedPolicy> {
    if (!policyStore.peek()) await policyStore.refresh();
    return policyStore.current();
  }

  async function approversOf(before: LoadedPolicy) {
    const p = before.policy;
    const spec = { anyHuman: false, groups: p.policyApprovers.groups, users: p.policyApprovers.users };
    const resolved = await resolveApprovers(spec, options.resolveGroup, { agents: p.agents, others: [botUsername] });
    return { spec, resolved };
  }

  async function fileAt(ref: string) {
    try {
      return await gitlab.files.show(policyStore.projectId, policyStore.path, ref);
    } catch (err) {
      if (GitlabNotFound.is(err)) return undefined;
      throw err;
    }
  }

  async function onPolicyChange(ev: MrRef, headSha: string): Promise<void> {
    const current = (await policyNow()).policy;
    let problems: PolicyProblem[] = [];
    try {
      await policyStore.atRef(headSha);
    } catch (err) {
      if (!(err instanceof JitError) || err.retriable) throw err;
      problems = (err.details?.problems as PolicyProblem[] | undefined) ?? [{ path: '(document)', message: err.message }];
    }
    const { resolved } = await approversOf(await policyNow());
    const rules = await gitlab.approvalRules.all(ev.projectId, ev.mrIid);
    if (!isApprovalRulesUnsupported(rules)) {
      const ids = await options.userIds(resolved.usernames);
      const wanted = { name: 'jit:policy', approvalsRequired: current.policyApprovers.approvals, userIds: ids };
      const ours = rules.find((r) => r.name.startsWith('jit:'));
      if (!ours) await gitlab.approvalRules.create(ev.projectId, ev.mrIid, wanted);
      else if (ours.name !== wanted.name || ours.approvalsRequired !== wanted.approvalsRequired) {
        await gitlab.approvalRules.edit(ev.projectId, ev.mrIid, ours.id, wanted);
      }
    }
    await options.status(ev, headSha, problems.length ? 'failed' : 'success', problems.length ? 'the new policy.yaml is invalid' : 'policy change: needs policyApprovers');
    await options.comment(ev, {
      elevationId: options.lockKey(ev),
      policyChange: { approvals: current.policyApprovers.approvals, approvers: resolved.usernames, problems },
    });
  }

  /**
   * Verification of a merged policy-only MR, from GitLab's API state alone: merged into the default
   * branch; policy.yaml at the merge commit is the content at the approved head and validates; enough
   * distinct eligible policyApprovers (of the policy in force before it) approved after the MR's last
   * commit — never the author, an agent, a bot or anyone who committed to it.
   */
  async function onPolicyMerge(ev: MrRef, mr: MergeRequest): Promise<void> {
    if (policyStore.trust.verdictOf(ev.mrIid)) {
      log.info({ mrIid: ev.mrIid, verdict: policyStore.trust.verdictOf(ev.mrIid) }, 'policy merge already judged; replay ignored');
      return;
    }
    const project = await gitlab.projects.show(ev.projectId);
    const before = await policyNow();
    const { spec, resolved } = await approversOf(before);
    const required = before.policy.policyApprovers.approvals;
    const view = (extra: Partial<CommentView>): CommentView => ({
      elevationId: options.lockKey(ev),
      policyChange: { approvals: required, approvers: resolved.usernames, problems: [] },
      ...extra,
    });
    if (mr.targetBranch !== project.defaultBranch) {
      // policy.yaml on another branch is in force nowhere; nothing to ratify or refuse.
      log.info({ mrIid: ev.mrIid, targetBranch: mr.targetBranch }, 'policy change merged into a non-default branch; the policy in force is unchanged');
      await options.comment(ev, view({ revokeNote: `Merged into ${mr.targetBranch}, not the default branch ${project.defaultBranch}: the policy in force is unchanged.` }));
      return;
    }
    const mergeSha = mr.mergeCommitSha ?? mr.squashCommitSha ?? undefined;
    const reasons: string[] = [];
    const atMerge = mergeSha ? await fileAt(mergeSha) : undefined;
    if (!mergeSha) reasons.push('GitLab reports no merge commit for this MR');
    else if (!atMerge) reasons.push(`${policyStore.path} does not exist at the merge commit`);
    const atHead = mr.sha ? await fileAt(mr.sha) : undefined;
    if (atMerge && (!atHead || atHead.blobId !== atMerge.blobId)) {
      reasons.push(`${policyStore.path} at the merge commit is not the content at the MR's head, which is what the approvers saw`);
    }
    if (atMerge) {
      // Only what the default branch holds can come into force: an older merge judged late (after a
      // newer policy merge) must not roll the policy back.
      const now = await fileAt(project.defaultBranch);
      if (!now || now.blobId !== atMerge.blobId) {
        reasons.push(`${policyStore.path} on the default branch is no longer this version (now ${now?.blobId ?? 'absent'}); it was superseded before jit could judge it`);
      }
    }
    if (atMerge && mergeSha) {
      try {
        await policyStore.atRef(mergeSha);
      } catch (err) {
        if (!(err instanceof JitError) || err.retriable) throw err;
        reasons.push(`the merged ${policyStore.path} is invalid: ${err.message.slice(0, 1000)}`);
      }
    }
    const {
      counted,
      lines,
      reasons: approvalReasons,
    } = await countPolicyApprovals({
      gitlab,
      ref: ev,
      mr,
      spec,
      resolved,
      required,
      agents: before.policy.agents,
      botUsername,
      userById: options.userById,
      isCommitter: options.isCommitter,
    });
    reasons.push(...approvalReasons);
    const idBase = `policy:${ev.projectId}:${ev.mrIid}:${mergeSha ?? mr.sha}`;
    if (reasons.length === 0 && atMerge && mergeSha) {
      await emit(
        EVENT_TYPES.policyRatified,
        {
          projectId: ev.projectId,
          version: atMerge.blobId,
          path: policyStore.path,
          commitSha: mergeSha,
          how: 'merge',
          mrIid: ev.mrIid,
          approvers: counted,
          ...(mr.mergedBy?.username ? { mergedBy: mr.mergedBy.username } : {}),
          previousVersion: before.version,
          ratifiedAt: new Date().toISOString(),
        },
        `${idBase}:ratified`,
      );
      const st = await reload();
      log.info({ mrIid: ev.mrIid, version: atMerge.blobId, approvers: counted }, 'policy change ratified; now in force');
      await options.comment(
        ev,
        view({
          approvals: lines,
          revokeNote: `Ratified: approved by ${counted.join(', ')}; version ${atMerge.blobId.slice(0, 12)} is in force${st.version === atMerge.blobId ? '' : ' once readable'}.`,
        }),
      );
      return;
    }
    await emit(
      EVENT_TYPES.policyRefused,
      {
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        ...(atMerge ? { version: atMerge.blobId } : {}),
        ...(mergeSha ? { mergeSha } : {}),
        reasons: reasons.map((r) => r.slice(0, 2000)),
        inForce: before.version,
      },
      `${idBase}:refused`,
    );
    refused.inc();
    log.error({ mrIid: ev.mrIid, reasons, inForce: before.version }, 'policy change merged without passing verification: version refused, the previous policy stays in force');
    await reload();
    await options.comment(ev, view({ approvals: lines, verdict: { kind: 'bypass', reasons: [...reasons, `jit refuses this policy version; version ${before.version.slice(0, 12)} stays in force`] } }));
  }

  async function onMixedMerge(ev: MrRef, mr: MergeRequest, others: string[]): Promise<void> {
    if (policyStore.trust.verdictOf(ev.mrIid)) return;
    const project = await gitlab.projects.show(ev.projectId);
    if (mr.targetBranch !== project.defaultBranch) return;
    const mergeSha = mr.mergeCommitSha ?? mr.squashCommitSha ?? undefined;
    const atMerge = mergeSha ? await fileAt(mergeSha) : undefined;
    const inForce = policyStore.peek()?.version;
    await emit(
      EVENT_TYPES.policyBypassDetected,
      {
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        ...(atMerge ? { version: atMerge.blobId } : {}),
        ...(mergeSha ? { commitSha: mergeSha } : {}),
        reasons: [`MR !${ev.mrIid} changed ${policyStore.path} together with other files (${others.slice(0, 10).join(', ')}); a policy change must be its own MR approved by the policyApprovers`],
        ...(inForce ? { inForce } : {}),
      },
      `policy:${ev.projectId}:${ev.mrIid}:${mergeSha ?? mr.sha}:bypass`,
    );
    bypasses.inc({ how: 'mixed_mr' });
    log.error({ mrIid: ev.mrIid, inForce }, 'policy.yaml changed by a mixed MR: never adopted, reported as a policy bypass');
  }

  /** Merged MRs into the default branch that no verdict covers yet and that touch policy.yaml: judged now. */
  async function judgeMissedMerges(defaultBranch: string): Promise<void> {
    const merged = await gitlab.mergeRequests.all(policyStore.projectId, {
      state: 'merged',
      orderBy: 'updated_at',
      sort: 'desc',
      perPage: Math.min(100, options.scanDepth ?? 100),
      maxPages: 1,
    });
    for (const mr of [...merged].reverse()) {
      if (mr.targetBranch !== defaultBranch || policyStore.trust.verdictOf(mr.iid)) continue;
      const key = `${mr.iid}:${mr.mergeCommitSha ?? mr.squashCommitSha ?? mr.sha}`;
      if (notPolicy.has(key)) continue;
      const ref = { projectId: mr.projectId, mrIid: mr.iid };
      const c = await options.changes(ref);
      if (!c.policy) {
        notPolicy.set(key, true);
        continue;
      }
      await options.withLock(options.lockKey(ref), async () => {
        if (policyStore.trust.verdictOf(mr.iid)) return;
        if (c.otherPaths.length > 0) await onMixedMerge(ref, mr, c.otherPaths);
        else await onPolicyMerge(ref, mr);
      });
    }
  }

  async function refreshNow(): Promise<PolicyStatus> {
    let st = await policyStore.refresh();
    if (!policyStore.trust.current() && st.ratified?.how === 'pin' && st.version) {
      // The operator's pin roots an empty log: record it, so every replica agrees without the pin.
      await emit(
        EVENT_TYPES.policyRatified,
        {
          projectId: Number(policyStore.projectId),
          version: st.version,
          path: policyStore.path,
          commitSha: st.ratified.commitSha,
          how: 'pin',
          approvers: [],
          ratifiedAt: new Date().toISOString(),
        },
        `policy:${policyStore.projectId}:pin:${st.version}`,
      );
      log.warn({ version: st.version, commit: st.ratified.commitSha }, 'first policy trusted by the operator pin (JIT_POLICY_PIN) and recorded on the log as ratified');
      st = await policyStore.refresh();
    }
    const drift = st.unratified;
    if (drift && !policyStore.trust.reported(drift.version)) {
      // Explain it first: a policy MR whose merge we have not judged (a missed or in-flight webhook).
      const project = await gitlab.projects.show(policyStore.projectId);
      await judgeMissedMerges(project.defaultBranch);
      st = await policyStore.refresh();
      const still = st.unratified;
      if (still && !policyStore.trust.reported(still.version)) {
        await emit(
          EVENT_TYPES.policyBypassDetected,
          {
            projectId: Number(policyStore.projectId),
            version: still.version,
            commitSha: still.lastCommitId,
            reasons: [
              `${policyStore.path} on the default branch (commit ${still.lastCommitId}) is version ${still.version}, which no verified policy merge ratified (a direct push, a force-push or a merge jit cannot trace to a policy-change MR); version ${st.version ?? '(none)'} stays in force`,
            ],
            ...(st.version ? { inForce: st.version } : {}),
          },
          `policy:${policyStore.projectId}:bypass:${still.version}:${still.lastCommitId}`,
        );
        bypasses.inc({ how: 'push' });
        log.error(
          { version: still.version, commit: still.lastCommitId, inForce: st.version },
          'policy.yaml on the default branch changed outside a policy-change MR: never adopted, reported as a policy bypass',
        );
      }
    }
    if (absent(st) && st.version && !absenceReported.has(st.version)) {
      // Deleted by a direct push (a policy MR that deletes it is refused at its merge): never adopted
      // either way, and said like any other change outside a policy-change MR.
      absenceReported.add(st.version);
      await emit(
        EVENT_TYPES.policyBypassDetected,
        {
          projectId: Number(policyStore.projectId),
          reasons: [`${policyStore.path} is missing from the default branch (deleted or moved outside a policy-change MR); version ${st.version} stays in force`],
          inForce: st.version,
        },
        `policy:${policyStore.projectId}:bypass:absent:${st.version}`,
      );
      bypasses.inc({ how: 'push' });
      log.error({ inForce: st.version }, 'policy.yaml is missing from the default branch: never adopted, reported as a policy bypass');
    }
    return gauges(st);
  }

  function refresh(): Promise<PolicyStatus> {
    // One at a time: the timer, a merge and start() may ask together.
    if (!refreshing) {
      refreshing = refreshNow().finally(() => {
        refreshing = undefined;
      });
    }
    return refreshing;
  }

  return {
    onPolicyChange,
    onPolicyMerge,
    onMixedMerge,
    refresh,
    judged: (iid) => policyStore.trust.verdictOf(iid) !== undefined,
  };
}
