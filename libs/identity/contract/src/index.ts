// @jit/identity-contract: who is calling an API (Caller), the resolver interface and the
// JIT_ERR_AUTH_* catalogue. The implementation (GitLab tokens, CI ID tokens, the fastify plugin)
// is @jit/identity.
export { callerOf, sameUser } from './caller';
export type { Caller, CallerResolver, CallerTokenKind, CiJobClaims } from './caller';
export {
  AuthHeaderTooLarge,
  AuthIdTokenInvalid,
  AuthIdTokenProjectRefused,
  AuthIdTokensDisabled,
  AuthMalformed,
  AuthMissing,
  AuthSchemeUnsupported,
  AuthTokenRefused,
  AuthUnavailable,
} from './errors';
