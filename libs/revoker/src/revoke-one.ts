// Revoking one grant: on the substrate that issued it (or, for one that cannot revoke early, an
// honest "not before its expiry" and then `expired`), verified where the substrate can probe, then
// announced (`revoked`) and commented on the MR; a failure is retried with capped exponential
// backoff, never given up (ADR 0012), each attempt announced as `revoke.failed`. A grant issued more
// than once has several handles: each is revoked and verified before the grant counts as revoked.
import { EVENT_TYPES, createElevationEvent } from '@jit/contracts';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { RevocationHandle } from '@jit/substrates';
import type { DueQueue } from './due-queue';
import { CannotRevokeEarly, RevokeFailed } from './errors';
import { leftoversMarkdown, leftoversOf } from './leftovers';
import { summary, toEventError, type Notify, type Publish } from './outputs';
import type { RevokerMetrics } from './revoker-metrics';
import type { LiveGrant, SubstrateLookup } from './revoker-types';
import { handleKey } from './schedule-fold';

/** A retriable revocation failure is logged as an error (someone should look) from this attempt on. */
const ESCALATE_AFTER_ATTEMPTS = 3;

export interface RevokeOneOptions {
  substrates: SubstrateLookup;
  logger: Logger;
  source: string;
  now: () => number;
  /** Backoff of failed attempts: baseMs doubling up to maxMs. */
  baseMs: number;
  maxMs: number;
  publish: Publish;
  notify: Notify;
  metrics: Pick<RevokerMetrics, 'revocations' | 'lateness'>;
  /** The schedule's due queue: a retry or a wait for natural expiry is queued on it. */
  queue: DueQueue;
  /** The grant ended (off the schedule, counted). */
  finish(g: LiveGrant, outcome: 'revoked' | 'expired', substrate: string): void;
}

