// The approval gate: consumes normalized GitLab webhooks (jit.gitlab.v1), validates elevation
// requests against the policy, drives GitLab (approval rule, settings, status, one comment) and,
// at merge, verifies on its own — from GitLab's API state and its ledger, never from the webhook —
// before emitting elevation.approved. Every step is idempotent; GitLab outages are retried by the bus.
//
// Order of side effects: the event that records a decision (requested, rejected, approval.recorded,
// approved, bypass.detected) is emitted before any GitLab write that follows from it (approval rule,
// status, comment, review issue). GitLab then only ever shows what the log already holds, and a crash
// between the two is repaired by the redelivery, which skips the emit (the book knows it) and applies
// the GitLab side effects again, each idempotent against GitLab's answer to a repeat. The reverse order
// lost decisions: a green status set before `requested` was emitted let an approved MR merge while the
// gate was down, and with no validated request on record it was reported as a bypass.
import { createHash } from 'node:crypto';
import {
  EVENT_TYPES,
  GITLAB_PUSH_EVENT_TYPE,
  GITLAB_WEBHOOK_EVENT_TYPE,
  GitlabPushDataSchema,
  GitlabWebhookDataSchema,
  REQUEST_YAML_LIMITS,
  TOPIC_ELEVATIONS,
  TOPIC_GITLAB,
  createElevationEvent,
  describeRefusal,
  elevationId as toElevationId,
  eventKey,
  findSecretLike,
  grantId as toGrantId,
  isAgeRecipient,
  loadYaml,
  parseElevationRequest,
  type ElevationEventType,
  type EventDataByType,
  type EventVerifier,
  type GitlabPushData,
  type GitlabWebhookData,
} from '@jit/contracts';
import type { BusMessage, CloudEventJson, EventBus, Subscription } from '@jit/bus';
import { JitError, isRetriable } from '@jit/errors';
import {
  isApprovalRulesUnsupported,
  noteMarker,
  upsertMarkedNote,
  type GitlabClient,
  type GitlabUser,
  type MergeRequest,
  type MergeRequestApprovals,
  type MergeRequestCommit,
} from '@jit/gitlab';
import { refusedEventsCounter, type Logger, type Registry } from '@jit/observability';
import {
  breakGlassRequesterProblem,
  evaluateRequest,
  approverSpecOf,
  isEligibleApprover,
  isRecipientOf,
  recipientOwners,
  registeredKeys,
  resolveApprovers,
  type AccessPlan,
  type GroupResolver,
  type Locate,
  type PolicyModel,
  type PolicyProblem,
  type PolicyStatus,
  type PolicyStore,
} from '@jit/policy';
import { Counter, Histogram } from 'prom-client';
import { ElevationBook, GATE_TYPES, type ElevationEntry, type PushRecord, type RequestedRecord } from './elevation-book';
import { createGroupResolver } from './group-resolver';
import { GateMalformedEvent, GateNotStarted } from './errors';
import { createPolicyRatifier } from './policy-ratifier';
import { createReconciler, type ReconcileSummary } from './reconciler';
import { GATE_MARKER, VERDICT_HEADINGS, renderComment, type ApprovalLine, type CommentView } from './render-comment';
import { LruSet } from './lru-set';

export const GATE_GROUP_ID = 'jit-approval-gate';
export const STATUS_NAME = 'jit/policy';
/** eligibleApprovers value meaning "any human except author, agents and bots" (tier `anyHuman: true`). */
export const ANY_HUMAN = '*';

export type RequestParseResult =
  | { ok: true; value: unknown; locate?: Locate }
  | { ok: false; problems: PolicyProblem[]; value?: unknown; locate?: Locate };
export type RequestParser = (text: string) => RequestParseResult;

/** Default request parser: parseElevationRequest (contracts) + the raw document for semantic checks and lines. */
export const contractsRequestParser: RequestParser = (text) => {
  const loaded = loadYaml(text, REQUEST_YAML_LIMITS);
  const raw = loaded.ok ? { value: loaded.loaded.value, locate: loaded.loaded.locate } : {};
  const r = parseElevationRequest(text);
  if (r.ok) return { ok: true, value: r.request, ...(raw.locate ? { locate: raw.locate } : {}) };
  return { ok: false, problems: r.problems, ...raw };
};

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
  /** The gate's read model; default a fresh ElevationBook rebuilt from jit.elevations.v1 at start. */
  ledger?: ElevationBook;
  /**
   * The gate keys (its own, and other replicas'): an event of a type only a gate emits (a validated
   * request, an approval, a push record, a policy verdict, …) read from jit.elevations.v1 is taken
   * into the book and the policy fold only when one of them signed it. Without it every event is
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
  /** Oldest merge reconciliation looks at when the book knows nothing newer. Default 7 days. */
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
  readonly ledger: ElevationBook;
  readonly resolveGroup: GroupResolver;
}

type Event = GitlabWebhookData;
type MrRef = Pick<Event, 'projectId' | 'mrIid'>;
type Problem = PolicyProblem;

/** GitLab's 400 for a commit status already in `state`: "Cannot transition status via :succeed from :success". */
export function alreadyInState(err: unknown, state: string): boolean {
  if (!(err instanceof JitError) || err.code !== 'JIT_ERR_GITLAB_REJECTED') return false;
  return /Cannot transition status via :\w+ from :(\w+)/.exec(err.message)?.[1] === state;
}

