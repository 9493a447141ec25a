// The issuer: consumes `elevation.approved`, issues on the target's substrate, seals the
// credential to the requester and publishes `elevation.granted` — once per grant id. This file
// owns the flow of one approval and the lifecycle (see README.md for the other files).
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
} from '@jit/contracts';
import { BusPartitionLost, type BusMessage, type Subscription } from '@jit/bus';
import { retryRetriable } from '@jit/errors';
import { refusedEventsCounter, type Logger } from '@jit/observability';
import type { Issued, Substrate } from '@jit/substrates';
import { asJitError, errorSummary, isBusError, toEventError } from './error-fields';
import { IssueInterrupted, RecipientNotRegistered, TargetUnresolved } from './errors';
import { issueDeadline, retryUntil } from './issue-retry';
import { createIssuerMetrics } from './issuer-metrics';
import type { Issuer, IssuerOptions, ResolvedTarget } from './issuer-types';
import { sealCredential } from './seal';

export type { ElevationView, Issuer, IssuerOptions, LedgerView, MrNotifier, ResolvedTarget, TargetResolver } from './issuer-types';

const TERMINAL_FOR_GRANT = new Set(['granted', 'grant_failed', 'revoked', 'expired']);

export function createIssuer(options: IssuerOptions): Issuer {
  const { bus, substrates, targets, ledger, logger, notifier } = options;
  const source = options.source ?? '/jit/issuer';
  const groupId = options.groupId ?? 'jit-issuer';
  const retry = options.retry ?? {};
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

  const refused = refusedEventsCounter(options.registry);
  const { grants, mergeToGranted, issueDuration } = createIssuerMetrics(options.registry);

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

  /** Retries what another attempt may cure until the approval's retry deadline (issue-retry.ts); never the bus's errors. */
  const untilDeadline = <T>(fn: (attempt: number) => Promise<T>, what: string, deadline: number, log: Logger) =>
    retryUntil(fn, { ...retry, deadline, what, logger: log, stopping: () => stopping, final: isBusError });

  async function issueWithRetry(substrate: Substrate, data: ElevationApprovedData, approvedAt: string, target: ResolvedTarget, owned: Owned, deadline: number, log: Logger): Promise<Issued> {
    // The grant's absolute expiry: the approval's time + the approved TTL. Every adapter bounds the
    // credential by it, so an issue that comes late (this replica paused after its ownership check,
    // a retry after an outage) never outlives the grant, and one past it creates nothing.
    const approved = Date.parse(approvedAt);
    const notAfter = Number.isFinite(approved) ? new Date(approved + data.ttlSeconds * 1000).toISOString() : undefined;
    const attempt = async (): Promise<Issued> => {
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
        return issued;
      } catch (err) {
        throw asJitError(err, substrate.name);
      }
    };
    return untilDeadline(attempt, `substrate ${substrate.name} issue`, deadline, log);
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
    // one budget for the whole issue: GitLab's check and the substrate's issue share it
    const deadline = issueDeadline(approvedAt, data.ttlSeconds, retry);
    try {
      await untilDeadline(() => options.approvalCheck.check(data), 'the GitLab approval check', deadline, log);
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
      const issued = await issueWithRetry(substrate, data, approvedAt, target, owned, deadline, log);
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
