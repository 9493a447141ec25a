// The ledger's public shapes: lifecycle states, the read model of one elevation, what apply()
// answers, list filters, live grants, orphans, and the Ledger interface itself.
import type {
  AnyElevationEvent,
  ApprovalRecordedData,
  CloudEventJson,
  ElevationRejectedData,
  ElevationRevokedData,
  EventError,
  OrphanRevokedData,
  RevocationHandleData,
} from '@jit/contracts';
import type { JitError } from '@jit/errors';

/** Lifecycle states (contract). */
export const ELEVATION_STATES = [
  'pending',
  'rejected',
  'withdrawn',
  'bypassed',
  'approved',
  'granted',
  'grant_failed',
  'revoked',
  'expired',
] as const;
export type ElevationStateName = (typeof ELEVATION_STATES)[number];

export interface ApprovalEntry {
  approver: string;
  action: 'approved' | 'unapproved';
  counted: boolean;
  reason?: ApprovalRecordedData['reason'];
  headSha?: string;
  at: string;
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
  /** Numbers for metrics and health. */
  stats(): { elevations: number; events: number; byState: Record<ElevationStateName, number> };
}

export interface LedgerOptions {
  /** Max timeline entries kept per elevation (oldest dropped). Default 500. */
  maxTimeline?: number;
}
