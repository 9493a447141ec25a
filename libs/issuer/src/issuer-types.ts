// The issuer's public shapes: its options, what it is given (target resolver, ledger view, MR
// notifier) and the Issuer itself.
import type { AnyElevationEvent, EventSigner, ProducerTrust } from '@jit/contracts';
import type { EventBus } from '@jit/bus';
import type { Logger } from '@jit/observability';
import type { Substrate } from '@jit/substrates';
import type { Registry } from 'prom-client';
import type { ApprovalCheck } from './approval-check';
import type { IssueRetryOptions } from './issue-retry';

/** What the issuer needs to know about a target at a policy version (resolved by the app). */
export interface ResolvedTarget {
  /** Substrate instance name (`postgres`, `vault:prod`). */
  substrate: string;
  scope: Record<string, unknown>;
  /** Connection settings with secret references resolved. Never logged. */
  connection: Record<string, unknown>;
  /** The `recipients:` of that policy version: GitLab username → registered age public keys. */
  recipients: Record<string, string[]>;
}

export interface TargetResolver {
  /**
   * The target/scope as of the policy the gate validated (`policyVersion`, in the elevations repo
   * at `mergeSha`); undefined when it does not exist there.
   */
  resolve(input: { target: string; scope: string; policyVersion: string; mergeSha: string; grantId?: string; elevationId?: string }): Promise<ResolvedTarget | undefined>;
}

/** The state of one elevation as far as the issuer cares (structurally the ledger's view). */
export interface ElevationView {
  state: string;
  grantId?: string;
  /** Set once `elevation.grant.started` is in the log (issue on a substrate that cannot revoke early). */
  grantStartedAt?: string;
}

export interface LedgerView {
  apply(event: AnyElevationEvent): unknown;
  get(elevationId: string): ElevationView | undefined;
}

export interface MrNotifier {
  /** Posts a comment on the MR. Best effort: a failure is logged, never fatal. */
  comment(projectId: number, mrIid: number, markdown: string): Promise<void>;
}

export interface IssuerOptions {
  bus: EventBus;
  /**
   * The keys this issuer trusts per producer: an `elevation.approved` not signed by a gate key is
   * refused (logged, counted in jit_events_refused_total) whatever it says, and a `granted`,
   * `grant.failed`, `revoked` or `expired` not signed by an issuer or revoker key is not taken into
   * account (a forged one must not make a real approval look handled).
   */
  trust: ProducerTrust;
  /** This issuer's key: signs each sealed credential (grant id, expiry, digest) for the CLI to check. */
  signer: EventSigner;
  /** What the issuer checks with GitLab before it issues (MR merged at the sha, file content, TTL, recipient). */
  approvalCheck: ApprovalCheck;
  substrates: { get(name: string): Substrate };
  targets: TargetResolver;
  ledger: LedgerView;
  logger: Logger;
  notifier?: MrNotifier;
  registry?: Registry;
  /** Where users fetch the sealed credential; used in the MR comment. */
  credentialUrl?: (elevationId: string) => string;
  groupId?: string;
  source?: string;
  /**
   * How long retriable failures of the approval check and the issue are retried: until a share of
   * the grant's TTL has passed since the approval, at most `budgetMs` (issue-retry.ts).
   */
  retry?: IssueRetryOptions;
  now?: () => Date;
  /** Skip replaying the topic at start (the caller already folded it into `ledger`). */
  skipReplay?: boolean;
  /** How long start() waits out retriable bus errors (a fresh cluster). Default 60 s. */
  startRetryMs?: number;
  /** Sealing function (default: age X25519 via sealCredential). */
  seal?: (secret: Record<string, string>, recipient: string) => Promise<string>;
}

export interface Issuer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Handles one elevation event as received (exposed for composition and tests); approvals are verified like consumed ones. */
  handle(event: AnyElevationEvent): Promise<void>;
}
