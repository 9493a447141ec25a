// The issuer: consumes `elevation.approved`, issues on the target's substrate, seals the
// credential to the requester and publishes `elevation.granted` — once per grant id.
import {
  EVENT_TYPES,
  TOPIC_ELEVATIONS,
  createElevationEvent,
  parseElevationEvent,
  checkProducer,
  describeRefusal,
  signCredential,
  type AnyElevationEvent,
  type ElevationApprovedData,
  type EventError,
  type EventSigner,
  type ProducerTrust,
} from '@jit/contracts';
import { BusPartitionLost, type BusMessage, type EventBus, type Subscription } from '@jit/bus';
import { JitError, isRetriable, retryRetriable } from '@jit/errors';
import { refusedEventsCounter, type Logger } from '@jit/observability';
import type { Issued, Substrate } from '@jit/substrates';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ApprovalCheck } from './approval-check';
import { IssueInterrupted, RecipientNotRegistered, SubstrateFailed, TargetUnresolved } from './errors';
import { sealCredential } from './seal';

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
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
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

const TERMINAL_FOR_GRANT = new Set(['granted', 'grant_failed', 'revoked', 'expired']);

export function createIssuer(options: IssuerOptions): Issuer {
  const { bus, substrates, targets, ledger, logger, notifier } = options;
  const source = options.source ?? '/jit/issuer';
  const groupId = options.groupId ?? 'jit-issuer';
  const attempts = options.retry?.attempts ?? 5;
  const baseMs = options.retry?.baseMs ?? 500;
  const maxMs = options.retry?.maxMs ?? 30_000;
  const now = options.now ?? (() => new Date());
  const inFlight = new Map<string, Promise<void>>();
  /**
   * `granted` events built here whose publish failed with a bus error (a broker restart can lose the
   * ack of a record it did write, or write one the producer gave up on), by grant id. The redelivery
   * announces that same event again - same id, so every consumer drops the copy - instead of
   * issuing a second credential.
   */
  const unconfirmed = new Map<string, AnyElevationEvent>();
  let subscription: Subscription | undefined;
  let stopping = false;

  const registers = options.registry ? [options.registry] : [];
  const refused = refusedEventsCounter(options.registry);
  const grants = new Counter({
    name: 'jit_grants_total',
    help: 'Grants by outcome (granted, failed, duplicate).',
    labelNames: ['outcome', 'substrate'],
    registers,
  });
  const mergeToGranted = new Histogram({
    name: 'jit_merge_to_granted_seconds',
    help: 'Time from the approved event (merge verified) to the granted event.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const issueDuration = new Histogram({
    name: 'jit_issue_duration_seconds',
    help: 'Duration of substrate.issue calls.',
    labelNames: ['substrate'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  });

  const alreadyDone = (data: ElevationApprovedData): boolean => {
    const view = ledger.get(data.elevationId);
    return !!view && view.grantId === data.grantId && TERMINAL_FOR_GRANT.has(view.state);
  };

  async function publish(event: AnyElevationEvent): Promise<void> {
    await bus.publish(TOPIC_ELEVATIONS, event.elevationid ?? event.subject ?? '', event);
    ledger.apply(event);
  }

  async function notify(data: ElevationApprovedData, markdown: string): Promise<void> {
    if (!notifier) return;
    try {
      await notifier.comment(data.projectId, data.mrIid, markdown);
    } catch (err) {
      logger.warn({ elevationId: data.elevationId, err: errorSummary(err) }, 'could not comment on the MR');
    }
  }

  async function issueWithRetry(substrate: Substrate, data: ElevationApprovedData, approvedAt: string, target: ResolvedTarget, owned: Owned): Promise<{ issued: Issued; attempt: number }> {
    // The grant's absolute expiry: the approval's time + the approved TTL. Every adapter bounds the
    // credential by it, so an issue that comes late (this replica paused after its ownership check,
    // a retry after an outage) never outlives the grant, and one past it creates nothing.
    const approved = Date.parse(approvedAt);
    const notAfter = Number.isFinite(approved) ? new Date(approved + data.ttlSeconds * 1000).toISOString() : undefined;
    for (let attempt = 1; ; attempt++) {
      // Not while another replica may hold the approval now (it issues the grant itself).
      await owned();
      const started = performance.now();
      try {
        const issued = await substrate.issue({
          grantId: data.grantId,
          elevationId: data.elevationId,
          requester: data.requester,
          target: data.target,
          scopeName: data.scope,
          scope: target.scope,
          connection: target.connection,
          ttlSeconds: data.ttlSeconds,
          ...(notAfter ? { notAfter } : {}),
        });
        issueDuration.observe({ substrate: substrate.name }, (performance.now() - started) / 1000);
        return { issued, attempt };
      } catch (err) {
        const retriable = isRetriable(err);
        logger.warn({ elevationId: data.elevationId, grantId: data.grantId, attempt, retriable, err: errorSummary(err) }, 'substrate issue failed');
        if (!retriable || attempt >= attempts || stopping) throw Object.assign(asJitError(err, substrate.name), { attempts: attempt });
        await delay(Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * A credential that cannot be revoked early (gcp-iam) is issued at most once per grant, across
   * restarts and replicas: the log records the attempt before the substrate is called, and an
   * attempt with no outcome means a credential may exist that was never delivered.
   */
  async function recordStart(substrate: Substrate, data: ElevationApprovedData, owned: Owned): Promise<void> {
    const view = ledger.get(data.elevationId);
    if (view?.grantId === data.grantId && view.grantStartedAt) throw IssueInterrupted(data.grantId, substrate.name, view.grantStartedAt);
    await owned();
    await publish(createElevationEvent(EVENT_TYPES.grantStarted, { elevationId: data.elevationId, grantId: data.grantId, substrate: substrate.name }, { source, idKey: data.grantId }));
  }

  /** After `granted` is on the log: metrics, the log line and the MR comment. */
  async function announced(data: ElevationApprovedData, granted: AnyElevationEvent, approvedAt: string, log: Logger): Promise<void> {
    const { substrate, expiresAt } = granted.data as { substrate: string; expiresAt: string };
    grants.inc({ outcome: 'granted', substrate });
    mergeToGranted.observe(Math.max(0, (Date.parse(granted.time) - Date.parse(approvedAt)) / 1000));
    log.info({ substrate, expiresAt }, 'granted');
    const where = options.credentialUrl ? ` Fetch it with \`jit credential ${data.elevationId}\` (${options.credentialUrl(data.elevationId)}).` : '';
    await notify(
      data,
      `**jit: granted** — ${data.scope} on ${data.target} for @${data.requester} until **${expiresAt}**. ` +
        `The credential is sealed to the request's recipient key.${where} It is revoked automatically at expiry; ` +
        'comment `/jit revoke` to end it sooner.',
    );
  }

  /**
   * `owned` (the bus's assertOwned) rejects with JIT_ERR_BUS_PARTITION_LOST once another replica may
   * hold this approval's partition (this one was paused or busy past its Kafka session): that
   * replica issues the grant and announces it, so this one neither issues nor announces from then
   * on. A credential this one issued before it noticed is superseded by the new owner's issue of the
   * same grant (adapters name what they create after the grant: same role with a new password, same
   * STS session name, earlier Vault credentials of the grant revoked), so one stays usable.
   */
  async function onApproved(data: ElevationApprovedData, approvedAt: string, owned: Owned = stillOwned): Promise<void> {
    if (alreadyDone(data)) {
      unconfirmed.delete(data.grantId);
      grants.inc({ outcome: 'duplicate', substrate: '' });
      logger.info({ elevationId: data.elevationId, grantId: data.grantId }, 'approval already handled; nothing issued');
      return;
    }
    const log = logger.child({ elevationId: data.elevationId, grantId: data.grantId });
    const again = unconfirmed.get(data.grantId);
    if (again) {
      log.info('announcing again a grant whose publish had an unknown outcome; nothing is issued twice');
      await owned().catch((err: unknown) => {
        if (BusPartitionLost.is(err)) unconfirmed.delete(data.grantId);
        throw err;
      });
      await publish(again); // a bus error: still unconfirmed, the bus redelivers `approved`
      unconfirmed.delete(data.grantId);
      await announced(data, again, approvedAt, log);
      return;
    }
    let substrateName = '';
    let unpublished: { substrate: Substrate; issued: Issued } | undefined;
    let announcing: AnyElevationEvent | undefined;
    try {
      await checkWithRetry(data);
      const target = await targets.resolve({
        target: data.target,
        scope: data.scope,
        policyVersion: data.policyVersion,
        mergeSha: data.mergeSha,
        grantId: data.grantId,
        elevationId: data.elevationId,
      });
      if (!target) throw TargetUnresolved(data.target, data.scope, data.policyVersion);
      // Only the requester may open what is sealed: the ratified version must register the key to them.
      const own = Object.entries(target.recipients).find(([u]) => u.toLowerCase() === data.requester.toLowerCase())?.[1] ?? [];
      if (!own.includes(data.recipient)) throw RecipientNotRegistered(data.requester, data.policyVersion);
      substrateName = target.substrate;
      const substrate = substrates.get(target.substrate);
      if (!substrate.canRevokeEarly) await recordStart(substrate, data, owned);
      const { issued } = await issueWithRetry(substrate, data, approvedAt, target, owned);
      unpublished = { substrate, issued };
      const sealedCredential = await (options.seal ?? sealCredential)(issued.secret, data.recipient);
      const credentialSignature = signCredential(options.signer, { elevationId: data.elevationId, grantId: data.grantId, expiresAt: issued.expiresAt, sealedCredential });
      const granted = createElevationEvent(
        EVENT_TYPES.granted,
        {
          elevationId: data.elevationId,
          grantId: data.grantId,
          target: data.target,
          scope: data.scope,
          substrate: substrate.name,
          handle: issued.handle,
          sealedCredential,
          issuedAt: now().toISOString(),
          expiresAt: issued.expiresAt,
          requester: data.requester,
          credentialSignature,
        },
        // One id per issuance: a second issue of the same grant (redelivery racing its own publish,
        // a second replica) replaces the credential, and its `granted` must not be dropped as a copy.
        { source, idKey: `${data.grantId}:${credentialSignature.signature}`, severity: data.breakGlass ? 'high' : 'info' },
      );
      // A bus error from here on (the check below could not reach the broker, or the publish failed)
      // keeps this `granted`: the redelivery announces it, never a second issue (whose expiry would
      // be the first one's: an STS grant cannot be issued again after it).
      announcing = granted;
      // The last check before the grant becomes visible: a replica that lost the partition while it
      // issued (paused, or slow past its session) leaves the announcement to the one that has it.
      await owned();
      await publish(granted);
      announcing = undefined;
      unpublished = undefined;
      await announced(data, granted, approvedAt, log);
    } catch (err) {
      if (isBusError(err)) {
        // A replica that lost the partition keeps nothing: the new owner's issue replaces its credential.
        if (announcing && !BusPartitionLost.is(err)) unconfirmed.set(data.grantId, announcing);
        // Not revoked here: its handle names what the new owner's credential shares (the role, the session name).
        if (BusPartitionLost.is(err)) log.warn({ issued: !!unpublished }, 'another replica holds this approval now; it issues and announces the grant, this one does not');
        throw err;
      }
      if (unpublished) {
        // Issued but never deliverable: end it now rather than leave it to the orphan sweep.
        await unpublished.substrate
          .revoke(unpublished.issued.handle)
          .catch((revokeErr: unknown) => log.error({ err: errorSummary(revokeErr) }, 'could not revoke an undeliverable credential; the orphan sweep will'));
      }
      const error = toEventError(err, substrateName);
      await owned();
      const failed = createElevationEvent(
        EVENT_TYPES.grantFailed,
        {
          elevationId: data.elevationId,
          grantId: data.grantId,
          error,
          attempts: (err as { attempts?: number }).attempts ?? 1,
        },
        { source, idKey: data.grantId },
      );
      await publish(failed);
      grants.inc({ outcome: 'failed', substrate: substrateName });
      log.error({ error }, 'grant failed');
      await notify(data, `**jit: grant failed** — ${error.message} (\`${error.code}\`). Nothing was issued; open a new request once the cause is fixed.`);
    }
  }

  async function checkWithRetry(data: ElevationApprovedData): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await options.approvalCheck.check(data);
      } catch (err) {
        if (!isRetriable(err) || attempt >= attempts || stopping) throw err;
        logger.warn({ elevationId: data.elevationId, attempt, err: errorSummary(err) }, 'could not check the approval with GitLab; retrying');
        await delay(Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
      }
    }
  }

  /** Whether the producer its type calls for signed `raw` (the event as received); refusals are logged and counted. */
  function trusted(raw: unknown, offset?: string): boolean {
    const check = checkProducer(options.trust, raw);
    if (check.ok) return true;
    const refusal = describeRefusal(check, raw);
    refused.inc({ consumer: 'issuer', ...refusal.labels });
    logger.warn({ ...refusal.fields, ...(offset ? { offset } : {}) }, refusal.message);
    return false;
  }

  /** Handles one event as received: only from the producer its type calls for (approvals: a gate). */
  async function handle(event: AnyElevationEvent, raw: unknown = event, offset?: string, owned?: Owned): Promise<void> {
    if (!trusted(raw, offset)) return;
    ledger.apply(event);
    if (event.type !== EVENT_TYPES.approved) return;
    const data = event.data as ElevationApprovedData;
    // Serialise per grant id within this process; the ledger covers redeliveries afterwards.
    const running = inFlight.get(data.grantId);
    if (running) return running;
    const job = onApproved(data, event.time, owned).finally(() => inFlight.delete(data.grantId));
    inFlight.set(data.grantId, job);
    return job;
  }

  async function onMessage(message: BusMessage): Promise<void> {
    const parsed = parseElevationEvent(message.event);
    if (!parsed.ok) {
      logger.warn({ offset: message.offset, error: parsed.error.message }, 'skipping an invalid event');
      return;
    }
    await handle(parsed.event, message.event, message.offset, message.assertOwned);
  }

  return {
    handle,
    async start() {
      // A fresh Kafka cluster answers NOT_LEADER / NOT_COORDINATOR for a while: wait those out.
      await retryRetriable(
        async () => {
          if (!options.skipReplay) {
            await bus.replay(TOPIC_ELEVATIONS, (m) => {
              const parsed = parseElevationEvent(m.event);
              if (parsed.ok && checkProducer(options.trust, m.event).ok) ledger.apply(parsed.event);
            });
          }
          subscription = await bus.subscribe({ topic: TOPIC_ELEVATIONS, groupId, handler: onMessage });
        },
        { timeoutMs: options.startRetryMs ?? 60_000, cancelled: () => stopping, onRetry: (err, attempt) => logger.warn({ attempt, err: errorSummary(err) }, 'bus not ready at start; retrying') },
      );
    },
    async stop() {
      stopping = true;
      await subscription?.stop();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

/** Resolves while this replica still holds the approval's partition (BusMessage.assertOwned). */
type Owned = () => Promise<void>;
const stillOwned: Owned = async () => undefined;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isBusError(err: unknown): boolean {
  return err instanceof JitError && err.code.startsWith('JIT_ERR_BUS_');
}

function asJitError(err: unknown, substrate: string): JitError {
  if (err instanceof JitError) return err;
  return SubstrateFailed(substrate, err instanceof Error ? err.name : 'unknown error', { retriable: isRetriable(err), cause: err });
}

/** Secret-free error data for events: only our own catalogue messages are passed through. */
function toEventError(err: unknown, substrate: string): EventError {
  const e = err instanceof JitError ? err : asJitError(err, substrate || 'unknown');
  return { code: e.code, message: e.message.slice(0, 2000), retriable: e.retriable };
}

function errorSummary(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, message: err.message, retriable: err.retriable };
  return { name: err instanceof Error ? err.name : typeof err };
}
