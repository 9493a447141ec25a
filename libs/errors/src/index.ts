export { JitError, defineError, isRetriable } from './jit-error';
export type { JitErrorOptions, ErrorDefinition, ErrorFactory } from './jit-error';
export { retryRetriable } from './retry';
export type { RetryOptions } from './retry';
