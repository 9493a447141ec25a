// The ledger's public shapes: lifecycle states, the read model of one elevation, what apply()
// answers, list filters, live grants, orphans, and the Ledger interface itself.
import type {
  AnyElevationEvent,
  ApprovalRecordedData,
  BypassDetectedData,
  ElevationApprovedData,
  CloudEventJson,
  ElevationRejectedData,
  ElevationRequestedData,
  ElevationRevokedData,
  EventError,
  OrphanRevokedData,
  RevocationHandleData,
} from '@jit/contracts';
import type { JitError } from '@jit/errors';

/** Lifecycle states (contract). */
export const ELEVATION_STATES = ['pending', 'rejected', 'withdrawn', 'bypassed', 'approved', 'granted', 'grant_failed', 'revoked', 'expired'] as const;
export type ElevationStateName = (typeof ELEVATION_STATES)[number];

export interface ApprovalEntry {
  approver: string;
  action: 'approved' | 'unapproved';
  counted: boolean;
  reason?: ApprovalRecordedData['reason'];
  headSha?: string;
  at: string;
}

/** One recorded approval action, with its position in the log (`seq`: the order the ledger applied events in). */
export interface RecordedApproval extends ApprovalEntry {
  seq: number;
}

/** A validated version of a request (an `elevation.requested`) with its position in the log. */
export interface RequestVersion {
  data: ElevationRequestedData;
  eventId: string;
  at: string;
  seq: number;
}

/** One branch push to the elevations repo (`elevation.push.recorded`): who moved which branch to which commit. */
export interface PushRecord {
  projectId: number;
  branch: string;
  pusher: string;
  before: string;
  after: string;
  commits: string[];
}

/** An elevation approved or granted on a target and not ended (nor past its expiry). */
export interface GrantOnTarget {
  elevationId: string;
  grantId: string;
  scope?: string;
  expiresAt?: string;
}

export interface TimelineEntry {
  type: string;
  id: string;
  time: string;
  summary: string;
}

/** The read model of one elevation. Fields are absent until an event that carries them arrives. */
export interface ElevationState {
  id: string;
  state: ElevationStateName;
  projectId: number;
  mrIid: number;
  mrUrl?: string;
  requester?: string;
  target?: string;
  scope?: string;
  /** Effective tier. */
  tier?: string;
  declaredTier?: string;
  ttlSeconds?: number;
  justification?: string;
  rollbackPlan?: string;
  recipient?: string;
  breakGlass: boolean;
  contentHash?: string;
  requestPath?: string;
  headSha?: string;
  policyVersion?: string;
  requiredApprovals?: number;
  eligibleApprovers?: string[];
  /** Latest approval action per approver, oldest first. */
  approvals: ApprovalEntry[];
  /** Approvers the gate verified at merge. */
  approvers?: string[];
  problems?: ElevationRejectedData['problems'];
  withdrawnReason?: string;
  bypassReasons?: string[];
  mergeSha?: string;
  grantId?: string;
  substrate?: string;
  handle?: RevocationHandleData;
  /** age ciphertext for the requester (never plaintext). */
  sealedCredential?: string;
  /** The issuer's signature of the sealed credential (grant id, expiry, digest), for the CLI to check. */
  credentialSignature?: { kid: string; signature: string };
  issuedAt?: string;
  /**
   * When an issuer wrote that it was about to issue on a substrate whose credentials cannot be
   * revoked early (`elevation.grant.started`); with no `granted`/`grant_failed` after it, a credential
   * may exist that was never delivered, so no second one is issued.
   */
  grantStartedAt?: string;
  expiresAt?: string;
  grantError?: EventError & { attempts: number };
  revokeRequested?: { by: string; reason: string; at: string };
  revokeFailures: number;
  lastRevokeError?: EventError;
  nextRevokeAttemptAt?: string;
  revokedAt?: string;
  revokeCause?: ElevationRevokedData['cause'];
  revokeVerified?: boolean;
  latenessMs?: number;
  expiredAt?: string;
  /** Every applied event, by time. */
  timeline: TimelineEntry[];
  /** Time of the earliest event applied. */
  createdAt: string;
  /** Time of the latest event applied. */
  updatedAt: string;
}

