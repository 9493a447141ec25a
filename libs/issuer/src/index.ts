export { createIssuer } from './issuer';
export type { ElevationView, Issuer, IssuerOptions, LedgerView, MrNotifier, ResolvedTarget, TargetResolver } from './issuer';
export { generateAgeIdentity, openCredential, sealCredential } from './seal';
export { CredentialGone, CredentialNotFound, SealFailed, SubstrateFailed, TargetUnresolved } from './errors';
