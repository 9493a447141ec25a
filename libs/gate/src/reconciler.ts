// Reconciliation with GitLab: GitLab does not retry a webhook that failed because jit was down, so
// at start and then periodically the gate lists the elevations project's open MRs and its recently
// merged and closed ones and, for each one the ledger has not seen at its current head (open), that
// has no merge verdict (merged) or that is still pending (closed), publishes on jit.gitlab.v1 the
// normalized event webhook-ingest would have published. Deterministic ids make repeated runs and late real webhooks harmless; the gate then
// handles the event exactly as a webhook (the merge path re-verifies everything from GitLab's API).
import { CloudEvent } from 'cloudevents';
import { GITLAB_WEBHOOK_EVENT_TYPE, TOPIC_GITLAB, elevationId as toElevationId, gitlabKey, type GitlabWebhookData } from '@jit/contracts';
import type { CloudEventJson, EventBus } from '@jit/bus';
import { JitError, isRetriable } from '@jit/errors';
import type { GitlabClient, MergeRequest, MergeRequestApprovals, Project } from '@jit/gitlab';
import type { Logger, Registry } from '@jit/observability';
import { Counter } from 'prom-client';
import type { Ledger } from '@jit/ledger';
import { GATE_TYPES } from './gate-context';
import { GateInvalidOption, GateReconcileFailed } from './errors';
import { LRUCache } from 'lru-cache';

/** Prefix of the CloudEvent (and delivery) id of every synthesized event: the marker that it did not come from GitLab. */
export const RECONCILE_ID_PREFIX = 'reconcile:';
/** CloudEvent source of synthesized events (webhook-ingest's is `/jit/webhook-ingest`). */
export const RECONCILE_SOURCE = '/jit/approval-gate/reconciler';
/** Margin taken off "since" for clock skew between GitLab and the gate, and for events in flight. */
export const RECONCILE_OVERLAP_MS = 60 * 60 * 1000;
const PER_PAGE = 100;

export type ReconcileAction = 'open' | 'update' | 'reopen' | 'merge' | 'close';

export interface ReconcileSummary {
  /** Open MRs for which an open/update/reopen event was published. */
  opened: number;
  /** Merged MRs for which a merge event was published. */
  merged: number;
  /** Closed MRs (still pending in the ledger) for which a close event was published. */
  closed: number;
  /** Open MRs whose comment was refreshed with approvals given while no webhook arrived. */
  approvals: number;
  /** MRs listed that needed nothing (already handled, or already published by this process). */
  skipped: number;
  /** MRs that could not be looked at (a non-retriable GitLab answer); retried at the next run. */
  failed: number;
  /** Merged and closed MRs were listed from this time (ISO). */
  since: string;
  /** False when a list hit its page limit or an MR failed: the next run keeps the same "since". */
  complete: boolean;
}

export interface ReconcilerOptions {
  bus: EventBus;
  gitlab: GitlabClient;
  ledger: Ledger;
  /** The elevations project (id or path), as the policy store knows it. */
  projectId: number | string;
  logger: Logger;
  registry?: Registry;
  /** Default 5 min; 0 = only the run at start. */
  intervalMs?: number;
  /** Oldest merge looked at, whatever the ledger says. Default 7 days. */
  lookbackMs?: number;
  /** Pages of 100 MRs listed per state. Default 20. */
  maxPages?: number;
  /** Judges and shows on the comment approvals given while no webhook arrived (the gate's). */
  refreshApprovals(projectId: number, iid: number, approvals: MergeRequestApprovals): Promise<void>;
  /** Checks jit's approval rule of an open, requested MR (restored and said on the MR if deleted or edited). */
  checkRule?(projectId: number, iid: number): Promise<void>;
  /** Whether the log holds a verdict (ratified, refused, bypass) for this merged policy MR. */
  policyJudged(iid: number): boolean;
  /** Clock, ms. Default Date.now. */
  now?: () => number;
}