export interface ApplyResult {
  /** True when the elevation's state or data changed (a timeline entry alone does not count). */
  changed: boolean;
  /** True when this event id was applied before, or it repeats what is already known (a second `granted` for a grant). */
  duplicate: boolean;
  elevationId?: string;
  state?: ElevationStateName;
  previousState?: ElevationStateName;
  /** Set when the event failed validation; nothing was recorded. */
  error?: JitError;
}

export interface ListFilter {
  state?: ElevationStateName | ElevationStateName[];
  target?: string;
  requester?: string;
  /** createdAt >= since. */
  since?: Date | string;
  /** createdAt < until. */
  until?: Date | string;
}

/** A credential that is out there: granted, neither revoked nor expired. */
export interface LiveGrant {
  elevationId: string;
  grantId: string;
  target: string;
  scope: string;
  substrate: string;
  requester: string;
  handle: RevocationHandleData;
  issuedAt: string;
  expiresAt: string;
  revokeRequested?: { by: string; reason: string; at: string };
  revokeFailures: number;
}

export interface OrphanRecord {
  grantId: string;
  substrate: string;
  handle: OrphanRevokedData['handle'];
  elevationId?: string;
  time: string;
  eventId: string;
}

export interface Ledger {
  /** Fold one event in. Idempotent by event id; never throws (invalid events come back with `error`). */
  apply(event: CloudEventJson | AnyElevationEvent): ApplyResult;
  /** Whether an event id has been applied. */
  seen(eventId: string): boolean;
  get(elevationId: string): ElevationState | undefined;
  /** Elevations matching the filter, oldest first. Throws JIT_ERR_LEDGER_INVALID_FILTER on a bad filter. */
  list(filter?: ListFilter): ElevationState[];
  /** Granted and neither revoked nor expired, soonest expiry first. */
  grantsLive(): LiveGrant[];
  /** The elevation a grant belongs to. */
  byGrant(grantId: string): ElevationState | undefined;
  /** Orphans revoked by the sweep (credentials found without a `granted` event). */
  orphans(): OrphanRecord[];
  /** Whether the elevation reached a merge verdict (approved, bypassed) or a later phase. */
  isDecided(elevationId: string): boolean;
  /**
   * Before a merge verdict: the last of `requested` / `rejected` / `withdrawn` in log order (`pending`,
   * `rejected`, `withdrawn`); undefined when none is known or the elevation is decided. What the gate
   * judges on: those events come from gate replicas whose clocks may differ, so their times may
   * disagree with the order they were written in (`get().state` orders them by time, for readers).
   */
  phase(elevationId: string): 'pending' | 'rejected' | 'withdrawn' | undefined;
  /** The merge verdicts recorded (`approved`, `bypass.detected`), as published. */
  verdict(elevationId: string): { approved?: ElevationApprovedData; bypass?: BypassDetectedData } | undefined;
  /** The current version of the request (the last `requested` or `rejected` in log order) when it is a validated request. */
  request(elevationId: string): RequestVersion | undefined;
  /** The current version when it is a rejection. */
  rejection(elevationId: string): { headSha?: string; problems: { path: string; message: string; line?: number }[]; seq: number } | undefined;
  /** Each approver's (lower-case) last recorded action after the current validated request, in log order. */
  approvalsSinceLastChange(elevationId: string): Map<string, RecordedApproval>;
  /** An approver's last recorded action after the current version, or (`ever`) at all. */
  lastApproval(elevationId: string, approver: string, options?: { ever?: boolean }): RecordedApproval | undefined;
  /** Elevations approved or granted on `target`, not ended, not past their expiry at `now`. */
  liveOnTarget(target: string, now?: number): GrantOnTarget[];
  /** Every recorded push to a branch of the project, in log order. */
  pushes(projectId: number): readonly PushRecord[];
  /** Time (ISO) of the newest event of one of `types` applied; undefined when none was. */
  newestAt(types: ReadonlySet<string>): string | undefined;
  /** Numbers for metrics and health. */
  stats(): { elevations: number; events: number; byState: Record<ElevationStateName, number> };
}

export interface LedgerOptions {
  /** Max timeline entries kept per elevation (oldest dropped). Default 500. */
  maxTimeline?: number;
}
