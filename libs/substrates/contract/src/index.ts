export type { Finding, IssueRequest, Issued, LeftoverObject, Problem, RevocationHandle, RevokeReport, Substrate, VerifyResult } from './substrate';
export { defineSubstrate } from './define-substrate';
export type { SubstrateDefinition, SubstrateDeps, SubstrateFacts } from './define-substrate';
export { SubstrateRegistry } from './substrate-registry';
export type { SubstrateRegistryOptions } from './substrate-registry';
export { credentialEnv, defineCredentialShape } from './credential-shape';
export type { CredentialEnvResult, CredentialShape } from './credential-shape';
export { nameAfterGrant } from './name-after-grant';
export { grantWindow } from './grant-window';
export type { GrantWindow } from './grant-window';
export type { NameAfterGrantOptions } from './name-after-grant';
export {
  SUBSTRATE_ERRORS,
  SubstrateDenied,
  SubstrateDuplicate,
  SubstrateFailed,
  SubstrateGrantExpired,
  SubstrateInvalidConfig,
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  SubstrateUnknownInstance,
  SubstrateUnknownKind,
  SubstrateUnreachable,
  SubstrateUpstreamFailed,
  classifySubstrateError,
} from './errors';
export { connectionRefKeys, envRefLookup, fileRefProblem, parseSecretRef, resolveConnectionRefs, secretRefLookup } from './connection-refs';
export type { RefLookup } from './connection-refs';
export { AUTH_EXPIRES_METRIC, reportAuthExpiry } from './auth-expiry';
export type { AuthExpirySource } from './auth-expiry';