export interface Reconciler {
  /** Runs now, or joins the run in progress. Rejects with JIT_ERR_GATE_RECONCILE_FAILED when GitLab or the bus failed. */
  run(): Promise<ReconcileSummary>;
  /** The run at start (not awaited: webhooks are handled meanwhile), then one every intervalMs. */
  start(): void;
  /** No new run; waits for the one in progress. */
  stop(): Promise<void>;
}

/** The normalized event webhook-ingest would have published for `mr`, with a deterministic id. */
export function synthesizeWebhook(project: Pick<Project, 'id' | 'pathWithNamespace'>, mr: MergeRequest, action: ReconcileAction, receivedAt: string): CloudEventJson {
  const head = mr.sha || null;
  // The head for open MRs, the merge commit for merged ones: one event per version and action.
  const version = action === 'merge' ? (mr.mergeCommitSha ?? mr.squashCommitSha ?? head ?? 'none') : (head ?? 'none');
  const id = `${RECONCILE_ID_PREFIX}${project.id}:${mr.iid}:${version}:${action}`;
  const key = gitlabKey(project.id, mr.iid);
  const author = { id: mr.author.id, username: mr.author.username, name: mr.author.username };
  // GitLab's list says who closed an MR, not who merged it; the gate never reads the actor of a merge.
  const actor = action === 'close' && mr.closedBy ? { id: mr.closedBy.id, username: mr.closedBy.username, name: mr.closedBy.username } : author;
  const data: GitlabWebhookData = {
    kind: 'merge_request',
    action,
    projectId: project.id,
    projectPath: project.pathWithNamespace || String(project.id),
    mrIid: mr.iid,
    mrId: typeof mr.id === 'number' ? mr.id : null,
    mrTitle: mr.title,
    mrState: mr.state,
    sourceBranch: mr.sourceBranch,
    targetBranch: mr.targetBranch,
    headSha: head,
    mergeCommitSha: mr.mergeCommitSha ?? mr.squashCommitSha ?? null,
    authorId: mr.author.id,
    authorUsername: mr.author.username,
    actor,
    labels: [],
    mrCreatedAt: mr.createdAt ?? mr.updatedAt ?? receivedAt,
    mrUpdatedAt: mr.updatedAt ?? receivedAt,
    delivery: { id, receivedAt },
    payload: {},
  };
  const event = new CloudEvent<GitlabWebhookData>({
    id,
    source: RECONCILE_SOURCE,
    type: GITLAB_WEBHOOK_EVENT_TYPE,
    subject: key,
    datacontenttype: 'application/json',
    data,
  });
  return event.toJSON() as unknown as CloudEventJson;
}