export function createRevokeOne(options: RevokeOneOptions): (g: LiveGrant) => Promise<void> {
  const { substrates, logger, source, now, baseMs, maxMs, publish, notify, queue, finish } = options;
  const { revocations, lateness } = options.metrics;
  const pending = (g: LiveGrant, done: ReadonlySet<string>) => (g.handles.length ? g.handles : [g.handle]).filter((h) => !done.has(handleKey(h)));
  /**
   * Revokes and verifies every handle of the grant, the newest last (what a retry meets again is
   * idempotent: gone = success). A handle that arrives while this runs (a duplicate issue announced
   * meanwhile) is revoked too before the grant is announced revoked.
   */
  async function revokeEvery(g: LiveGrant, done = new Set<string>()): Promise<{ leftovers: ReturnType<typeof leftoversOf>; verified: boolean; verifyDetail?: string; done: Set<string> }> {
    const leftovers: ReturnType<typeof leftoversOf> = [];
    const details: string[] = [];
    let verified = true;
    for (let next = pending(g, done); next.length > 0; next = pending(g, done)) {
      for (const handle of next) {
        // each handle on the substrate that issued it (g.handle may have moved on to a later issue)
        const substrate = substrates.forHandle(handle as RevocationHandle);
        leftovers.push(...leftoversOf(await substrate.revoke(handle as RevocationHandle)));
        if (substrate.verifyRevoked) {
          const v = await substrate.verifyRevoked(handle as RevocationHandle);
          verified &&= v.verified;
          if (v.detail) details.push(v.detail);
        } else {
          verified = false;
          details.push(`${substrate.kind} offers no probe`);
        }
        done.add(handleKey(handle));
      }
    }
    const many = done.size > 1 ? `${done.size} credentials of this grant: ` : '';
    return { leftovers: leftovers.slice(0, 200), verified, done, ...(details.length ? { verifyDetail: `${many}${details.join('; ')}` } : {}) };
  }

  return async function revokeOne(g: LiveGrant): Promise<void> {
    const log = logger.child({ elevationId: g.elevationId, grantId: g.grantId });
    let substrateName = g.handle.instance ?? g.handle.kind;
    try {
      const substrate = substrates.forHandle(g.handle as RevocationHandle);
      substrateName = substrate.name;
      if (!substrate.canRevokeEarly) {
        if (now() < g.expiresAt) {
          // Answer honestly, then wait for natural expiry.
          const err = CannotRevokeEarly(substrate.name, new Date(g.expiresAt).toISOString());
          await publish(
            createElevationEvent(
              EVENT_TYPES.revokeFailed,
              { elevationId: g.elevationId, grantId: g.grantId, attempt: 1, nextAttemptAt: new Date(g.expiresAt).toISOString(), error: toEventError(err) },
              { source, idKey: `${g.grantId}:early` },
            ),
          );
          await notify(g.elevationId, `**jit:** ${err.message}.`);
          g.dueAt = g.expiresAt;
          g.cause = 'ttl';
          queue.set(g.grantId, g.dueAt);
          return;
        }
        await publish(
          createElevationEvent(
            EVENT_TYPES.expired,
            { elevationId: g.elevationId, grantId: g.grantId, expiredAt: new Date(g.expiresAt).toISOString(), note: `${substrate.kind} credentials end at their natural expiry` },
            { source, idKey: g.grantId },
          ),
        );
        finish(g, 'expired', substrate.name);
        await notify(g.elevationId, `**jit: expired** — the credential reached its natural expiry at ${new Date(g.expiresAt).toISOString()}.`);
        return;
      }
      const { leftovers, verified, verifyDetail, done } = await revokeEvery(g);
      const revokedAt = now();
      const latenessMs = Math.round(revokedAt - g.dueAt);
      await publish(
        createElevationEvent(
          EVENT_TYPES.revoked,
          {
            elevationId: g.elevationId,
            grantId: g.grantId,
            handle: g.handle,
            verified,
            ...(verifyDetail ? { verifyDetail: verifyDetail.slice(0, 2000) } : {}),
            revokedAt: new Date(revokedAt).toISOString(),
            latenessMs,
            cause: g.cause,
            ...(leftovers.length ? { leftovers } : {}),
          },
          { source, idKey: g.grantId },
        ),
      );
      // A duplicate issue folded while `revoked` was being published added a handle: it is revoked
      // too before the grant leaves the schedule (finish forgets every handle of the grant).
      while (pending(g, done).length > 0) {
        log.warn({ handles: pending(g, done).length }, 'another credential of this grant was announced while its revocation was published; revoking it too');
        await revokeEvery(g, done);
      }
      lateness.observe(Math.max(0, latenessMs) / 1000);
      finish(g, 'revoked', substrate.name);
      log.info({ verified, latenessMs, cause: g.cause }, 'revoked');
      await notify(
        g.elevationId,
        `**jit: revoked** (${g.cause === 'requested' ? 'on request' : g.cause === 'reconciliation' ? 'overdue, by reconciliation' : 'at expiry'}) — ` +
          `${verified ? 'verified: the credential no longer works' : 'not verified by a probe'}; lateness ${latenessMs} ms.` +
          leftoversMarkdown(leftovers),
      );
    } catch (err) {
      g.attempt++;
      const wait = Math.min(maxMs, baseMs * 2 ** (g.attempt - 1));
      // g.dueAt stays the original due time, so the lateness finally reported includes the retries.
      const retryAt = now() + wait;
      const error = toEventError(err instanceof JitError ? err : RevokeFailed(substrateName, err instanceof Error ? err.name : 'unknown error'));
      // A retriable failure the next attempt may well fix is a warning; error level is for what
      // needs a human: a failure no retry can fix, or one that keeps coming back.
      const needsHuman = !error.retriable || g.attempt >= ESCALATE_AFTER_ATTEMPTS;
      log[needsHuman ? 'error' : 'warn']({ attempt: g.attempt, nextInMs: wait, error }, needsHuman ? 'revocation failed; retrying — needs attention' : 'revocation failed; retrying');
      revocations.inc({ outcome: 'failed', substrate: substrateName });
      queue.set(g.grantId, retryAt);
      try {
        await publish(
          createElevationEvent(
            EVENT_TYPES.revokeFailed,
            { elevationId: g.elevationId, grantId: g.grantId, attempt: g.attempt, nextAttemptAt: new Date(retryAt).toISOString(), error },
            { source, idKey: `${g.grantId}:${g.attempt}` },
          ),
        );
      } catch (publishErr) {
        log.error({ err: summary(publishErr) }, 'could not publish revoke.failed; the retry is still scheduled');
      }
    }
  };
}
