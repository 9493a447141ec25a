// The approval gate: consumes normalized GitLab webhooks (jit.gitlab.v1), validates elevation
// requests against the policy, drives GitLab (approval rule, settings, status, one comment) and,
// at merge, verifies on its own — from GitLab's API state and its ledger, never from the webhook —
// before emitting elevation.approved. Every step is idempotent; GitLab outages are retried by the bus.
// This file dispatches each event to its handler (handlers/), starts and stops; README.md says
// which file owns what.
//
// Order of side effects: the event that records a decision (requested, rejected, approval.recorded,
// approved, bypass.detected) is emitted before any GitLab write that follows from it (approval rule,
// status, comment, review issue). GitLab then only ever shows what the log already holds, and a crash
// between the two is repaired by the redelivery, which skips the emit (the ledger knows it) and applies
// the GitLab side effects again, each idempotent against GitLab's answer to a repeat. The reverse order
// lost decisions: a green status set before `requested` was emitted let an approved MR merge while the
// gate was down, and with no validated request on record it was reported as a bypass.
import {
  EVENT_TYPES,
  GITLAB_PUSH_EVENT_TYPE,
  GITLAB_WEBHOOK_EVENT_TYPE,
  GitlabPushDataSchema,
  GitlabWebhookDataSchema,
  REQUEST_YAML_LIMITS,
  TOPIC_ELEVATIONS,
  TOPIC_GITLAB,
  describeRefusal,
  elevationId as toElevationId,
  type EventVerifier,
} from '@jit/contracts';
import { followLog, type BusMessage, type CloudEventJson, type EventBus, type LogFollower } from '@jit/bus';
import { JitError, retryRetriable } from '@jit/errors';
import { createLedger, type Ledger } from '@jit/ledger';
import type { GitlabClient } from '@jit/gitlab';
import { refusedEventsCounter, type Logger, type Registry } from '@jit/observability';
import type { GroupResolver, PolicyStatus, PolicyStore } from '@jit/policy';
import { LRUCache } from 'lru-cache';
import { pushedOrAuthored, pushFacts } from './approval-judgement';
import { writeComment } from './comment-view';
import { setStatus } from './enforcement';
import { GateMalformedEvent, GateNotStarted } from './errors';
import { GATE_GROUP_ID, GATE_TYPES, createEmit, createGateMetrics, createKeyedLock, type GateContext, type MrEvent } from './gate-context';
import { createGitlabDirectory } from './gitlab-directory';
import { createGroupResolver } from './group-resolver';
import { onApproval, recheckRule, refreshApprovals } from './handlers/on-approval';
import { onClose } from './handlers/on-close';
import { onMerge } from './handlers/on-merge';
import { onOpenOrUpdate } from './handlers/on-open-update';
import { onPush } from './handlers/on-push';
import { onRevokeCommand } from './handlers/on-revoke-command';
import { mrChanges, nonPolicyPaths } from './mr-changes';
import { createPolicyRatifier } from './policy-ratifier';
import { createReconciler, type ReconcileSummary } from './reconciler';
import { contractsRequestParser, type RequestParser } from './request-evaluation';

export { ANY_HUMAN, GATE_GROUP_ID, STATUS_NAME } from './gate-context';
export { alreadyInState } from './enforcement';
export { contractsRequestParser } from './request-evaluation';
export type { RequestParser, RequestParseResult } from './request-evaluation';

/** The event types only a gate emits (the issuer's and the revoker's are theirs to check). */
const GATE_EMITTED: ReadonlySet<string> = new Set([
  ...GATE_TYPES,
  EVENT_TYPES.revokeRequested,
  EVENT_TYPES.pushRecorded,
  EVENT_TYPES.policyRatified,
  EVENT_TYPES.policyRefused,
  EVENT_TYPES.policyBypassDetected,
]);

