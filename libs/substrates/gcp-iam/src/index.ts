export {
  GCP_DEFAULT_MAX_TTL_SECONDS,
  GCP_EXTENDED_MAX_TTL_SECONDS,
  GCP_IAM_KIND,
  adapterAuth,
  createGcpIamSubstrate,
  gcpIamConfigSchema,
  gcpIamSubstrate,
} from './gcp-iam-substrate';
export type {
  GcpIamConfig,
  GcpIamExtra,
  GcpIamSubstrate,
  GenerateAccessTokenRequest,
  GenerateAccessTokenResponse,
  IamCredentialsApi,
} from './gcp-iam-substrate';
export { gcpIamScopeSchema, isServiceAccountEmail, serviceAccountResource, validateGcpIamScope } from './scope';
export type { GcpIamScope } from './scope';
export { MINTING_PERMISSIONS, MINTING_SCOPES } from './minting-audit';
export type { IamPermissionsApi } from './minting-audit';
export { InMemoryIssuedLedger } from './issued-ledger';
export type { IssuedLedger, IssuedRecord } from './issued-ledger';
export { GCP_IAM_ERRORS, GcpIamAlreadyIssued } from './errors';
export { GCP_IAM_CREDENTIAL } from './credential';
