// Error catalogue shared by every substrate adapter and the registry. Adapters throw these
// (or classifySubstrateError's result) so the issuer/revoker can decide retry vs. dead-letter
// from `retriable` alone. Messages never carry a secret: no URLs, passwords or tokens.
import { defineError, JitError } from '@jit/errors';

export const SubstrateUnreachable = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_UNREACHABLE',
  'substrate %s could not be reached (%s); check that the server is up and reachable, the call will be retried',
  { retriable: true, statusCode: 503 },
);

export const SubstrateUpstreamFailed = defineError<[string, string]>('JIT_ERR_SUBSTRATE_UPSTREAM', 'substrate %s answered with a server-side error (%s); the call will be retried', {
  retriable: true,
  statusCode: 502,
});

export const SubstrateDenied = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_DENIED',
  'substrate %s refused the admin credential (%s); give the configured connection the rights the adapter README lists',
  { retriable: false, statusCode: 502 },
);

export const SubstrateRejected = defineError<[string, string]>('JIT_ERR_SUBSTRATE_REJECTED', 'substrate %s rejected the request (%s); fix the scope or target configuration in policy.yaml', {
  retriable: false,
  statusCode: 422,
});

export const SubstrateInvalidScope = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_INVALID_SCOPE',
  'scope for substrate %s is invalid: %s; correct it in policy.yaml (see the adapter README for the grammar)',
  { retriable: false, statusCode: 422 },
);

export const SubstrateInvalidConfig = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_INVALID_CONFIG',
  'configuration for substrate instance %s is invalid: %s; fix these keys where the app reads its config',
  { retriable: false, statusCode: 500 },
);

export const SubstrateInvalidHandle = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_INVALID_HANDLE',
  'revocation handle is not one substrate %s can act on: %s; it was not produced by this adapter or was altered',
  { retriable: false, statusCode: 422 },
);

export const SubstrateTtlTooLong = defineError<[string, number, number]>(
  'JIT_ERR_SUBSTRATE_TTL_TOO_LONG',
  'substrate %s cannot honour a TTL of %s s (its limit is %s s); lower the tier ttlMax or the requested ttl',
  { retriable: false, statusCode: 422 },
);

export const SubstrateUnknownKind = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_UNKNOWN_KIND',
  'no substrate adapter of kind %s is registered (known: %s); register its definition before configuring instances',
  { retriable: false, statusCode: 500 },
);

export const SubstrateUnknownInstance = defineError<[string, string]>(
  'JIT_ERR_SUBSTRATE_UNKNOWN_INSTANCE',
  'no substrate instance named %s is configured (configured: %s); add it to the app configuration',
  { retriable: false, statusCode: 500 },
);

export const SubstrateDuplicate = defineError<[string, string]>('JIT_ERR_SUBSTRATE_DUPLICATE', '%s %s is registered twice; each kind and each instance name must be unique', {
  retriable: false,
  statusCode: 500,
});

export const SubstrateFailed = defineError<[string, string]>('JIT_ERR_SUBSTRATE_FAILED', 'substrate %s failed: %s; see the cause in the service log and the adapter README', {
  retriable: false,
  statusCode: 500,
});

/** The grant's absolute expiry (`notAfter`) has passed, or is less than a second away: nothing is created. */
export const SubstrateGrantExpired = defineError<[string, string, string]>(
  'JIT_ERR_SUBSTRATE_GRANT_EXPIRED',
  'substrate %s: grant %s expires at %s, so it is not issued now (a credential would outlive the grant); nothing was created; open a new elevation request',
  { retriable: false, statusCode: 409 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const SUBSTRATE_ERRORS = [
  SubstrateUnreachable,
  SubstrateUpstreamFailed,
  SubstrateDenied,
  SubstrateRejected,
  SubstrateInvalidScope,
  SubstrateInvalidConfig,
  SubstrateInvalidHandle,
  SubstrateTtlTooLong,
  SubstrateUnknownKind,
  SubstrateUnknownInstance,
  SubstrateDuplicate,
  SubstrateFailed,
  SubstrateGrantExpired,
] as const;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

function propOf(err: unknown, key: string): unknown {
  return err && typeof err === 'object' && key in err ? (err as Record<string, unknown>)[key] : undefined;
}

/** HTTP status of a foreign error, wherever the client library put it. */
function statusOf(err: unknown): number | undefined {
  for (const v of [
    propOf(err, 'statusCode'),
    propOf(err, 'status'),
    propOf(propOf(err, 'response'), 'statusCode'),
    propOf(propOf(err, 'response'), 'status'),
    propOf(propOf(err, '$metadata'), 'httpStatusCode'),
  ]) {
    if (typeof v === 'number') return v;
  }
  return undefined;
}

function networkCodeOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const code = propOf(err, 'code');
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  const errors = propOf(err, 'errors');
  if (Array.isArray(errors))
    for (const e of errors) {
      const c = networkCodeOf(e, depth + 1);
      if (c) return c;
    }
  return networkCodeOf(propOf(err, 'cause'), depth + 1);
}

/**
 * Map a foreign client error (pg, node-vault, AWS SDK, gax) to a catalogue error, keeping it
 * as `cause`. `operation` is a short secret-free label such as `create role` or `token create`.
 * The foreign message is NOT copied into ours: client messages can echo request bodies.
 * `classify` lets an adapter decide first (e.g. pg SQLSTATE 42501 = denied); return undefined
 * to fall through to the generic network/HTTP rules.
 */
export function classifySubstrateError(substrate: string, operation: string, err: unknown, classify?: (err: unknown) => JitError | undefined): JitError {
  if (err instanceof JitError) return err;
  const own = classify?.(err);
  if (own) return own;
  const net = networkCodeOf(err);
  if (net) return SubstrateUnreachable(substrate, `${operation}: ${net}`, { cause: err });
  const status = statusOf(err);
  if (status !== undefined) {
    const what = `${operation}: HTTP ${status}`;
    if (status >= 500 || status === 429 || status === 408) return SubstrateUpstreamFailed(substrate, what, { cause: err });
    if (status === 401 || status === 403) return SubstrateDenied(substrate, what, { cause: err });
    if (status >= 400) return SubstrateRejected(substrate, what, { cause: err });
  }
  const name = propOf(err, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return SubstrateUnreachable(substrate, `${operation}: ${String(name)}`, { cause: err });
  return SubstrateFailed(substrate, `${operation}: unexpected error`, { cause: err });
}