export interface GateOptions {
  bus: EventBus;
  gitlab: GitlabClient;
  policyStore: PolicyStore;
  /** The gate's read model; default a fresh ledger rebuilt from jit.elevations.v1 at start. */
  ledger?: Ledger;
  /**
   * The gate keys (its own, and other replicas'): an event of a type only a gate emits (a validated
   * request, an approval, a push record, a policy verdict, …) read from jit.elevations.v1 is taken
   * into the ledger and the policy fold only when one of them signed it. Without it every event is
   * taken, and anyone able to write to the bus could, say, lower the approvals a request needs.
   */
  gateKeys?: EventVerifier;
  logger: Logger;
  /** Username of the token jit acts as; its notes are ours and it never counts as an approver. */
  botUsername: string;
  parseRequest?: RequestParser;
  /** CloudEvent source. Default `/jit/approval-gate`. */
  source?: string;
  groupId?: string;
  requestDir?: string;
  maxRequestBytes?: number;
  /** How often the policy is re-read from the default branch, ms. Default 60 s; 0 = only on demand. */
  policyRefreshMs?: number;
  registry?: Registry;
  /** Group resolver; default GitLab group members (inherited included). */
  resolveGroup?: GroupResolver;
  /** How long start() waits out retriable bus errors (fresh topics without leaders). Default 60 s. */
  startRetryMs?: number;
  /** Subscribe to jit.elevations.v1 to follow other services' events (granted, revoked). Default true. */
  followElevations?: boolean;
  /**
   * Reconcile with GitLab (missed webhooks: MRs opened, updated, approved or merged while the gate or
   * webhook-ingest was down) at start and then every this many ms. Default 5 min; 0 = at start only.
   */
  reconcileIntervalMs?: number;
  /** Oldest merge reconciliation looks at when the ledger knows nothing newer. Default 7 days. */
  reconcileLookbackMs?: number;
  /** Pages of 100 MRs listed per state and run. Default 20. */
  reconcileMaxPages?: number;
  /** false: never reconcile (tests that play webhooks by hand). Default true. */
  reconcile?: boolean;
}

export interface Gate {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One message from jit.gitlab.v1 (what the subscription calls; exposed for tests and composition). */
  handle(message: BusMessage): Promise<void>;
  isReady(): boolean;
  /** One reconciliation with GitLab now (or the one in progress); see GateOptions.reconcileIntervalMs. */
  reconcile(): Promise<ReconcileSummary>;
  /** Re-reads the policy now (what the policyRefreshMs timer does): the ratified version in force, an unratified default branch reported. */
  refreshPolicy(): Promise<PolicyStatus>;
  readonly ledger: Ledger;
  readonly resolveGroup: GroupResolver;
}

/** The handler of one MR webhook; returns the outcome label of jit_gate_webhooks_total. */
async function dispatch(ctx: GateContext, ev: MrEvent, sourceId: string): Promise<string> {
  const { policyStore } = ctx;
  if (ev.projectId !== Number(policyStore.projectId) && String(ev.projectId) !== String(policyStore.projectId)) {
    return 'other_project';
  }
  if (ev.kind === 'note') {
    await onRevokeCommand(ctx, ev);
    return 'note';
  }
  const action = ev.action ?? '';
  switch (action) {
    case 'open':
    case 'reopen':
    case 'update':
      await onOpenOrUpdate(ctx, ev, sourceId);
      return 'evaluated';
    case 'approval':
    case 'approved':
      await onApproval(ctx, ev, 'approved', sourceId);
      return 'approval';
    case 'unapproval':
    case 'unapproved':
      await onApproval(ctx, ev, 'unapproved', sourceId);
      return 'unapproval';
    case 'merge':
      await onMerge(ctx, ev, sourceId);
      return 'merge';
    case 'close':
      await onClose(ctx, ev, sourceId);
      return 'close';
    default:
      return 'ignored';
  }
}

