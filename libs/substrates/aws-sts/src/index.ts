export {
  AWS_STS_KIND,
  QUOTA_WARN_RATIO,
  ROLE_INLINE_POLICY_LIMIT,
  ROLE_TAG_LIMIT,
  STS_MAX_DURATION_SECONDS,
  STS_MIN_DURATION_SECONDS,
  adapterIdentity,
  awsStsConfigSchema,
  awsStsSubstrate,
  createAwsStsSubstrate,
  quotaFindings,
} from './aws-sts-substrate';
export type { AdapterIdentity, AwsClients, AwsSender, AwsStsConfig, AwsStsExtra, AwsStsSubstrate, CleanupResult, RoleQuotaUsage } from './aws-sts-substrate';
export { awsStsScopeSchema, parseRoleArn, scopePolicyDocument, sessionPolicyDocument, validateAwsStsConnection, validateAwsStsScope, SESSION_POLICY_MAX_CHARS } from './scope';
export type { AwsStsScope, ParsedRoleArn, PolicyDocument } from './scope';
export { OUTLIVES_TTL, SESSION_GUARD_ACTIONS, SESSION_GUARD_SID, actionMatches, escapeFindings, guardedSessionPolicy, sessionGuardStatement } from './session-guard';
export type { SessionGuardStatement } from './session-guard';
export { SOURCE_IDENTITY_SID, denyDocument, deniesSession, deniesUserId, decodePolicyDocument, policySize, readDenyDocument } from './deny-policy';
export type { DenyDocument, DenyKind, DenyTarget, SessionContext } from './deny-policy';
export { grantTag, sessionBaseName, sessionName, denyPolicyName, sourceIdentityFor, sourceIdentityPattern } from './grant-names';
export { AWS_STS_ERRORS, AwsStsGrantExpired, AwsStsGrantRevoked, AwsStsIamLimit, AwsStsNoCredentials, AwsStsRoleNotAllowed, AwsStsTooManyAttempts } from './errors';
export { AWS_STS_CREDENTIAL } from './credential';
