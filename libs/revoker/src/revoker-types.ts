// The revoker's public shapes: its options, the substrates and MR notifier it is given, the live
// grants it schedules, and the Revoker itself.
import type { EventBus } from '@jit/bus';
import type { ProducerTrust, RevocationHandleData } from '@jit/contracts';
import type { Logger } from '@jit/observability';
import type { RevocationHandle, Substrate } from '@jit/substrates';
import type { Registry } from 'prom-client';

export interface MrNotifier {
  comment(projectId: number, mrIid: number, markdown: string): Promise<void>;
}

export interface SubstrateLookup {
  /** The instance that issued a handle. Throws when it is not configured here. */
  forHandle(handle: RevocationHandle): Substrate;
  list(): Substrate[];
}

export interface RevokerOptions {
  bus: EventBus;
  /**
   * The keys this revoker trusts per producer: an `elevation.granted` not signed by an issuer key is
   * refused (logged, counted), so a forged one can neither schedule nor postpone a revocation; a
   * `revoked`/`expired` not signed by a revoker key does not take a grant off the schedule; only a
   * gate-signed `approved` sets the TTL that caps a grant's expiry.
   */
  trust: ProducerTrust;
  substrates: SubstrateLookup;
  logger: Logger;
  notifier?: MrNotifier;
  registry?: Registry;
  groupId?: string;
  source?: string;
  /** Backoff of failed revocations: base doubling up to max; never gives up. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Periodic reconciliation + orphan sweep; 0 disables the timer (start still runs one). */
  sweepIntervalMs?: number;
  /** An approved grant not yet granted is left alone this long before its credential counts as orphan. */
  orphanGraceMs?: number;
  /** How long start and rebalances wait out retriable bus errors (a fresh cluster). Default 60 s. */
  startRetryMs?: number;
  /** Parallel revocations at once. */
  concurrency?: number;
  now?: () => number;
}

export interface LiveGrant {
  elevationId: string;
  grantId: string;
  /** The newest handle (named by the `revoked` event). */
  handle: RevocationHandleData;
  /** Every distinct handle the grant was issued with (more than one: a duplicate issue); each is revoked and verified. */
  handles: RevocationHandleData[];
  expiresAt: number;
  partition: number;
  /** When revocation is due and why. */
  dueAt: number;
  cause: 'ttl' | 'requested' | 'reconciliation';
  attempt: number;
}

export interface Revoker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Live grants this replica owns (read-only view for metrics and tests). */
  live(): ReadonlyMap<string, LiveGrant>;
  /** Runs reconciliation and the orphan sweep now. */
  sweep(): Promise<{ orphans: number }>;
  /** Resolves once every signature the last rebuild left unchecked is checked (its provisional grants confirmed). */
  confirmed(): Promise<void>;
}
