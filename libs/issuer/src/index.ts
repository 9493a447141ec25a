export { createIssuer } from './issuer';
export type { ElevationView, Issuer, IssuerOptions, LedgerView, MrNotifier, ResolvedTarget, TargetResolver } from './issuer-types';
export type { IssueRetryOptions } from './issue-retry';
export { createGitlabApprovalCheck } from './approval-check';
export type { ApprovalCheck, GitlabApprovalCheckOptions } from './approval-check';
export { generateAgeIdentity, openCredential, sealCredential } from './seal';
export { ApprovalMismatch, CredentialGone, CredentialNotFound, SealFailed, SubstrateFailed, TargetUnresolved } from './errors';
