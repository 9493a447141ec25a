// Stopping the all-in-one process part by part, in reverse order of start: one part that does not
// stop must not keep the others (the bus and its lock above all) from stopping, so each gets a
// bound, then the next one goes.
import type { Logger } from '@jit/observability';

/** How long one part of the process may take to stop before the next one is stopped anyway. */
export const CLOSE_STEP_MS = 10_000;

export interface Closers {
  /** Stopped in reverse order of registration. */
  closers: Array<() => Promise<unknown>>;
  /** Run after everything else (the bus included): what no other part needs while it stops. */
  lastClosers: Array<() => Promise<unknown>>;
  close(): Promise<void>;
}

export function createClosers(logger: Logger): Closers {
  const closers: Array<() => Promise<unknown>> = [];
  const lastClosers: Array<() => Promise<unknown>> = [];
  const bounded = async (c: () => Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), CLOSE_STEP_MS);
      timer.unref();
    });
    const outcome = await Promise.race([c().catch((err: Error) => logger.warn({ err: err.message }, 'error while stopping')), late]);
    clearTimeout(timer);
    if (outcome === 'late') logger.warn({ boundMs: CLOSE_STEP_MS }, 'a part did not stop in time; going on with the others');
  };
  return {
    closers,
    lastClosers,
    async close() {
      for (const c of [...closers.reverse(), ...lastClosers]) await bounded(c);
    },
  };
}
