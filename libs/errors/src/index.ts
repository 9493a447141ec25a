export { JitError, defineError, isRetriable } from './jit-error';
export type { JitErrorOptions, ErrorDefinition, ErrorFactory } from './jit-error';
export { retryRetriable } from './retry';
export type { RetryOptions } from './retry';
export { EXPIRED_CERT_CODES, HOSTNAME_CERT_CODE, UNTRUSTED_CERT_CODES } from './tls-codes';
