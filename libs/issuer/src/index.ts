export { createIssuer } from './issuer';
export type { ElevationView, Issuer, IssuerOptions, LedgerView, MrNotifier, ResolvedTarget, TargetResolver } from './issuer';
export { createGitlabApprovalCheck } from './approval-check';
export type { ApprovalCheck, GitlabApprovalCheckOptions } from './approval-check';
export { generateAgeIdentity, openCredential, sealCredential } from './seal';
export { ApprovalMismatch, CredentialGone, CredentialNotFound, SealFailed, SubstrateFailed, TargetUnresolved } from './errors';
