// Error catalogue of the issuer (JIT_ERR_ISSUER_*).
import { defineError } from '@jit/errors';

export const SealFailed = defineError<[string]>('JIT_ERR_ISSUER_SEAL_FAILED', 'could not seal the credential to the request recipient (%s); check the recipient is an age X25519 public key');
export const TargetUnresolved = defineError<[string, string, string]>('JIT_ERR_ISSUER_TARGET_UNRESOLVED', 'target %s scope %s is not in policy version %s; the approval no longer matches the policy');
export const RecipientNotRegistered = defineError<[string, string]>(
  'JIT_ERR_ISSUER_RECIPIENT_NOT_REGISTERED',
  'the request recipient is not an age key registered to %s under recipients: in policy version %s; nothing was issued — only the requester may open a credential',
  { retriable: false },
);
export const SubstrateFailed = defineError<[string, string]>('JIT_ERR_ISSUER_SUBSTRATE_FAILED', 'substrate %s failed to issue the credential: %s');
export const IssueInterrupted = defineError<[string, string, string]>(
  'JIT_ERR_ISSUER_ISSUE_INTERRUPTED',
  'an earlier issue of grant %s on %s started at %s and never finished (an issuer stopped mid-way); its credentials cannot be revoked early, so a second one is not issued for this approval. Any credential of the first attempt was never delivered and ends at its natural expiry; open a new request',
  { retriable: false },
);
export const RetryBudgetSpent = defineError<[string, string, string, string, string]>(
  'JIT_ERR_ISSUER_RETRY_BUDGET_SPENT',
  '%s kept failing with errors worth retrying for %s (%s attempts; last: %s) and the retry budget (%s) is spent; nothing was issued — check the substrate or GitLab, then open a new request',
  { retriable: false },
);
export const CredentialNotFound = defineError<[string]>('JIT_ERR_ISSUER_CREDENTIAL_NOT_FOUND', 'no credential for elevation %s: it is unknown or was never granted', { statusCode: 404 });
export const CredentialGone = defineError<[string, string]>('JIT_ERR_ISSUER_CREDENTIAL_GONE', 'the credential of elevation %s is %s and no longer served', { statusCode: 410 });
export const ApprovalMismatch = defineError<[string, string]>(
  'JIT_ERR_ISSUER_APPROVAL_MISMATCH',
  'the approval of %s does not match GitLab (%s); nothing was issued — if the MR really was approved and merged, report it: the event did not come from a working gate',
);
