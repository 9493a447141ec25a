export {
  AWS_STS_KIND,
  STS_MAX_DURATION_SECONDS,
  STS_MIN_DURATION_SECONDS,
  awsStsConfigSchema,
  awsStsSubstrate,
  createAwsStsSubstrate,
} from './aws-sts-substrate';
export type { AwsClients, AwsSender, AwsStsConfig, AwsStsExtra, AwsStsSubstrate, CleanupResult } from './aws-sts-substrate';
export { awsStsScopeSchema, parseRoleArn, sessionPolicyDocument, validateAwsStsConnection, validateAwsStsScope, SESSION_POLICY_MAX_CHARS } from './scope';
export type { AwsStsScope, ParsedRoleArn, PolicyDocument } from './scope';
export { denyDocument, deniesUserId, decodePolicyDocument, readDenyDocument } from './deny-policy';
export type { DenyDocument, DenyKind } from './deny-policy';
export { sessionBaseName, sessionName, denyPolicyName, sourceIdentityFor } from './grant-names';
export { AWS_STS_ERRORS, AwsStsGrantExpired, AwsStsGrantRevoked, AwsStsIamLimit, AwsStsRoleNotAllowed, AwsStsTooManyAttempts } from './errors';
export { AWS_STS_CREDENTIAL } from './credential';
