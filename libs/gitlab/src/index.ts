// libs/gitlab: the only code that talks to GitLab (@gitbeaker/rest behind a small facade).
export { createGitlabClient } from './gitlab-client';
export type { GitlabClientOptions } from './gitlab-client';
export { createRequester, createRequestHandler, retryAfterMs, backoffMs } from './requester';
export type { FetchFn, RetryOptions, RequesterOptions } from './requester';
export { noteMarker, upsertMarkedNote } from './marked-note';
export { createCallerLookup } from './token-owner';
export { createOAuthClient, createPkce } from './oauth-client';
export type { OAuthClient, OAuthClientOptions, OAuthTokens } from './oauth-client';
export type { CallerLookup, CallerLookupOptions, OidcDiscovery } from './token-owner';
export { GitlabUnavailable, GitlabNotFound, GitlabCommitNotFound, GitlabCredentialRefused, GitlabForbidden, GitlabRejected, GitlabBadResponse, GitlabConfigInvalid } from './errors';
export { ApprovalRulesUnsupported, isApprovalRulesUnsupported } from './types';
export type {
  GitlabClient,
  GitlabUser,
  Project,
  MergeRequest,
  MergeRequestState,
  MergeRequestListOptions,
  MergeRequestDiff,
  MergeRequestCommit,
  MergeRequestVersion,
  PushEvent,
  RepositoryFile,
  Approval,
  MergeRequestApprovals,
  ApprovalRule,
  ApprovalRuleInput,
  ApprovalSettings,
  ApprovalState,
  Note,
  CommitStatusState,
  CommitStatusInput,
  Issue,
  CommitAction,
} from './types';
