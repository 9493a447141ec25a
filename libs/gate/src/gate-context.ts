// What every part of the gate shares: its clients, its read model, its metrics, and the three
// primitives all handlers use — emit (log first, then the read models), the per-MR lock, and the
// policy in force. Built once by createGate; handlers and helpers take the fields they need.
import { EVENT_TYPES, TOPIC_ELEVATIONS, createElevationEvent, eventKey, type ElevationEventType, type EventDataByType, type GitlabWebhookData } from '@jit/contracts';
import type { EventBus } from '@jit/bus';
import type { GitlabClient } from '@jit/gitlab';
import type { Logger, Registry } from '@jit/observability';
import type { GroupResolver, LoadedPolicy, PolicyStore } from '@jit/policy';
import { Counter, Histogram } from 'prom-client';
import type { Ledger } from '@jit/ledger';
import type { GitlabDirectory } from './gitlab-directory';
import type { RepoLayout } from './mr-changes';
import type { PolicyRatifier } from './policy-ratifier';
import type { RequestParser } from './request-evaluation';

export const GATE_GROUP_ID = 'jit-approval-gate';
export const STATUS_NAME = 'jit/policy';
/** eligibleApprovers value meaning "any human except author, agents and bots" (tier `anyHuman: true`). */
export const ANY_HUMAN = '*';

/** A normalized MR webhook (jit.gitlab.v1). */
export type MrEvent = GitlabWebhookData;
export type MrRef = Pick<MrEvent, 'projectId' | 'mrIid'>;

/** Types only the gate emits, in answer to a webhook: their newest time says when the gate last heard from GitLab. */
export const GATE_TYPES: ReadonlySet<string> = new Set([
  EVENT_TYPES.requested,
  EVENT_TYPES.rejected,
  EVENT_TYPES.withdrawn,
  EVENT_TYPES.approvalRecorded,
  EVENT_TYPES.approved,
  EVENT_TYPES.bypassDetected,
]);

/** Publishes an elevation event, then applies it to the ledger and the policy fold. */
export type Emit = <T extends ElevationEventType>(type: T, data: EventDataByType[T], idKey: string, severity?: 'info' | 'high') => Promise<void>;

export interface GateMetrics {
  outcomes: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
  driftFixed: Counter;
  emitted: Counter<'type'>;
}

export interface GateContext {
  readonly bus: EventBus;
  readonly gitlab: GitlabClient;
  readonly policyStore: PolicyStore;
  readonly ledger: Ledger;
  readonly log: Logger;
  /** Username of the token jit acts as; its notes are ours and it never counts as an approver. */
  readonly botUsername: string;
  readonly resolveGroup: GroupResolver;
  readonly directory: GitlabDirectory;
  readonly metrics: GateMetrics;
  readonly source: string;
  /** Where policy.yaml and the request files are. */
  readonly layout: RepoLayout;
  readonly maxRequestBytes: number;
  readonly parseRequest: RequestParser;
  /** Projects whose GitLab tier has no approval rules: only jit's verification at merge holds there. */
  readonly freeProjects: Set<number>;
  readonly emit: Emit;
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** The policy in force (read once if nothing is yet). */
  policyNow(): Promise<LoadedPolicy>;
  /** Policy MRs: opened, updated and merged (policy-ratifier.ts). */
  readonly ratifier: PolicyRatifier;
}

export function createGateMetrics(registry: Registry | undefined): GateMetrics {
  const registers = registry ? [registry] : [];
  return {
    outcomes: new Counter({
      name: 'jit_gate_webhooks_total',
      help: 'GitLab webhooks handled by the approval gate, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'jit_gate_webhook_duration_seconds',
      help: 'Time the approval gate spends on one webhook (GitLab calls included), by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    driftFixed: new Counter({
      name: 'jit_gate_approval_settings_drift_total',
      help: 'Times the project approval settings were found weakened and corrected',
      registers,
    }),
    emitted: new Counter({
      name: 'jit_gate_events_emitted_total',
      help: 'Elevation events emitted by the approval gate, by type',
      labelNames: ['type'],
      registers,
    }),
  };
}

export function createEmit(ctx: Pick<GateContext, 'bus' | 'ledger' | 'policyStore' | 'metrics' | 'log' | 'source'>): Emit {
  return async (type, data, idKey, severity) => {
    const event = createElevationEvent(type, data, { source: ctx.source, idKey, ...(severity ? { severity } : {}) });
    const key = eventKey(event);
    await ctx.bus.publish(TOPIC_ELEVATIONS, key, event as never);
    ctx.ledger.apply(event);
    ctx.policyStore.apply(event);
    ctx.metrics.emitted.inc({ type: type.replace(/^dev\.jit\.|\.v1$/g, '') });
    ctx.log.info({ type, elevationId: key, eventId: event.id }, 'elevation event emitted');
  };
}

/** One MR's events one at a time (webhooks, reconciliation and policy refreshes alike). */
export function createKeyedLock(): GateContext['withLock'] {
  const locks = new Map<string, Promise<void>>();
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
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
  };
}
