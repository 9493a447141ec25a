export { JitError, defineError, isRetriable } from './jit-error';
export type { JitErrorOptions, ErrorDefinition, ErrorFactory } from './jit-error';