function errFields(err: unknown): { code?: string; message: string } {
  return err instanceof JitError ? { code: err.code, message: err.message } : { message: err instanceof Error ? err.message : String(err) };
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { bus, gitlab, ledger } = options;
  const log = options.logger.child({ component: 'gate-reconciler' });
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 5 * 60_000;
  const lookbackMs = options.lookbackMs ?? 7 * 24 * 3600_000;
  const maxPages = options.maxPages ?? 20;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 0) throw GateInvalidOption('reconcileIntervalMs must be a whole number of ms >= 0 (0 = at start only)');
  if (!Number.isSafeInteger(lookbackMs) || lookbackMs <= 0) throw GateInvalidOption('reconcileLookbackMs must be a whole number of ms > 0');
  if (!Number.isSafeInteger(maxPages) || maxPages < 1) throw GateInvalidOption('reconcileMaxPages must be a whole number >= 1');
  const registers = options.registry ? [options.registry] : [];
  const reconciled = new Counter({
    name: 'jit_gate_reconciled_total',
    help: 'MRs looked at by the approval gate reconciliation with GitLab, by what was done (opened, merged, closed, approvals, skipped, failed)',
    labelNames: ['action'],
    registers,
  });
  const runs = new Counter({
    name: 'jit_gate_reconcile_runs_total',
    help: 'Reconciliation runs of the approval gate with GitLab, by outcome (ok, partial, failed)',
    labelNames: ['outcome'],
    registers,
  });
  /** Ids published by this process: a run never publishes the same event twice. */
  const published = new LRUCache<string, true>({ max: 10_000 });
  /** Approval sets already shown on a comment (elevation, head, approvers). */
  const shown = new LRUCache<string, true>({ max: 10_000 });
  let lastSuccess: number | undefined;
  let inFlight: Promise<ReconcileSummary> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function sinceMs(startedAt: number): number {
    const floor = startedAt - lookbackMs;
    // After a successful run, its start; at process start, the newest event the gate emitted in
    // answer to GitLab — both minus an overlap for clock skew.
    const newest = ledger.newestAt(GATE_TYPES);
    const known = lastSuccess ?? (newest ? Date.parse(newest) : undefined);
    // A gate that never answered GitLab (a new install, an empty log) judges only the last
    // overlap's merges: it must not grant old merged requests nor flag the repo's history as bypasses.
    return Math.max(floor, (known ?? startedAt) - RECONCILE_OVERLAP_MS);
  }

  async function publishOnce(project: Project, mr: MergeRequest, action: ReconcileAction): Promise<boolean> {
    const event = synthesizeWebhook(project, mr, action, new Date(now()).toISOString());
    if (published.has(event.id)) return false;
    await bus.publish(TOPIC_GITLAB, gitlabKey(project.id, mr.iid), event);
    published.set(event.id, true);
    log.info({ projectId: project.id, mrIid: mr.iid, action, eventId: event.id }, 'missed webhook synthesized from GitLab state');
    return true;
  }

  type Outcome = 'opened' | 'merged' | 'closed' | 'approvals' | 'skipped';

  async function onOpen(project: Project, mr: MergeRequest): Promise<Outcome> {
    const elevation = toElevationId(project.id, mr.iid);
    const e = ledger.get(elevation);
    if (ledger.isDecided(elevation)) return 'skipped';
    const known = ledger.request(elevation)?.data.headSha ?? ledger.rejection(elevation)?.headSha;
    const action: ReconcileAction | undefined = !e ? 'open' : ledger.phase(elevation) === 'withdrawn' ? 'reopen' : known !== mr.sha ? 'update' : undefined;
    if (action) return (await publishOnce(project, mr, action)) ? 'opened' : 'skipped';
    if (ledger.phase(elevation) !== 'pending') return 'skipped';
    // No webhook tells of a deleted or edited approval rule: look at it on every run.
    await options.checkRule?.(project.id, mr.iid);
    const approvals = await gitlab.mergeRequests.approvals(project.id, mr.iid);
    const atGitlab = [...new Set(approvals.approvedBy.map((a) => a.username.toLowerCase()))].sort();
    const recorded = [...ledger.approvalsSinceLastChange(elevation)]
      .filter(([, a]) => a.action === 'approved')
      .map(([name]) => name)
      .sort();
    if (atGitlab.join(',') === recorded.join(',')) return 'skipped';
    const fingerprint = `${elevation}:${mr.sha}:${atGitlab.join(',')}`;
    if (shown.has(fingerprint)) return 'skipped';
    await options.refreshApprovals(project.id, mr.iid, approvals);
    shown.set(fingerprint, true);
    return 'approvals';
  }

  async function onMerged(project: Project, mr: MergeRequest): Promise<Outcome> {
    const elevation = toElevationId(project.id, mr.iid);
    if (ledger.isDecided(elevation)) return 'skipped';
    // A policy change merged while no webhook arrived is judged like any merge, from GitLab's API
    // state, against the policy in force (the last ratified: a missed merge never put its own
    // version in force). One the log already judged (ratified, refused, bypass) is left alone.
    if (!ledger.get(elevation) && options.policyJudged(mr.iid)) return 'skipped';
    return (await publishOnce(project, mr, 'merge')) ? 'merged' : 'skipped';
  }

  async function onClosed(project: Project, mr: MergeRequest): Promise<Outcome> {
    // Only what the ledger still holds as pending: a closed MR must not stay a live request.
    const e = ledger.get(toElevationId(project.id, mr.iid));
    if (!e || ledger.isDecided(e.id) || ledger.phase(e.id) === 'withdrawn') return 'skipped';
    return (await publishOnce(project, mr, 'close')) ? 'closed' : 'skipped';
  }

  async function runNow(): Promise<ReconcileSummary> {
    const startedAt = now();
    const since = sinceMs(startedAt);
    const summary: ReconcileSummary = { opened: 0, merged: 0, closed: 0, approvals: 0, skipped: 0, failed: 0, since: new Date(since).toISOString(), complete: true };
    try {
      const project = await gitlab.projects.show(options.projectId);
      const list = { orderBy: 'updated_at' as const, sort: 'desc' as const, perPage: PER_PAGE, maxPages };
      const open = await gitlab.mergeRequests.all(project.id, { ...list, state: 'opened' });
      const merged = await gitlab.mergeRequests.all(project.id, { ...list, state: 'merged', updatedAfter: summary.since });
      const closed = await gitlab.mergeRequests.all(project.id, { ...list, state: 'closed', updatedAfter: summary.since });
      for (const [name, rows] of [
        ['opened', open],
        ['merged', merged],
        ['closed', closed],
      ] as const) {
        if (rows.length >= PER_PAGE * maxPages) {
          summary.complete = false;
          log.warn({ state: name, listed: rows.length }, 'more MRs than the reconciliation lists: the oldest were not looked at — raise reconcileMaxPages');
        }
      }
      // Oldest first, as the webhooks would have come.
      const work: Array<[MergeRequest, (p: Project, m: MergeRequest) => Promise<Outcome>]> = [
        ...[...open].reverse().map((m) => [m, onOpen] as [MergeRequest, typeof onOpen]),
        ...[...merged].reverse().map((m) => [m, onMerged] as [MergeRequest, typeof onMerged]),
        ...[...closed].reverse().map((m) => [m, onClosed] as [MergeRequest, typeof onClosed]),
      ];
      for (const [mr, step] of work) {
        if (stopped) {
          summary.complete = false;
          break;
        }
        try {
          const outcome = await step(project, mr);
          summary[outcome] += 1;
          reconciled.inc({ action: outcome });
        } catch (err) {
          // GitLab or the bus down: stop here, the next run starts over. One MR GitLab refuses
          // (deleted meanwhile, a bad answer) must not hold the others back.
          if (isRetriable(err)) throw err;
          summary.failed += 1;
          summary.complete = false;
          reconciled.inc({ action: 'failed' });
          log.warn({ projectId: project.id, mrIid: mr.iid, err: errFields(err) }, 'reconciliation of one MR failed; retried at the next run');
        }
      }
    } catch (err) {
      runs.inc({ outcome: 'failed' });
      throw GateReconcileFailed(errFields(err).code ?? (err instanceof Error ? err.name : 'error'), { cause: err, details: { ...summary } });
    }
    if (summary.complete) lastSuccess = startedAt;
    runs.inc({ outcome: summary.complete ? 'ok' : 'partial' });
    log.info({ ...summary, durationMs: now() - startedAt }, 'reconciled');
    return summary;
  }

  function run(): Promise<ReconcileSummary> {
    if (!inFlight) {
      inFlight = runNow().finally(() => {
        inFlight = undefined;
      });
    }
    return inFlight;
  }

  function schedule(delayMs: number): void {
    timer = setTimeout(() => {
      timer = undefined;
      void tick();
    }, delayMs);
    timer.unref();
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    try {
      await run();
    } catch (err) {
      const cause = err instanceof JitError && err.cause !== undefined ? errFields(err.cause) : errFields(err);
      log.error(
        { err: errFields(err), cause, nextInMs: intervalMs > 0 ? intervalMs : undefined },
        intervalMs > 0 ? 'reconciliation with GitLab failed; retried at the next interval' : 'reconciliation with GitLab failed (reconcileIntervalMs = 0: not retried)',
      );
    }
    if (!stopped && intervalMs > 0) schedule(intervalMs);
  }

  return {
    run,
    start() {
      stopped = false;
      void tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight?.catch(() => undefined);
    },
  };
}