function issuesText(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

export function createGate(options: GateOptions): Gate {
  const { bus, gitlab, policyStore, logger, botUsername } = options;
  const log = logger.child({ component: 'approval-gate' });
  const refused = refusedEventsCounter(options.registry);
  const ledger = options.ledger ?? createLedger();
  const source = options.source ?? '/jit/approval-gate';
  const requestDir = (options.requestDir ?? 'elevations/').replace(/\/?$/, '/');
  const processed = new LRUCache<string, true>({ max: 10_000 });
  const metrics = createGateMetrics(options.registry);
  const resolveGroup: GroupResolver = options.resolveGroup ?? createGroupResolver(gitlab, log);
  const directory = createGitlabDirectory(gitlab, log);
  const withLock = createKeyedLock();
  const policyNow = async () => {
    if (!policyStore.peek()) await policyStore.refresh();
    return policyStore.current();
  };
  let ready = false;
  let subs: LogFollower[] = [];
  let timer: NodeJS.Timeout | undefined;

  const core: Omit<GateContext, 'ratifier'> = {
    bus,
    gitlab,
    policyStore,
    ledger,
    log,
    botUsername,
    resolveGroup,
    directory,
    metrics,
    source,
    layout: { policyPath: policyStore.path, requestDir },
    maxRequestBytes: options.maxRequestBytes ?? REQUEST_YAML_LIMITS.maxBytes,
    parseRequest: options.parseRequest ?? contractsRequestParser,
    freeProjects: new Set<number>(),
    emit: createEmit({ bus, ledger, policyStore, metrics, log, source }),
    withLock,
    policyNow,
  };
  const ratifier = createPolicyRatifier({
    gitlab,
    policyStore,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    botUsername,
    resolveGroup,
    emit: core.emit,
    comment: (ref, view) => writeComment(core, ref, view),
    status: (ref, sha, state, description) => setStatus(core, ref, sha, state, description),
    userIds: directory.userIds,
    userById: directory.userById,
    isCommitter: async (ref, user) => pushedOrAuthored(await pushFacts(core, ref), user),
    changes: async (ref) => {
      const c = await mrChanges(gitlab, core.layout, ref);
      return { policy: c.policy, otherPaths: nonPolicyPaths(c) };
    },
    withLock,
    lockKey: (ref) => toElevationId(ref.projectId, ref.mrIid),
  });
  const ctx: GateContext = { ...core, ratifier };

  const reconciler = createReconciler({
    bus,
    gitlab,
    ledger,
    projectId: policyStore.projectId,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.reconcileIntervalMs !== undefined ? { intervalMs: options.reconcileIntervalMs } : {}),
    ...(options.reconcileLookbackMs !== undefined ? { lookbackMs: options.reconcileLookbackMs } : {}),
    ...(options.reconcileMaxPages !== undefined ? { maxPages: options.reconcileMaxPages } : {}),
    refreshApprovals: (projectId, iid, approvals) => refreshApprovals(ctx, projectId, iid, approvals),
    checkRule: (projectId, iid) => recheckRule(ctx, projectId, iid),
    policyJudged: (iid) => ratifier.judged(iid),
  });

  async function handle(message: BusMessage): Promise<void> {
    if (!ready) throw GateNotStarted('handle webhooks');
    const ce = message.event;
    if (ce.type !== GITLAB_WEBHOOK_EVENT_TYPE && ce.type !== GITLAB_PUSH_EVENT_TYPE) throw GateMalformedEvent(ce.id ?? '?', `type ${String(ce.type)}`);
    if (processed.has(ce.id)) {
      metrics.outcomes.inc({ outcome: 'duplicate' });
      return;
    }
    if (ce.type === GITLAB_PUSH_EVENT_TYPE) {
      const push = GitlabPushDataSchema.safeParse(ce.data);
      if (!push.success) {
        metrics.outcomes.inc({ outcome: 'malformed' });
        throw GateMalformedEvent(ce.id, issuesText(push.error.issues));
      }
      const outcome = await onPush(ctx, push.data, ce.id);
      processed.set(ce.id, true);
      metrics.outcomes.inc({ outcome });
      return;
    }
    const parsed = GitlabWebhookDataSchema.safeParse(ce.data);
    if (!parsed.success) {
      metrics.outcomes.inc({ outcome: 'malformed' });
      throw GateMalformedEvent(ce.id, issuesText(parsed.error.issues));
    }
    const ev = parsed.data;
    const started = performance.now();
    const outcome = await withLock(toElevationId(ev.projectId, ev.mrIid), () => dispatch(ctx, ev, ce.id));
    processed.set(ce.id, true);
    metrics.outcomes.inc({ outcome });
    metrics.duration.observe({ outcome }, (performance.now() - started) / 1000);
  }

  /** Retriable bus errors at boot (a topic just created, leaders not elected yet) waited out, within startRetryMs. */
  const retrying = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retryRetriable(fn, {
      timeoutMs: options.startRetryMs ?? 60_000,
      baseMs: 200,
      maxMs: 5_000,
      onRetry: (err, _attempt, waitMs) => log.warn({ what, waitMs, code: err instanceof JitError ? err.code : undefined }, 'bus not ready; retrying'),
    });

  return {
    ledger,
    resolveGroup,
    handle,
    isReady: () => ready && bus.isReady(),
    async reconcile() {
      if (!ready) throw GateNotStarted('reconcile with GitLab');
      return reconciler.run();
    },
    refreshPolicy: () => ratifier.refresh(),
    async start() {
      // Rebuild the read model from the system of record before taking any webhook (followLog:
      // follow from the latest offsets, replay, hand over what arrived meanwhile; the ledger drops a
      // copy by id). Retriable bus errors at boot (a topic just created, leaders not elected yet)
      // are waited out.
      let refusals = 0;
      const fold = (event: CloudEventJson) => {
        const verdict = options.gateKeys && GATE_EMITTED.has(event.type) ? options.gateKeys.verify(event) : undefined;
        if (verdict && !verdict.ok) {
          const refusal = describeRefusal({ ok: false, role: 'gate', reason: verdict.reason }, event);
          refused.inc({ consumer: 'gate', ...refusal.labels });
          if (refusals++ < 100) log.warn(refusal.fields, refusal.message);
          return;
        }
        ledger.apply(event);
        policyStore.apply(event);
      };
      if (options.followElevations !== false) {
        subs.push(
          await retrying('following jit.elevations.v1', () =>
            followLog(bus, {
              topic: TOPIC_ELEVATIONS,
              // the ledger is rebuilt at every start; its (ephemeral) group goes with the process
              groupId: `${options.groupId ?? GATE_GROUP_ID}-ledger-${process.pid}-${Date.now().toString(36)}`,
              onEvent: (m) => fold(m.event),
            }),
          ),
        );
      } else {
        await retrying('rebuilding state from jit.elevations.v1', () => bus.replay(TOPIC_ELEVATIONS, (m) => fold(m.event)));
      }
      // The policy in force is the last ratified on the log (or the operator's pin on an empty log).
      await ratifier.refresh().catch((err: unknown) => log.error({ err: String(err) }, 'policy refresh failed'));
      ready = true;
      subs.push(
        await retrying('subscribing to jit.gitlab.v1', () =>
          bus.subscribe({
            topic: TOPIC_GITLAB,
            groupId: options.groupId ?? GATE_GROUP_ID,
            handler: handle,
          }),
        ),
      );
      const every = options.policyRefreshMs ?? 60_000;
      if (every > 0) {
        timer = setInterval(() => {
          ratifier.refresh().catch((err: unknown) => log.error({ err: String(err) }, 'policy refresh failed'));
        }, every);
        timer.unref();
      }
      // Webhooks lost while we (or webhook-ingest) were down: GitLab does not retry them. Not awaited,
      // so a slow or failing GitLab never delays start or the webhooks that do arrive.
      if (options.reconcile !== false) reconciler.start();
      log.info({ elevations: TOPIC_ELEVATIONS, webhooks: TOPIC_GITLAB }, 'approval gate started');
    },
    async stop() {
      if (timer) clearInterval(timer);
      await reconciler.stop();
      const s = subs;
      subs = [];
      await Promise.all(s.map((x) => x.stop()));
      ready = false;
    },
  };
}