/** GitLab's 400 for a second MR approval rule of one name, or a second any-approver rule. */
function ruleExists(err: unknown): boolean {
  return err instanceof JitError && err.code === 'JIT_ERR_GITLAB_REJECTED' && /has already been taken|any-approver for the merge request already exists/.test(err.message);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function human(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export function createGate(options: GateOptions): Gate {
  const { bus, gitlab, policyStore, logger, botUsername } = options;
  const log = logger.child({ component: 'approval-gate' });
  const refused = refusedEventsCounter(options.registry);
  const book = options.ledger ?? new ElevationBook();
  const source = options.source ?? '/jit/approval-gate';
  const requestDir = (options.requestDir ?? 'elevations/').replace(/\/?$/, '/');
  const maxRequestBytes = options.maxRequestBytes ?? REQUEST_YAML_LIMITS.maxBytes;
  const parseRequest = options.parseRequest ?? contractsRequestParser;
  const processed = new LruSet(10_000);
  const locks = new Map<string, Promise<void>>();
  const userCache = new Map<number, { user: GitlabUser; at: number }>();
  let ready = false;
  let subs: Subscription[] = [];
  let timer: NodeJS.Timeout | undefined;

  const outcomes = new Counter({
    name: 'jit_gate_webhooks_total',
    help: 'GitLab webhooks handled by the approval gate, by outcome',
    labelNames: ['outcome'],
    registers: options.registry ? [options.registry] : [],
  });
  const duration = new Histogram({
    name: 'jit_gate_webhook_duration_seconds',
    help: 'Time the approval gate spends on one webhook (GitLab calls included), by outcome',
    labelNames: ['outcome'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: options.registry ? [options.registry] : [],
  });
  const driftFixed = new Counter({
    name: 'jit_gate_approval_settings_drift_total',
    help: 'Times the project approval settings were found weakened and corrected',
    registers: options.registry ? [options.registry] : [],
  });
  const emitted = new Counter({
    name: 'jit_gate_events_emitted_total',
    help: 'Elevation events emitted by the approval gate, by type',
    labelNames: ['type'],
    registers: options.registry ? [options.registry] : [],
  });

  const resolveGroup: GroupResolver = options.resolveGroup ?? createGroupResolver(gitlab, log);

  async function userById(id: number): Promise<GitlabUser | undefined> {
    const hit = userCache.get(id);
    if (hit && Date.now() - hit.at < 60_000) return hit.user;
    try {
      const user = await gitlab.users.show(id);
      userCache.set(id, { user, at: Date.now() });
      return user;
    } catch (err) {
      if (err instanceof JitError && err.code === 'JIT_ERR_GITLAB_NOT_FOUND') return undefined;
      throw err;
    }
  }

  async function policyNow() {
    if (!policyStore.peek()) await policyStore.refresh();
    return policyStore.current();
  }

  async function emit<T extends ElevationEventType>(
    type: T,
    data: EventDataByType[T],
    idKey: string,
    severity?: 'info' | 'high',
  ): Promise<void> {
    const event = createElevationEvent(type, data, { source, idKey, ...(severity ? { severity } : {}) });
    const key = eventKey(event);
    await bus.publish(TOPIC_ELEVATIONS, key, event as never);
    book.apply(event as never);
    policyStore.apply(event);
    emitted.inc({ type: type.replace(/^dev\.jit\.|\.v1$/g, '') });
    log.info({ type, elevationId: key, eventId: event.id }, 'elevation event emitted');
  }

  async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    locks.set(key, chained);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(key) === chained) locks.delete(key);
    }
  }

  async function comment(ev: Pick<Event, 'projectId' | 'mrIid'>, view: CommentView): Promise<void> {
    await upsertMarkedNote(gitlab, ev.projectId, ev.mrIid, GATE_MARKER, renderComment(view), botUsername);
  }

  async function status(ev: Pick<Event, 'projectId'>, sha: string, state: 'success' | 'failed', description: string) {
    try {
      await gitlab.commitStatuses.create(ev.projectId, sha, { state, name: STATUS_NAME, description });
    } catch (err) {
      // A status already in the state asked for (a redelivered webhook, two replicas racing): GitLab
      // answers 400 "Cannot transition status via :<event> from :<state>" where it finds the status
      // still open; the status is what we want, so the repeat is done.
      if (alreadyInState(err, state)) {
        log.info({ projectId: ev.projectId, sha, state }, 'commit status already set; repeat ignored');
        return;
      }
      throw err;
    }
  }

  /** Usernames -> GitLab user ids, for approval rules. Unknown users are skipped (and logged). */
  async function userIds(usernames: string[]): Promise<number[]> {
    const ids: number[] = [];
    for (const name of usernames) {
      const u = await gitlab.users.byUsername(name);
      if (u) ids.push(u.id);
      else log.warn({ username: name }, 'eligible approver not found in GitLab; left out of the approval rule');
    }
    return ids;
  }

  // ---- classification of what an MR changes ----
  interface Changes {
    requestPaths: string[];
    deletedRequests: string[];
    policy: boolean;
    others: string[];
  }
  async function changes(ev: Pick<Event, 'projectId' | 'mrIid'>): Promise<Changes> {
    const diffs = await gitlab.mergeRequests.diffs(ev.projectId, ev.mrIid);
    const out: Changes = { requestPaths: [], deletedRequests: [], policy: false, others: [] };
    const paths = new Set<string>();
    for (const d of diffs) {
      for (const p of new Set([d.oldPath, d.newPath])) {
        if (!p || paths.has(p)) continue;
        paths.add(p);
        if (p === policyStore.path) out.policy = true;
        else if (p.startsWith(requestDir)) {
          if (d.deletedFile || (d.renamedFile && p === d.oldPath)) out.deletedRequests.push(p);
          else out.requestPaths.push(p);
        } else out.others.push(p);
      }
    }
    return out;
  }

  function structureProblems(c: Changes): Problem[] {
    const at = '(merge request)';
    if (c.policy && (c.requestPaths.length > 0 || c.deletedRequests.length > 0 || c.others.length > 0)) {
      return [
        {
          path: at,
          message: `this MR changes ${policyStore.path} and other files (${[...c.requestPaths, ...c.deletedRequests, ...c.others].slice(0, 10).join(', ')}); a policy change must be its own MR, approved by the policyApprovers — split it`,
        },
      ];
    }
    const problems: Problem[] = [];
    if (c.others.length > 0) {
      problems.push({ path: at, message: `only files under ${requestDir} may change; this MR also changes: ${c.others.slice(0, 10).join(', ')}` });
    }
    if (c.deletedRequests.length > 0) {
      problems.push({ path: at, message: `requests are never deleted or renamed by an elevation MR: ${c.deletedRequests.slice(0, 10).join(', ')}` });
    }
    if (c.requestPaths.length !== 1) {
      problems.push({
        path: at,
        message:
          c.requestPaths.length === 0
            ? `no request file: add exactly one file under ${requestDir}`
            : `exactly one request per MR: this MR changes ${c.requestPaths.length} files under ${requestDir} (${c.requestPaths.slice(0, 10).join(', ')})`,
      });
    } else if (!/\.ya?ml$/.test(c.requestPaths[0]!)) {
      problems.push({ path: at, message: `the request file must be ${requestDir}<name>.yaml; got ${c.requestPaths[0]}` });
    }
    return problems;
  }

  function rebuildPlan(r: RequestedRecord['data'], policy: PolicyModel): AccessPlan {
    const target = policy.targets[r.target];
    const tier = policy.tiers.find((t) => t.name === r.tier);
    const bg = r.breakGlass ? policy.breakGlass : undefined;
    return {
      target: r.target,
      substrate: target?.substrate ?? '?',
      scope: r.scope,
      tier: r.tier,
      declaredTier: r.declaredTier,
      ttlSeconds: r.ttlSeconds,
      ttlCeilingSeconds: bg?.ttlMaxSeconds ?? tier?.ttlMaxSeconds ?? r.ttlSeconds,
      requiredApprovals: r.requiredApprovals,
      approvers: { anyHuman: r.eligibleApprovers.includes(ANY_HUMAN), groups: [], users: r.eligibleApprovers },
      breakGlass: r.breakGlass,
      justification: r.justification,
      ...(r.rollbackPlan ? { rollbackPlan: r.rollbackPlan } : {}),
      recipient: r.recipient,
      ...(bg?.reviewWithinSeconds ? { reviewWithinSeconds: bg.reviewWithinSeconds } : {}),
    };
  }

  function approvalLines(elevation: string): ApprovalLine[] {
    const e = book.get(elevation);
    if (!e) return [];
    const since = e.requested?.seq ?? 0;
    const last = new Map<string, ApprovalLine & { action: string }>();
    for (const a of e.approvals) {
      if (a.seq <= since) continue;
      last.set(a.approver.toLowerCase(), { approver: a.approver, counted: a.counted, reason: a.reason, action: a.action });
    }
    return [...last.values()].filter((a) => a.action === 'approved').map(({ action: _a, ...rest }) => rest);
  }

  async function baseView(ev: Pick<Event, 'projectId' | 'mrIid'>, elevation: string): Promise<CommentView> {
    const e = book.get(elevation);
    const r = e?.requested?.data;
    if (!r) {
      return {
        elevationId: elevation,
        ...(e?.rejected ? { problems: e.rejected.problems, headSha: e.rejected.headSha } : {}),
      };
    }
    const policy = (await policyNow()).policy;
    const anyHuman = r.eligibleApprovers.includes(ANY_HUMAN);
    return {
      elevationId: elevation,
      requestPath: r.requestPath,
      headSha: r.headSha,
      policyVersion: r.policyVersion,
      plan: rebuildPlan(r, policy),
      recipientOwners: recipientOwners(policy, r.recipient),
      eligibleApprovers: r.eligibleApprovers.filter((u) => u !== ANY_HUMAN),
      anyHuman,
      overlapping: book.liveOnTarget(r.target).filter((o) => o.elevationId !== elevation),
      approvals: approvalLines(elevation),
      free: freeProjects.has(ev.projectId),
    };
  }
  const freeProjects = new Set<number>();

  // ---- open / update / reopen ----
  async function evaluate(ev: Event, sourceId: string): Promise<void> {
    const elevation = toElevationId(ev.projectId, ev.mrIid);
    if (book.isDecided(elevation)) {
      log.info({ elevationId: elevation }, 'MR already decided at merge; update ignored');
      return;
    }
    const mr = await gitlab.mergeRequests.show(ev.projectId, ev.mrIid);
    if (mr.state !== 'opened') {
      log.info({ elevationId: elevation, state: mr.state }, 'MR is not open any more; out-of-order update ignored');
      return;
    }
    const author = mr.author.username;
    const c = await changes(ev);
    if (c.policy && c.requestPaths.length === 0 && c.deletedRequests.length === 0 && c.others.length === 0) {
      await ratifier.onPolicyChange(ev, mr.sha);
      return;
    }
    let problems = structureProblems(c);
    const requestPath = c.requestPaths[0];
    let bytes: Uint8Array | undefined;
    if (problems.length === 0 && requestPath) {
      const file = await gitlab.files.show(ev.projectId, requestPath, mr.sha);
      bytes = file.content;
      if (file.size > maxRequestBytes || bytes.byteLength > maxRequestBytes) {
        problems = [
          { path: '(document)', message: `request file is ${Math.max(file.size, bytes.byteLength)} bytes; the limit is ${maxRequestBytes} bytes — a request is a few lines of YAML` },
        ];
      }
    }
    const policyLoaded = await policyNow();
    const policy = policyLoaded.policy;
    let plan: AccessPlan | undefined;
    if (problems.length === 0 && bytes) {
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        problems = [{ path: '(document)', message: 'request file is not valid UTF-8 text' }];
      }
      if (text !== undefined) {
        const parsed = parseRequest(text);
        const semantic = parsed.value !== undefined ? evaluateRequest(policy, parsed.value as never, { author, locate: parsed.locate }) : undefined;
        if (parsed.ok) {
          problems = semantic?.problems ?? [];
          plan = semantic?.plan;
        } else {
          // Structural problems first; add semantic ones on fields the parser did not already flag.
          const flagged = new Set(parsed.problems.map((p) => p.path));
          problems = [...parsed.problems, ...(semantic?.problems ?? []).filter((p) => !flagged.has(p.path))];
        }
        if (plan) {
          // A credential pasted into a request must not travel on in events or comments.
          const leaked = findSecretLike({ justification: plan.justification, rollbackPlan: plan.rollbackPlan ?? '' });
          if (leaked) {
            problems.push({
              path: `spec.${leaked}`,
              message: 'looks like a secret (a URL with a password, a token or a key); never put credentials in a request — remove it, rotate it, and push again',
            });
            plan = undefined;
          }
        }
        if (plan?.breakGlass && policy.breakGlass) {
          // Break-glass is for the humans on call the policy names, never an agent or a bot.
          const who = await userById(mr.author.id);
          const why = await breakGlassRequesterProblem(
            policy.breakGlass,
            { username: author, bot: !who || who.bot || author === botUsername },
            policy.agents,
            resolveGroup,
          );
          if (why) {
            problems.push({ path: 'spec.breakGlass', message: why });
            plan = undefined;
          }
        }
        if (plan && !isAgeRecipient(plan.recipient)) {
          problems.push({ path: 'spec.recipient', message: 'recipient must be an age public key (age1...); `jit keygen` prints yours' });
          plan = undefined;
        }
        if (plan && !isRecipientOf(policy, author, plan.recipient)) {
          // Only the requester may open what is issued: the key must be one the policy registers to them.
          const mine = registeredKeys(policy, author);
          problems.push({
            path: 'spec.recipient',
            message:
              mine.length > 0
                ? `recipient is not one of the age keys registered to ${author} under recipients: in policy.yaml; use a registered key, or register this one through a policy MR`
                : `no age key is registered to ${author} under recipients: in policy.yaml; register your public key (\`jit keygen\` prints it) through a policy MR, then push again`,
            ...(parsed.locate?.(['spec', 'recipient']) ?? {}),
          });
          plan = undefined;
        }
      }
    }
    let eligible: string[] = [];
    if (plan && problems.length === 0) {
      const resolved = await resolveApprovers(plan.approvers, resolveGroup, {
        author,
        agents: policy.agents,
        // Whoever can open the credential never approves it (a key listed under two users included).
        others: [botUsername, ...recipientOwners(policy, plan.recipient)],
      });
      eligible = resolved.usernames;
      if (!plan.approvers.anyHuman && eligible.length < plan.requiredApprovals) {
        problems.push({
          path: plan.breakGlass ? 'spec.breakGlass' : 'spec.riskTier',
          message: `${plan.breakGlass ? 'break-glass' : `tier ${plan.tier}`} needs ${plan.requiredApprovals} approvals but only ${eligible.length} eligible approver(s) remain once the author, agents and bots are removed (approver groups must be visible to the jit bot)`,
        });
      }
    }

    if (problems.length > 0 || !plan || !bytes || !requestPath) {
      await reject(ev, elevation, mr.sha, author, problems, sourceId);
      return;
    }

    const contentHash = sha256(bytes);
    const eligibleApprovers = plan.approvers.anyHuman ? [ANY_HUMAN, ...eligible] : eligible;
    const prev = book.get(elevation);
    const prevReq = prev?.requested?.data;
    const wanted = {
      name: `jit:${plan.breakGlass ? 'break-glass' : plan.tier}`,
      approvalsRequired: plan.requiredApprovals,
      userIds: plan.approvers.anyHuman ? [] : await userIds(eligible),
    };
    // Drift only if jit had already set this very rule (same name, count and approvers) for the MR:
    // judged on the book as it was before this request is recorded.
    const known =
      prevReq !== undefined &&
      prev?.status === 'requested' &&
      ruleName(prevReq) === wanted.name &&
      prevReq.requiredApprovals === wanted.approvalsRequired &&
      prevReq.eligibleApprovers.join(',') === eligibleApprovers.join(',');
    const unchanged =
      prev?.status === 'requested' &&
      prevReq?.contentHash === contentHash &&
      prevReq.policyVersion === policyLoaded.version &&
      prevReq.requiredApprovals === plan.requiredApprovals &&
      prevReq.eligibleApprovers.join(',') === eligibleApprovers.join(',');
    // The decision first: recorded before GitLab is told anything (see the header).
    if (!unchanged) {
      await emit(
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
        `${elevation}:requested:${mr.sha}:${contentHash}:${policyLoaded.version}${prev?.status === 'withdrawn' ? `:reopened:${sourceId}` : ''}`,
      );
    }
    // GitLab side: one approval rule, hardened settings, the status, the comment.
    const ruleState = await ensureJitRule(ev, wanted, known);
    let free = ruleState.free;
    let drift: string[] = [...ruleState.drift];
    if (!free) {
      const settings = await gitlab.approvalSettings.show(ev.projectId);
      if (isApprovalRulesUnsupported(settings)) free = true;
      else {
        const fixable: string[] = [];
        if (settings.mergeRequestsAuthorApproval) fixable.push('authors could approve their own MR');
        if (!settings.mergeRequestsDisableCommittersApproval) fixable.push('committers could approve');
        if (!settings.resetApprovalsOnPush) fixable.push('approvals were kept on new pushes');
        if (fixable.length > 0) {
          log.warn({ projectId: ev.projectId, drift: fixable }, 'approval settings drifted; correcting');
          driftFixed.inc();
          const fixed = await gitlab.approvalSettings.edit(ev.projectId, {
            mergeRequestsAuthorApproval: false,
            mergeRequestsDisableCommittersApproval: true,
            resetApprovalsOnPush: true,
          });
          if (!isApprovalRulesUnsupported(fixed)) drift.push(...fixable);
        }
      }
    }
    if (free) drift = [];
    if (free) freeProjects.add(ev.projectId);
    else freeProjects.delete(ev.projectId);
    await status(ev, mr.sha, 'success', `${plan.tier}: ${plan.requiredApprovals} approval(s), ${human(plan.ttlSeconds)}`);
    const view = await baseView(ev, elevation);
    await comment(ev, { ...view, plan, recipientOwners: recipientOwners(policy, plan.recipient), free, settingsDrift: drift });
  }

  async function reject(ev: Event, elevation: string, headSha: string, requester: string, problems: Problem[], sourceId: string) {
    const list = (problems.length > 0 ? problems.slice(0, 100) : [{ path: '(document)', message: 'the request could not be validated' }]).map((p) =>
      // Messages may quote what was written; never repeat anything shaped like a secret.
      findSecretLike({ m: p.message, p: p.path }) ? { path: findSecretLike({ p: p.path }) ? '(document)' : p.path, message: 'a value here looks like a secret; it is not repeated — remove it from the request and rotate it' } : p,
    );
    const prev = book.get(elevation);
    const fingerprint = sha256(new TextEncoder().encode(JSON.stringify(list)));
    const same = prev?.status === 'rejected' && prev.rejected?.headSha === headSha;
    if (!same) {
      await emit(
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
    log.info({ elevationId: elevation, problems: list.length, source: sourceId }, 'request rejected');
    await status(ev, headSha, 'failed', `${list.length} problem(s): see the jit comment`);
    await comment(ev, { elevationId: elevation, problems: list, headSha });
  }

  // ---- the jit: approval rule ----
  function ruleName(r: Pick<RequestedRecord['data'], 'breakGlass' | 'tier'>): string {
    return `jit:${r.breakGlass ? 'break-glass' : r.tier}`;
  }

  /**
   * Keeps jit's one MR approval rule as wanted. `known`: jit already set exactly this rule, so any
   * other state means someone deleted or edited it — restored, and returned as drift to say on the MR.
   * jit does not turn on disable_overriding_approvers_per_merge_request: GitLab then refuses every
   * MR-level rule change, jit's own included; found on, it is reported (GitLab enforces only project rules).
   */
  async function ensureJitRule(
    ref: MrRef,
    wanted: { name: string; approvalsRequired: number; userIds: number[] },
    known: boolean,
  ): Promise<{ free: boolean; drift: string[] }> {
    const rules = await gitlab.approvalRules.all(ref.projectId, ref.mrIid);
    if (isApprovalRulesUnsupported(rules)) return { free: true, drift: [] };
    const ours = rules.find((r) => r.name.startsWith('jit:'));
    const ids = [...wanted.userIds].sort((a, b) => a - b).join(',');
    if (ours && ours.name === wanted.name && ours.approvalsRequired === wanted.approvalsRequired && [...ours.userIds].sort((a, b) => a - b).join(',') === ids) {
      return { free: false, drift: [] };
    }
    const drift: string[] = [];
    if (known) {
      drift.push(
        ours
          ? `the ${wanted.name} approval rule had been edited (now ${ours.name}, ${ours.approvalsRequired} required); jit restored it`
          : `the ${wanted.name} approval rule had been deleted; jit restored it`,
      );
    }
    try {
      const res = ours ? await gitlab.approvalRules.edit(ref.projectId, ref.mrIid, ours.id, wanted) : await gitlab.approvalRules.create(ref.projectId, ref.mrIid, wanted).catch(async (err: unknown) => {
        // Created meanwhile (another replica, a redelivery racing this one): GitLab refuses a second
        // rule of that name (or a second any-approver rule). Take the one that is there and set it.
        if (!ruleExists(err)) throw err;
        const again = await gitlab.approvalRules.all(ref.projectId, ref.mrIid);
        const theirs = isApprovalRulesUnsupported(again) ? undefined : again.find((r) => r.name.startsWith('jit:') || r.name === wanted.name);
        if (!theirs) throw err;
        return gitlab.approvalRules.edit(ref.projectId, ref.mrIid, theirs.id, wanted);
      });
      if (isApprovalRulesUnsupported(res)) return { free: true, drift: [] };
    } catch (err) {
      if (!(err instanceof JitError) || err.code !== 'JIT_ERR_GITLAB_FORBIDDEN') throw err;
      const settings = await gitlab.approvalSettings.show(ref.projectId);
      if (isApprovalRulesUnsupported(settings) || !settings.disableOverridingApproversPerMergeRequest) throw err;
      drift.length = 0;
      drift.push(
        `approval rules cannot be changed per merge request on this project (disable_overriding_approvers_per_merge_request), so jit cannot set its ${wanted.name} rule: GitLab enforces only the project's rules; jit still verifies at merge`,
      );
    }
    if (drift.length > 0) {
      driftFixed.inc();
      log.warn({ projectId: ref.projectId, mrIid: ref.mrIid, drift }, 'jit approval rule drifted');
    }
    return { free: false, drift };
  }

  /** The rule as the current request wants it, checked again (approval webhooks, reconciliation). */
  async function checkJitRule(ref: MrRef, req: RequestedRecord['data']): Promise<string[]> {
    const anyHuman = req.eligibleApprovers.includes(ANY_HUMAN);
    const wanted = {
      name: ruleName(req),
      approvalsRequired: req.requiredApprovals,
      userIds: anyHuman ? [] : await userIds(req.eligibleApprovers.filter((u) => u !== ANY_HUMAN)),
    };
    return (await ensureJitRule(ref, wanted, true)).drift;
  }

  // ---- approvals ----
  /**
   * The project's pushes as GitLab itself recorded them (its events API: the authenticated pusher,
   * the branch, from and to which commit), since the day before the MR or its oldest commit: a Push
   * Hook lost while webhook-ingest was away must not make a pusher unknown. Bulk pushes (no ref) and
   * tags name no branch; a push older than the window leaves its commits unknown (fail closed).
   */
  const ZERO_SHA = '0'.repeat(40);
  async function gitlabPushes(projectId: number, mr: MergeRequest, commits: MergeRequestCommit[]): Promise<PushRecord[]> {
    const times = [mr.createdAt, ...commits.map((c) => c.createdAt)].map((t) => (t ? Date.parse(t) : NaN)).filter((t) => Number.isFinite(t));
    const earliest = times.length > 0 ? Math.min(...times) : Date.now();
    const after = new Date(Math.min(earliest, Date.now()) - 86_400_000).toISOString().slice(0, 10);
    const out: PushRecord[] = [];
    for (const e of await gitlab.events.pushes(projectId, { after })) {
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
  interface PushFacts {
    /** Lower-case usernames. */
    pushers: Set<string>;
    commits: MergeRequestCommit[];
    /** Shas of MR commits whose pusher jit cannot tell. */
    unknown: string[];
  }
  async function pushFacts(ref: MrRef): Promise<PushFacts> {
    const [mr, commits] = await Promise.all([gitlab.mergeRequests.show(ref.projectId, ref.mrIid), gitlab.mergeRequests.commits(ref.projectId, ref.mrIid)]);
    const order = commits.map((c) => c.id);
    const pushers = new Set<string>();
    const covered = new Set<string>();
    for (const p of [...book.pushes(ref.projectId), ...(await gitlabPushes(ref.projectId, mr, commits))]) {
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
  function pushedOrAuthored(facts: PushFacts, user: GitlabUser): boolean {
    if (facts.pushers.has(user.username.toLowerCase())) return true;
    const email = user.email?.toLowerCase();
    const names = [user.username, user.name].filter((n): n is string => !!n).map((n) => n.toLowerCase());
    return facts.commits.some(
      (c) =>
        (email && (c.authorEmail.toLowerCase() === email || c.committerEmail.toLowerCase() === email)) ||
        names.includes(c.authorName.toLowerCase()) ||
        names.includes(c.committerName.toLowerCase()),
    );
  }

  async function committerOf(ev: MrRef, user: GitlabUser): Promise<boolean> {
    return pushedOrAuthored(await pushFacts(ev), user);
  }

  async function judge(
    ev: MrRef,
    req: RequestedRecord['data'],
    user: GitlabUser | undefined,
    policy: PolicyModel,
    facts?: PushFacts,
  ): Promise<{ counted: boolean; reason?: 'bot' | 'agent' | 'author' | 'committer' | 'not_eligible' | 'unknown_user' | 'recipient_owner' }> {
    if (!user) return { counted: false, reason: 'unknown_user' };
    const anyHuman = req.eligibleApprovers.includes(ANY_HUMAN);
    const verdict = isEligibleApprover(
      { username: user.username, bot: user.bot || user.username === botUsername, committer: false },
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
    if (pushedOrAuthored(facts ?? (await pushFacts(ev)), user)) return { counted: false, reason: 'committer' };
    return { counted: true };
  }

  async function onApproval(ev: Event, action: 'approved' | 'unapproved', sourceId: string): Promise<void> {
    const elevation = toElevationId(ev.projectId, ev.mrIid);
    if (!book.get(elevation)) await evaluate(ev, sourceId); // approval arrived before we saw the MR
    const entry = book.get(elevation);
    if (book.isDecided(elevation)) {
      log.info({ elevationId: elevation }, 'approval after the merge verdict; ignored');
      return;
    }
    const req = entry?.requested?.data;
    if (!req) {
      log.info({ elevationId: elevation, approver: ev.actor.username }, 'approval on a rejected or unknown request; not recorded');
      return;
    }
    const username = ev.actor.username;
    const headSha = ev.headSha ?? undefined;
    const last = book.lastApproval(elevation, username);
    if (last && last.action === action && (last.headSha ?? '') === (headSha ?? '')) {
      // Recorded already (a redelivery, or a crash after the emit): only the GitLab side is redone.
      log.info({ elevationId: elevation, approver: username }, 'approval already recorded');
    } else await recordApproval(ev, elevation, req, action, sourceId);
    const drift = await checkJitRule(ev, req);
    await comment(ev, { ...(await baseView(ev, elevation)), ...(drift.length > 0 ? { settingsDrift: drift } : {}) });
  }

  async function recordApproval(ev: Event, elevation: string, req: RequestedRecord['data'], action: 'approved' | 'unapproved', sourceId: string): Promise<void> {
    const username = ev.actor.username;
    const headSha = ev.headSha ?? undefined;
    const policy = (await policyNow()).policy;
    let verdict: {
      counted: boolean;
      reason?: 'bot' | 'agent' | 'author' | 'committer' | 'not_eligible' | 'unknown_user' | 'stale' | 'recipient_owner';
    } = { counted: false };
    if (action === 'approved') {
      verdict = await judge(ev, req, await userById(ev.actor.id), policy);
      if (verdict.counted && headSha && headSha !== req.headSha) {
        // Approved at another head: counts only if the request there is the validated content.
        const file = await gitlab.files.show(ev.projectId, req.requestPath, headSha).catch((err: unknown) => {
          if (err instanceof JitError && err.code === 'JIT_ERR_GITLAB_NOT_FOUND') return undefined;
          throw err;
        });
        if (!file || sha256(file.content) !== req.contentHash) verdict = { counted: false, reason: 'stale' };
      }
    }
    await emit(
      EVENT_TYPES.approvalRecorded,
      {
        elevationId: elevation,
        projectId: ev.projectId,
        mrIid: ev.mrIid,
        approver: username,
        action,
        counted: verdict.counted,
        ...(verdict.reason ? { reason: verdict.reason } : {}),
        ...(headSha && /^[0-9a-f]{7,64}$/.test(headSha) ? { headSha } : {}),
        at: new Date().toISOString(),
      },
      `${elevation}:approval:${sourceId}:${username}:${action}`,
      req.breakGlass ? 'high' : undefined,
    );
  }

  /** Break-glass needs two humans even with `approvals: 0`: the merger must be a human other than the requester. */
  async function breakGlassMergerProblem(ev: MrRef, mergedBy: { id: number } | null, requester: string, policy: PolicyModel): Promise<string | undefined> {
    const merger = mergedBy ? await userById(mergedBy.id) : undefined;
    const need = 'break-glass needs a second human: the merger must be a human other than the requester';
    if (!merger) return `${need}; GitLab names no merger for this MR`;
    if (merger.bot || merger.username === botUsername) return `${need}; ${merger.username} who merged it is a bot`;
    if (policy.agents.some((a) => a.toLowerCase() === merger.username.toLowerCase())) return `${need}; ${merger.username} who merged it is an agent`;
    if (merger.username.toLowerCase() === requester.toLowerCase()) return `${need}; the requester ${requester} merged it`;
    // A merger who pushed to the MR wrote (part of) what was merged: one person decided it alone.
    const facts = await pushFacts(ev);
    if (pushedOrAuthored(facts, merger)) return `${need} who did not change it; ${merger.username} who merged it also pushed to it`;
    // A commit neither a Push Hook nor GitLab's push events account for could be the merger's.
    if (facts.unknown.length > 0)
      return `${need} who did not change it; ${facts.unknown.length} commit(s) have no known pusher (${facts.unknown.slice(0, 5).map((c) => c.slice(0, 12)).join(', ')}), so ${merger.username} who merged it may have pushed to it`;
    return undefined;
  }

  /**
   * Who the policy's approvers resolve to now (undefined for `anyHuman`). The request keeps the
   * usernames resolved when it was validated; an approver removed from the group since, or a
   * username that changed hands since, must not count on that snapshot alone.
   */
  async function currentlyEligible(r: RequestedRecord['data'], policy: PolicyModel): Promise<Set<string> | undefined> {
    if (r.eligibleApprovers.includes(ANY_HUMAN)) return undefined;
    const spec = approverSpecOf(policy, r);
    if (!spec) return new Set();
    if (spec.anyHuman) return undefined;
    const resolved = await resolveApprovers(spec, resolveGroup, { author: r.requester, agents: policy.agents, others: [botUsername] });
    return new Set(resolved.usernames.map((u) => u.toLowerCase()));
  }

  /**
   * GitLab's approvals judged as at merge: eligible humans only, and only approvals given after the
   * last validated change (our ledger first; without a record, GitLab's approved_at).
   */
  async function verifyApprovals(
    ev: MrRef,
    elevation: string,
    req: RequestedRecord,
    policy: PolicyModel,
    given?: MergeRequestApprovals,
  ): Promise<{ lines: ApprovalLine[]; counted: string[]; unknownPushers: string[] }> {
    const approvals = given ?? (await gitlab.mergeRequests.approvals(ev.projectId, ev.mrIid));
    const facts = await pushFacts(ev);
    const eligibleNow = await currentlyEligible(req.data, policy);
    const ledgerCounted = book.countedSinceLastChange(elevation);
    const seen = new Set<string>();
    const lines: ApprovalLine[] = [];
    const counted: string[] = [];
    for (const a of approvals.approvedBy) {
      const key = a.username.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const user = await userById(a.userId);
      let v: { counted: boolean; reason?: string } = await judge(ev, req.data, user, policy, facts);
      if (v.counted && eligibleNow && !eligibleNow.has((user?.username ?? a.username).toLowerCase())) v = { counted: false, reason: 'not_eligible' };
      if (v.counted) {
        // Both clocks must agree the approval follows the last change: GitLab's own approved_at (a
        // late or forged approval webhook is not GitLab's word), and our ledger (an approval we last
        // saw before the current version is stale whatever GitLab's clock says). Without a ledger
        // record (webhook lost), GitLab's approved_at alone decides.
        const recorded = book.lastApprovalEver(elevation, a.username);
        const staleByLedger = recorded !== undefined && recorded.action === 'approved' && !ledgerCounted.has(key) && recorded.seq < req.seq;
        const freshByGitlab = a.approvedAt !== undefined && Date.parse(a.approvedAt) >= Date.parse(req.at);
        if (staleByLedger || !freshByGitlab) v = { counted: false, reason: 'stale' };
      }
      lines.push({ approver: a.username, counted: v.counted, ...(v.reason ? { reason: v.reason } : {}) });
      if (v.counted) counted.push(user?.username ?? a.username);
    }
    return { lines, counted, unknownPushers: facts.unknown };
  }

  /**
   * Reconciliation: approvals given while no webhook reached us need no event (the merge reads them
   * from GitLab), but the comment must show them, judged as they would be at merge.
   */
  async function refreshApprovals(projectId: number, iid: number, approvals: MergeRequestApprovals): Promise<void> {
    const ev: MrRef = { projectId, mrIid: iid };
    const elevation = toElevationId(projectId, iid);
    await withLock(elevation, async () => {
      const e = book.get(elevation);
      const req = e?.requested;
      if (!req || e.status !== 'requested') return;
      const policy = (await policyNow()).policy;
      const { lines } = await verifyApprovals(ev, elevation, req, policy, approvals);
      await comment(ev, { ...(await baseView(ev, elevation)), approvals: lines });
    });
  }

  // ---- merge: independent verification ----
  async function onMerge(ev: Event, sourceId: string): Promise<void> {
    const elevation = toElevationId(ev.projectId, ev.mrIid);
    if (book.isDecided(elevation)) {
      // Recorded already: what may be missing is what followed it (a crash after the emit).
      log.info({ elevationId: elevation, source: sourceId }, 'merge already verified; completing its GitLab side effects');
      await announceVerdict(ev, elevation);
      return;
    }
    const mr = await gitlab.mergeRequests.show(ev.projectId, ev.mrIid);
    if (mr.state !== 'merged') {
      log.warn({ elevationId: elevation, state: mr.state }, 'merge webhook but GitLab says the MR is not merged; ignored (forged or stale)');
      return;
    }
    const c = await changes(ev);
    if (c.policy && c.requestPaths.length === 0 && c.others.length === 0 && c.deletedRequests.length === 0) {
      await ratifier.onPolicyMerge(ev, mr);
      return;
    }
    // policy.yaml changed along with anything else: never adopted, reported; the request is judged below.
    if (c.policy) await ratifier.onMixedMerge(ev, mr, [...c.requestPaths, ...c.deletedRequests, ...c.others]);
    const mergeSha = mr.mergeCommitSha ?? mr.squashCommitSha ?? undefined;
    const project = await gitlab.projects.show(ev.projectId);
    const entry = book.get(elevation);
    const req = entry?.requested;
    const reasons: string[] = [];
    const lines: ApprovalLine[] = [];
    const counted: string[] = [];
    if (mr.targetBranch !== project.defaultBranch) {
      reasons.push(`merged into ${mr.targetBranch}, not the default branch ${project.defaultBranch}`);
    }
    if (!req) reasons.push(entry?.rejected ? 'the request was rejected at its last version; it was merged anyway' : 'no validated request on record for this MR');
    if (!mergeSha) reasons.push('GitLab reports no merge commit for this MR');
    if (req && structureProblems(c).length > 0) reasons.push('the merged MR no longer changes exactly one request file');
    if (req && mergeSha) {
      const file = await gitlab.files.show(ev.projectId, req.data.requestPath, mergeSha).catch((err: unknown) => {
        if (err instanceof JitError && err.code === 'JIT_ERR_GITLAB_NOT_FOUND') return undefined;
        throw err;
      });
      if (!file) reasons.push(`${req.data.requestPath} does not exist at the merge commit`);
      else if (sha256(file.content) !== req.data.contentHash) {
        reasons.push(`${req.data.requestPath} at the merge commit is not the content jit validated`);
      }
      const inForce = await policyNow();
      const policy = inForce.policy;
      if (req.data.policyVersion !== inForce.version) {
        // Its tier, approvers, approval count and target were planned under a policy that a ratified
        // change has since replaced (a removed approver, a raised count, a moved target): never
        // issued on the old terms.
        reasons.push(
          `the request was validated under policy version ${req.data.policyVersion.slice(0, 12)}, which version ${inForce.version.slice(0, 12)} replaced before the merge; nothing is issued on a superseded policy — open a new MR so it is judged under the policy in force`,
        );
      }
      const verified = await verifyApprovals(ev, elevation, req, policy);
      lines.push(...verified.lines);
      if (req.data.breakGlass) {
        const why = await breakGlassMergerProblem(ev, mr.mergedBy ?? null, req.data.requester, policy);
        if (why) reasons.push(why);
      }
      counted.push(...verified.counted);
      // Each commit whose pusher jit cannot tell could be any one of the counted approvers: the tier's
      // count must still come from people who provably did not push.
      const unknown = counted.length > 0 ? verified.unknownPushers.length : 0;
      if (counted.length - unknown < req.data.requiredApprovals) {
        reasons.push(
          `${counted.length} of ${req.data.requiredApprovals} required eligible human approval(s) verified at merge` +
            (lines.some((l) => !l.counted) ? ` (not counted: ${lines.filter((l) => !l.counted).map((l) => `${l.approver}: ${l.reason}`).join(', ')})` : '') +
            (unknown > 0
              ? `; ${unknown} commit(s) have no recorded pusher (${verified.unknownPushers.slice(0, 5).map((c) => c.slice(0, 12)).join(', ')}: their Push Hook never reached jit — is "Push events" on for jit's webhook?) and each could be one of the approvers, so only ${Math.max(0, counted.length - unknown)} provably did not push`
              : ''),
        );
      }
    }
    if (reasons.length === 0 && req && mergeSha) {
      const grant = toGrantId(elevation, mergeSha);
      await emit(
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
      await emit(
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
    await announceVerdict(ev, elevation, { mergedBy: mr.mergedBy?.username, lines });
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
  async function ensureReviewIssue(ev: MrRef, elevation: string, approved: NonNullable<ElevationEntry['approved']>, req: RequestedRecord['data'], mergedBy: string | undefined): Promise<string> {
    const prefix = reviewTitlePrefix(elevation);
    const existing = (await gitlab.issues.all(ev.projectId, { labels: REVIEW_LABELS })).find((i) => i.authorUsername === botUsername && i.title?.startsWith(prefix));
    if (existing) return existing.webUrl ?? `issue #${existing.iid}`;
    const onCall = req.eligibleApprovers.filter((u) => u !== ANY_HUMAN);
    const issue = await gitlab.issues.create(ev.projectId, {
      title: `${prefix}${req.target}/${req.scope})`,
      description: [
        `Break-glass elevation \`${elevation}\` was merged (grant \`${approved.grantId}\`).`,
        `Requester: ${req.requester}. Merged by: ${mergedBy ?? 'unknown'}. Target: ${req.target}/${req.scope} for ${human(req.ttlSeconds)}.`,
        `Approvals at merge: ${approved.approvers.join(', ') || 'none (break-glass)'}.`,
        'Review what was done with this access and whether break-glass was warranted.',
      ].join('\n\n'),
      assigneeIds: await userIds(onCall),
      labels: REVIEW_LABELS,
    });
    return issue.webUrl ?? `issue #${issue.iid}`;
  }

  /**
   * What follows a merge verdict on the log, in GitLab: the break-glass review issue and the verdict
   * on the MR comment. `fresh` is the merge that has just emitted the verdict; without it (a
   * redelivered merge) the comment is written only if it does not show the verdict yet, so a replay
   * never rewrites the lines judged at merge with the book's shorter view.
   */
  async function announceVerdict(ev: MrRef, elevation: string, fresh?: { mergedBy: string | undefined; lines: ApprovalLine[] }): Promise<void> {
    const e = book.get(elevation);
    const req = e?.requested?.data;
    let verdict: CommentView['verdict'];
    if (e?.approved && req) {
      const reviewIssue = req.breakGlass ? await ensureReviewIssue(ev, elevation, e.approved, req, fresh ? fresh.mergedBy : (await gitlab.mergeRequests.show(ev.projectId, ev.mrIid)).mergedBy?.username) : undefined;
      verdict = { kind: 'approved', approvers: e.approved.approvers, grantId: e.approved.grantId, ...(reviewIssue ? { reviewIssue } : {}) };
    } else if (e?.bypass) verdict = { kind: 'bypass', reasons: e.bypass.reasons };
    else return; // a policy merge, or decided by a later event only (its own handler answers it)
    const view = await baseView(ev, elevation);
    if (!fresh) {
      const notes = await gitlab.notes.all(ev.projectId, ev.mrIid);
      const mine = notes.find((n) => !n.system && n.body.startsWith(GATE_MARKER) && n.authorUsername === botUsername);
      if (mine && mine.body.includes(VERDICT_HEADINGS[verdict.kind])) return;
    }
    const lines = fresh?.lines.length ? fresh.lines : view.approvals;
    await comment(ev, { ...view, ...(lines ? { approvals: lines } : {}), verdict });
  }

  async function onClose(ev: Event, sourceId: string): Promise<void> {
    const elevation = toElevationId(ev.projectId, ev.mrIid);
    const e = book.get(elevation);
    if (!e || book.isDecided(elevation) || e.status === 'withdrawn') return;
    await emit(
      EVENT_TYPES.withdrawn,
      { elevationId: elevation, projectId: ev.projectId, mrIid: ev.mrIid, by: ev.actor.username, reason: 'merge request closed without merge' },
      `${elevation}:withdrawn:${sourceId}`,
    );
    const view = await baseView(ev, elevation);
    await comment(ev, { ...view, withdrawn: `closed by ${ev.actor.username}` });
  }

  const REVOKE_RE = /^\s*\/jit\s+revoke\b[ \t]*(.*)$/m;
  async function onNote(ev: Event): Promise<void> {
    const note = ev.note;
    if (!note || note.system || ev.actor.username === botUsername) return;
    const m = REVOKE_RE.exec(note.body);
    if (!m) return;
    const elevation = toElevationId(ev.projectId, ev.mrIid);
    const e = book.get(elevation);
    const marker = noteMarker(`revoke:${note.id}`);
    const reply = (text: string) => upsertMarkedNote(gitlab, ev.projectId, ev.mrIid, marker, text, botUsername);
    const req = e?.requested?.data;
    if (!e || !req || !(e.status === 'approved' || e.status === 'granted' || e.status === 'revoke_requested')) {
      await reply(`@${ev.actor.username} \`/jit revoke\`: nothing to revoke — this MR has no live grant.`);
      return;
    }
    if (e.revokeRequested) {
      await reply(`\`/jit revoke\`: revocation of \`${e.grant?.grantId ?? e.approved?.grantId}\` is already requested.`);
      return;
    }
    const user = await userById(ev.actor.id);
    const isRequester = user?.username.toLowerCase() === req.requester.toLowerCase();
    const policy = (await policyNow()).policy;
    const approver =
      user !== undefined &&
      isEligibleApprover(
        { username: user.username, bot: user.bot },
        { anyHuman: req.eligibleApprovers.includes(ANY_HUMAN), groups: [], users: req.eligibleApprovers },
        { usernames: req.eligibleApprovers.filter((u) => u !== ANY_HUMAN) },
        { agents: policy.agents },
      ).eligible;
    // The requester may always give up its own grant, agents (bot users) included: revoking only
    // lowers privilege. Anyone else must be an eligible (human) approver.
    if (!user || (!isRequester && !approver)) {
      await reply(`@${ev.actor.username} \`/jit revoke\` refused: only the requester or an eligible approver may revoke this grant.`);
      return;
    }
    const grant = e.grant?.grantId ?? e.approved?.grantId;
    const reason = m[1]?.trim().slice(0, 500) || 'requested via /jit revoke';
    await emit(
      EVENT_TYPES.revokeRequested,
      { elevationId: elevation, ...(grant ? { grantId: grant } : {}), requestedBy: user.username, reason },
      `${elevation}:revoke:${note.id}`,
      req.breakGlass ? 'high' : undefined,
    );
    await reply(`\`/jit revoke\` by ${user.username}: revocation of \`${grant}\` requested.`);
  }

  /**
   * A push to the elevations repo, recorded on the log (pushRecorded) so who pushed to an MR is known
   * after restarts and on every replica. Deleting a branch adds nothing to any MR: not recorded.
   */
  async function recordPush(push: GitlabPushData, sourceId: string): Promise<string> {
    if (String(push.projectId) !== String(policyStore.projectId)) return 'other_project';
    const sha = /^[0-9a-f]{40,64}$/;
    if (/^0+$/.test(push.after) || !sha.test(push.after) || !sha.test(push.before) || !/^[1-9][0-9]*$/.test(String(push.actor.id))) return 'push_ignored';
    await emit(
      EVENT_TYPES.pushRecorded,
      {
        projectId: push.projectId,
        branch: push.branch.slice(0, 255),
        pusher: push.actor.username,
        pusherId: push.actor.id,
        before: push.before,
        after: push.after,
        commits: push.commits.map((c) => c.id).filter((c) => sha.test(c)).slice(0, 100),
        totalCommits: push.totalCommits,
        at: push.delivery.receivedAt,
      },
      `push:${sourceId}`,
    );
    return 'push';
  }

  async function dispatch(ev: Event, sourceId: string): Promise<string> {
    if (ev.projectId !== Number(policyStore.projectId) && String(ev.projectId) !== String(policyStore.projectId)) {
      return 'other_project';
    }
    if (ev.kind === 'note') {
      await onNote(ev);
      return 'note';
    }
    const action = ev.action ?? '';
    switch (action) {
      case 'open':
      case 'reopen':
      case 'update':
        await evaluate(ev, sourceId);
        return 'evaluated';
      case 'approval':
      case 'approved':
        await onApproval(ev, 'approved', sourceId);
        return 'approval';
      case 'unapproval':
      case 'unapproved':
        await onApproval(ev, 'unapproved', sourceId);
        return 'unapproval';
      case 'merge':
        await onMerge(ev, sourceId);
        return 'merge';
      case 'close':
        await onClose(ev, sourceId);
        return 'close';
      default:
        return 'ignored';
    }
  }

  async function handle(message: BusMessage): Promise<void> {
    if (!ready) throw GateNotStarted('handle webhooks');
    const ce = message.event;
    if (ce.type !== GITLAB_WEBHOOK_EVENT_TYPE && ce.type !== GITLAB_PUSH_EVENT_TYPE) throw GateMalformedEvent(ce.id ?? '?', `type ${String(ce.type)}`);
    if (processed.has(ce.id)) {
      outcomes.inc({ outcome: 'duplicate' });
      return;
    }
    if (ce.type === GITLAB_PUSH_EVENT_TYPE) {
      const push = GitlabPushDataSchema.safeParse(ce.data);
      if (!push.success) {
        outcomes.inc({ outcome: 'malformed' });
        throw GateMalformedEvent(ce.id, push.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
      }
      const outcome = await recordPush(push.data, ce.id);
      processed.add(ce.id);
      outcomes.inc({ outcome });
      return;
    }
    const parsed = GitlabWebhookDataSchema.safeParse(ce.data);
    if (!parsed.success) {
      outcomes.inc({ outcome: 'malformed' });
      const where = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      throw GateMalformedEvent(ce.id, where);
    }
    const ev = parsed.data;
    const started = performance.now();
    const outcome = await withLock(toElevationId(ev.projectId, ev.mrIid), () => dispatch(ev, ce.id));
    processed.add(ce.id);
    outcomes.inc({ outcome });
    duration.observe({ outcome }, (performance.now() - started) / 1000);
  }

  async function retrying<T>(what: string, fn: () => Promise<T>, budgetMs = options.startRetryMs ?? 60_000): Promise<T> {
    const deadline = Date.now() + budgetMs;
    for (let wait = 200; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetriable(err) || Date.now() + wait > deadline) throw err;
        log.warn({ what, waitMs: wait, code: err instanceof JitError ? err.code : undefined }, 'bus not ready; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  const ratifier = createPolicyRatifier({
    gitlab,
    policyStore,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    botUsername,
    resolveGroup,
    emit,
    comment,
    status,
    userIds,
    userById,
    isCommitter: committerOf,
    changes: async (ref) => {
      const c = await changes(ref);
      return { policy: c.policy, otherPaths: [...c.requestPaths, ...c.deletedRequests, ...c.others] };
    },
    withLock,
    lockKey: (ref) => toElevationId(ref.projectId, ref.mrIid),
  });

  const reconciler = createReconciler({
    bus,
    gitlab,
    book,
    projectId: policyStore.projectId,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.reconcileIntervalMs !== undefined ? { intervalMs: options.reconcileIntervalMs } : {}),
    ...(options.reconcileLookbackMs !== undefined ? { lookbackMs: options.reconcileLookbackMs } : {}),
    ...(options.reconcileMaxPages !== undefined ? { maxPages: options.reconcileMaxPages } : {}),
    refreshApprovals,
    checkRule: (projectId, iid) =>
      withLock(toElevationId(projectId, iid), async () => {
        const e = book.get(toElevationId(projectId, iid));
        if (!e?.requested || e.status !== 'requested') return;
        const ref = { projectId, mrIid: iid };
        const drift = await checkJitRule(ref, e.requested.data);
        if (drift.length > 0) await comment(ref, { ...(await baseView(ref, e.elevationId)), settingsDrift: drift });
      }),
    policyJudged: (iid) => ratifier.judged(iid),
  });

  return {
    ledger: book,
    resolveGroup,
    handle,
    isReady: () => ready && bus.isReady(),
    async reconcile() {
      if (!ready) throw GateNotStarted('reconcile with GitLab');
      return reconciler.run();
    },
    refreshPolicy: () => ratifier.refresh(),
    async start() {
      // Rebuild the read model from the system of record before taking any webhook. Follow first,
      // then replay: an event published between the two is then in one of them (the book drops the
      // copy by id). Followed events wait until the replay is done, so the book sees history first.
      // Retriable bus errors at boot (a topic just created, leaders not elected yet) are waited out.
      let replayed = false;
      const early: CloudEventJson[] = [];
      let refusals = 0;
      const fold = (event: CloudEventJson) => {
        const verdict = options.gateKeys && GATE_EMITTED.has(event.type) ? options.gateKeys.verify(event) : undefined;
        if (verdict && !verdict.ok) {
          const refusal = describeRefusal({ ok: false, role: 'gate', reason: verdict.reason }, event);
          refused.inc({ consumer: 'gate', ...refusal.labels });
          if (refusals++ < 100) log.warn(refusal.fields, refusal.message);
          return;
        }
        book.apply(event);
        policyStore.apply(event);
      };
      if (options.followElevations !== false) {
        subs.push(
          await retrying('following jit.elevations.v1', () => bus.subscribe({
            topic: TOPIC_ELEVATIONS,
            groupId: `${options.groupId ?? GATE_GROUP_ID}-ledger-${process.pid}-${Date.now().toString(36)}`,
            startFrom: 'latest',
            ephemeral: true, // the book is rebuilt at every start; its group goes with the process
            handler: async (m) => {
              if (replayed) fold(m.event);
              else early.push(m.event);
            },
          })),
        );
      }
      await retrying('rebuilding state from jit.elevations.v1', () =>
        bus.replay(TOPIC_ELEVATIONS, (m) => fold(m.event)),
      );
      replayed = true;
      for (const event of early.splice(0)) fold(event);
      // The policy in force is the last ratified on the log (or the operator's pin on an empty log).
      await ratifier.refresh().catch((err: unknown) => log.error({ err: String(err) }, 'policy refresh failed'));
      ready = true;
      subs.push(
        await retrying('subscribing to jit.gitlab.v1', () => bus.subscribe({
          topic: TOPIC_GITLAB,
          groupId: options.groupId ?? GATE_GROUP_ID,
          handler: handle,
        })),
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
