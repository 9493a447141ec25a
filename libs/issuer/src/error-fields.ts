// Errors as the issuer reports them: secret-free fields for events and logs (our own catalogue's
// codes and messages only, never a substrate's raw text), and which errors are the bus's.
import type { EventError } from '@jit/contracts';
import { JitError, isRetriable } from '@jit/errors';
import { SubstrateFailed } from './errors';

export function isBusError(err: unknown): boolean {
  return err instanceof JitError && err.code.startsWith('JIT_ERR_BUS_');
}

export function asJitError(err: unknown, substrate: string): JitError {
  if (err instanceof JitError) return err;
  return SubstrateFailed(substrate, err instanceof Error ? err.name : 'unknown error', { retriable: isRetriable(err), cause: err });
}

/** Secret-free error data for events: only our own catalogue messages are passed through. */
export function toEventError(err: unknown, substrate: string): EventError {
  const e = asJitError(err, substrate || 'unknown');
  return { code: e.code, message: e.message.slice(0, 2000), retriable: e.retriable };
}

export function errorSummary(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, message: err.message, retriable: err.retriable };
  return { name: err instanceof Error ? err.name : typeof err };
}
