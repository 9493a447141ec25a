// AWS failures as jit errors: which AWS error names mean denied, rejected or retriable, and a
// scrubbed cause that keeps the error name, HTTP status and network code but nothing AWS wrote
// (messages can quote policies, ARNs or request data).
import { JitError } from '@jit/errors';
import { SubstrateDenied, SubstrateRejected, SubstrateUpstreamFailed, classifySubstrateError } from '@jit/substrates';
import { AwsStsIamLimit, AwsStsNoCredentials } from './errors';

const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  // the web-identity exchange: the token's issuer, audience or subject is not trusted by the role
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'IDPRejectedClaim',
  'IDPRejectedClaimException',
]);
const REJECTED = new Set([
  'NoSuchEntity',
  'NoSuchEntityException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'ValidationError',
  'InvalidInput',
  'InvalidInputException',
  'InvalidParameterValue',
  'RegionDisabledException',
]);
const UPSTREAM = new Set([
  'Throttling',
  'ThrottlingException',
  'ServiceFailure',
  'ServiceFailureException',
  'ServiceUnavailable',
  'RequestLimitExceeded',
  'ConcurrentModification',
  'ConcurrentModificationException',
]);

export function errName(err: unknown): string | undefined {
  const n = (err as { name?: unknown })?.name;
  return typeof n === 'string' ? n : undefined;
}
/** First string `code` (ECONNREFUSED, ...) on the error, its `errors` or its `cause` chain. */
function codeOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors))
    for (const x of e.errors) {
      const c = codeOf(x, depth + 1);
      if (c) return c;
    }
  return codeOf(e.cause, depth + 1);
}

/**
 * The cause we keep: the AWS error name, HTTP status, retry hint and network code, and nothing
 * the server or SDK wrote (messages can quote policies, ARNs or request data).
 */
function scrub(err: unknown): Error {
  const name = errName(err) ?? 'Error';
  const status = (err as { $metadata?: { httpStatusCode?: unknown } })?.$metadata?.httpStatusCode;
  const code = codeOf(err);
  const out = new Error(`aws ${name}${typeof status === 'number' ? ` (HTTP ${status})` : ''}${code ? ` ${code}` : ''}`);
  out.name = name;
  return Object.assign(out, {
    ...(typeof status === 'number' ? { $metadata: { httpStatusCode: status } } : {}),
    ...((err as { $retryable?: unknown })?.$retryable ? { $retryable: true } : {}),
    ...(code ? { code } : {}),
  });
}

export function isNoSuchEntity(err: unknown): boolean {
  const n = errName(err);
  return n === 'NoSuchEntity' || n === 'NoSuchEntityException';
}

/** The jit error for an AWS failure of `operation` on substrate `name` (`role` names the role in IAM limit errors). */
export function awsFailure(name: string, operation: string, err: unknown, role?: string): JitError {
  return classifySubstrateError(name, operation, err instanceof JitError ? err : scrub(err), (e) => {
    const n = errName(e);
    if (!n) return undefined;
    const what = `${operation}: ${n}`;
    // No source of the chain had credentials (the token file missing, no IMDS): the SDK's message names them, never a value.
    if (n === 'CredentialsProviderError') return AwsStsNoCredentials(name, operation, { cause: e });
    if (n === 'LimitExceeded' || n === 'LimitExceededException') return AwsStsIamLimit(role ?? '?', what, { cause: e });
    if (DENIED.has(n)) return SubstrateDenied(name, what, { cause: e });
    if (REJECTED.has(n)) return SubstrateRejected(name, what, { cause: e });
    if (UPSTREAM.has(n) || (e as { $retryable?: unknown }).$retryable) return SubstrateUpstreamFailed(name, what, { cause: e });
    return undefined;
  });
}

/** A jit error whose cause is IAM's NoSuchEntity (the role, or a policy, is gone). */
export function isGone(err: unknown): boolean {
  return err instanceof JitError && isNoSuchEntity(err.cause);
}
