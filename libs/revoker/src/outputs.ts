// What the revoker says: events on jit.elevations.v1, comments on the MR, and error fields for
// events and logs (codes and messages of the catalogue only: never a substrate's raw error text).
import { TOPIC_ELEVATIONS, type AnyElevationEvent, type EventError } from '@jit/contracts';
import type { EventBus } from '@jit/bus';
import { JitError, isRetriable } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { MrNotifier } from './revoker-types';

export type Publish = (event: AnyElevationEvent) => Promise<void>;
export type Notify = (elevationId: string, markdown: string) => Promise<void>;

export function createPublish(bus: EventBus): Publish {
  return async (event) => {
    await bus.publish(TOPIC_ELEVATIONS, event.elevationid ?? event.subject ?? '', event);
  };
}

/** Comments on the elevation's MR; a failure is logged, never thrown (the revocation stands). */
export function createNotify(notifier: MrNotifier | undefined, logger: Logger): Notify {
  return async (elevationId, markdown) => {
    if (!notifier) return;
    const m = /^gl-(\d+)-(\d+)$/.exec(elevationId);
    if (!m) return;
    try {
      await notifier.comment(Number(m[1]), Number(m[2]), markdown);
    } catch (err) {
      logger.warn({ elevationId, err: summary(err) }, 'could not comment on the MR');
    }
  };
}

export function toEventError(err: JitError): EventError {
  return { code: err.code, message: err.message.slice(0, 2000), retriable: isRetriable(err) };
}

export function summary(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, message: err.message };
  return { name: err instanceof Error ? err.name : typeof err };
}
