// One webhook delivery's state from onRequest to onResponse (a request decorator, so every request
// has the same shape), and the small helpers that read a delivery's headers and describe its outcome.
import type { FastifyRequest } from 'fastify';
import { JitError } from '@jit/errors';
import { DELIVERY_ID_RE } from './dedupe-store';
import type { DeliveryOutcome } from './ingest-metrics';

export interface DeliveryState {
  outcome?: DeliveryOutcome;
  deliveryId?: string;
  event?: string;
  action?: string | null;
  projectId?: number;
  mrIid?: number;
  reason?: string;
}

/** Request decorator holding the delivery's state from onRequest to onResponse. */
export const DELIVERY_STATE = 'jitWebhookDelivery';
declare module 'fastify' {
  interface FastifyRequest {
    [DELIVERY_STATE]: DeliveryState | null;
  }
}

export function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** `{ [name]: value }` when value is a well-formed id; junk in informational headers is dropped, not carried. */
export function optionalId(name: string, value: string | undefined): Record<string, string> {
  return value !== undefined && DELIVERY_ID_RE.test(value) ? { [name]: value } : {};
}

export function errorSummary(err: unknown): Record<string, unknown> {
  if (err instanceof JitError) return { code: err.code, message: err.message, retriable: err.retriable };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { message: String(err) };
}

export function outcomeOfStatus(status: number): DeliveryOutcome {
  if (status === 401) return 'unauthorized';
  if (status === 413) return 'too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'malformed';
  return status === 202 ? 'accepted' : 'ignored';
}
