// Error catalogue of the AWS STS adapter (JIT_ERR_AWSSTS_*), documented in docs/errors.md under
// "## substrate-aws-sts". Generic failures (unreachable, denied, rejected) use @jit/substrates' codes.
import { defineError } from '@jit/errors';

export const AwsStsGrantRevoked = defineError<[string, string]>(
  'JIT_ERR_AWSSTS_GRANT_REVOKED',
  'grant %s was already revoked on role %s, so STS will not issue it again; open a new elevation request',
  { retriable: false, statusCode: 409 },
);

export const AwsStsGrantExpired = defineError<[string, string]>(
  'JIT_ERR_AWSSTS_GRANT_EXPIRED',
  'grant %s reached its expiry (%s) before this retry; a retry cannot extend a grant, open a new elevation request',
  { retriable: false, statusCode: 409 },
);

export const AwsStsRoleNotAllowed = defineError<[string, string]>(
  'JIT_ERR_AWSSTS_ROLE_NOT_ALLOWED',
  'role %s is not one of the roles configured for substrate %s; add it to the instance config `roles` or fix the scope',
  { retriable: false, statusCode: 422 },
);

export const AwsStsIamLimit = defineError<[string, string]>(
  'JIT_ERR_AWSSTS_IAM_LIMIT',
  'IAM limit reached on role %s (%s): no room left for jit ledger tags or deny policies; wait for sessions to expire or revoke grants on the role, or split busy scopes over more roles',
  { retriable: true, statusCode: 503 },
);

export const AwsStsTooManyAttempts = defineError<[string, number]>(
  'JIT_ERR_AWSSTS_TOO_MANY_ATTEMPTS',
  'grant %s was issued %s times already (each retry supersedes the previous session); stop retrying and open a new elevation request',
  { retriable: false, statusCode: 409 },
);

/** The SDK's provider chain found no identity for the adapter itself. Retriable: a projected token may not be mounted yet. */
export const AwsStsNoCredentials = defineError<[string, string]>(
  'JIT_ERR_AWSSTS_NO_CREDENTIALS',
  'substrate %s has no AWS credentials of its own (%s); give the pod a web identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or EKS Pod Identity) or set `credentials` in the instance config',
  { retriable: true, statusCode: 503 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const AWS_STS_ERRORS = [AwsStsGrantRevoked, AwsStsGrantExpired, AwsStsRoleNotAllowed, AwsStsIamLimit, AwsStsTooManyAttempts, AwsStsNoCredentials] as const;
