// The deny jit appends to every session policy, and the audit of what a scope still allows that
// outlives the TTL. From a plain STS session the grantee's ways to keep access are: assume a role
// again (chaining: a fresh session under no session policy and no revoke deny), mint IAM
// credentials or a federation into the account, change a trust policy or any principal's
// permissions, or remove jit's deny and ledger from the role. The guard denies all of those — an
// explicit Deny in the session policy wins over every Allow of the scope and of the role, so no
// scope can switch it off. What it cannot deny without breaking ordinary work (iam:PassRole,
// running code under another role) the audit reports per scope.
import type { Finding } from '@jit/substrates';
import { globToRegExp } from './deny-policy';
import type { PolicyDocument } from './scope';

/** Sid of the appended statement; scopes may not use Sids starting with `Jit`. */
export const SESSION_GUARD_SID = 'JitNoEscape';

/**
 * Denied for every session jit issues, on every resource:
 * - `sts:*`: every AssumeRole variant (chaining), TagSession, SetSourceIdentity, SetContext,
 *   GetFederationToken, GetSessionToken, AssumeRoot, GetWebIdentityToken and whatever STS adds.
 * - every IAM write (by verb prefix): access keys, login profiles, service-specific credentials,
 *   SSH keys, signing certificates, MFA devices, users, roles and trust policies
 *   (UpdateAssumeRolePolicy), identity providers, policies and their versions, tags (jit's ledger),
 *   inline policies (jit's deny), permissions boundaries. IAM reads stay allowed.
 * - IAM Identity Center and IAM Roles Anywhere, the other ways to mint a principal.
 * `iam:PassRole` is not denied (deployments need it); the audit flags scopes that allow it.
 */
export const SESSION_GUARD_ACTIONS: readonly string[] = [
  'sts:*',
  ...['Add', 'Attach', 'Change', 'Create', 'Deactivate', 'Delete', 'Detach', 'Disable', 'Enable', 'Put', 'Remove', 'Reset', 'Resync', 'Set', 'Tag', 'Untag', 'Update', 'Upload'].map(
    (verb) => `iam:${verb}*`,
  ),
  'sso:*',
  'sso-directory:*',
  'identitystore:*',
  'rolesanywhere:*',
];

export interface SessionGuardStatement {
  Sid: typeof SESSION_GUARD_SID;
  Effect: 'Deny';
  Action: string[];
  Resource: '*';
}

export function sessionGuardStatement(): SessionGuardStatement {
  return { Sid: SESSION_GUARD_SID, Effect: 'Deny', Action: [...SESSION_GUARD_ACTIONS], Resource: '*' };
}

/** The scope's session policy with the guard appended: the document STS receives. */
export function guardedSessionPolicy(policy: PolicyDocument): PolicyDocument {
  const own = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  return { ...policy, Statement: [...own, sessionGuardStatement()] };
}

/** IAM's action match: case-insensitive, `*` any run, `?` one character. */
export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern, 'i').test(action);
}

/**
 * Actions the guard leaves allowed that let a grantee act after the TTL: code that runs under a
 * role of its own (a function, an instance, a task, a build, a stack) keeps working when the
 * session is denied, a resource policy or KMS grant for a principal the grantee keeps lasts, some
 * tokens outlive the session, and long-lived secrets read once stay read.
 */
export const OUTLIVES_TTL: ReadonlyArray<readonly [string, string]> = [
  ['iam:PassRole', 'hands a role to a service; what runs there keeps the role after the TTL'],
  ['lambda:CreateFunction', 'creates code that runs under a role'],
  ['lambda:UpdateFunctionCode', 'replaces code that runs under an existing role'],
  ['lambda:UpdateFunctionConfiguration', 'adds layers or settings to code that runs under a role'],
  ['lambda:AddPermission', 'lets outside principals invoke functions'],
  ['ec2:RunInstances', 'starts instances that can carry an instance profile'],
  ['ec2:AssociateIamInstanceProfile', 'gives a running instance a role'],
  ['ec2:ReplaceIamInstanceProfileAssociation', 'gives a running instance a role'],
  ['ec2-instance-connect:SendSSHPublicKey', 'logs into instances that hold a role'],
  ['ssm:SendCommand', 'runs commands on instances that hold a role'],
  ['ssm:StartSession', 'opens a shell on instances that hold a role'],
  ['ecs:RegisterTaskDefinition', 'defines tasks that run under a role'],
  ['ecs:RunTask', 'runs tasks under a role'],
  ['codebuild:StartBuild', 'runs builds under the project role'],
  ['codebuild:UpdateProject', 'changes what a project runs under its role'],
  ['cloudformation:CreateStack', 'creates resources, possibly with a service role'],
  ['cloudformation:UpdateStack', 'changes resources, possibly with a service role'],
  ['glue:CreateDevEndpoint', 'opens an endpoint that runs under a role'],
  ['glue:UpdateDevEndpoint', 'adds SSH keys to an endpoint that runs under a role'],
  ['sagemaker:CreateNotebookInstance', 'runs a notebook under a role'],
  ['sagemaker:CreatePresignedNotebookInstanceUrl', 'opens a notebook that runs under a role'],
  ['ecs:ExecuteCommand', 'opens a shell in running containers that hold a task role'],
  ['ecs:CreateService', 'keeps tasks running under a role'],
  ['ecs:UpdateService', 'changes what runs under a task role'],
  ['lambda:CreateFunctionUrlConfig', 'opens a function that runs under a role to callers without credentials'],
  ['lambda:UpdateFunctionUrlConfig', 'opens a function that runs under a role to callers without credentials'],
  ['ssm:CreateAssociation', 'runs documents on instances that hold a role, also later'],
  ['ssm:StartAutomationExecution', 'runs automation under an assumed role'],
  ['ec2-instance-connect:SendSerialConsoleSSHPublicKey', 'logs into the serial console of instances that hold a role'],
  ['ec2:GetPasswordData', 'reads the Windows administrator password of instances'],
  // logins that are not IAM and do not end with the session
  ['rds:ModifyDBInstance', 'can reset the master password: a database login that outlives the TTL'],
  ['rds:ModifyDBCluster', 'can reset the master password: a database login that outlives the TTL'],
  ['redshift:ModifyCluster', 'can reset the master password: a database login that outlives the TTL'],
  ['ds:ResetUserPassword', 'sets a directory password that outlives the TTL'],
  ['cognito-idp:AdminCreateUser', 'creates a user pool login that outlives the TTL (and the identity pool role behind it)'],
  ['cognito-idp:AdminSetUserPassword', 'sets a user pool password that outlives the TTL'],
  ['cognito-identity:GetOpenIdTokenForDeveloperIdentity', 'mints a token of up to 24 h that is exchanged, without credentials, for an identity pool role'],
  ['eks:CreateAccessEntry', 'gives a principal lasting access to a Kubernetes cluster'],
  ['eks:AssociateAccessPolicy', 'gives a principal lasting access to a Kubernetes cluster'],
  ['ssm:GetParameter', 'reads SecureString parameters that may be long-lived credentials'],
  ['secretsmanager:GetSecretValue', 'reads secrets that may be long-lived credentials'],
  ['organizations:InviteAccountToOrganization', 'changes the organisation'],
  // resource policies and grants: access for a principal the grantee keeps (its standing identity, another account)
  ['s3:PutBucketPolicy', 'grants another principal lasting access to a bucket'],
  ['s3:PutBucketAcl', 'grants another principal lasting access to a bucket'],
  ['kms:PutKeyPolicy', 'grants another principal lasting use of a key'],
  ['kms:CreateGrant', 'grants another principal lasting use of a key'],
  ['sqs:SetQueueAttributes', 'can set a queue policy for another principal'],
  ['sns:SetTopicAttributes', 'can set a topic policy for another principal'],
  ['secretsmanager:PutResourcePolicy', 'grants another principal lasting access to a secret'],
  ['ecr:SetRepositoryPolicy', 'grants another principal lasting access to images'],
  ['sqs:AddPermission', 'grants another account lasting access to a queue'],
  ['sns:AddPermission', 'grants another account lasting access to a topic'],
  ['s3:PutAccessPointPolicy', 'grants another principal lasting access through an access point'],
  ['s3:PutObjectAcl', 'grants another principal lasting access to an object'],
  ['dynamodb:PutResourcePolicy', 'grants another principal lasting access to a table'],
  ['logs:PutResourcePolicy', 'grants another principal lasting access to log groups'],
  ['events:PutPermission', 'lets another account put events on a bus'],
  ['lambda:AddLayerVersionPermission', 'shares a layer with other accounts'],
  ['glacier:SetVaultAccessPolicy', 'grants another principal lasting access to a vault'],
  ['backup:PutBackupVaultAccessPolicy', 'grants another principal lasting access to backups'],
  ['rds:ModifyDBSnapshotAttribute', 'shares a database snapshot with another account'],
  ['rds:ModifyDBClusterSnapshotAttribute', 'shares a database snapshot with another account'],
  ['ram:CreateResourceShare', 'shares resources with other accounts'],
  ['ec2:ModifySnapshotAttribute', 'shares a snapshot with another account'],
  ['ec2:ModifyImageAttribute', 'shares an image with another account'],
  // tokens that outlive the session
  ['ecr:GetAuthorizationToken', 'returns a registry token valid for 12 hours'],
];

type Stmt = { Effect: 'Allow' | 'Deny'; Action?: string | string[]; NotAction?: string | string[] };
const list = (x: string | string[] | undefined): string[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Whether some Allow statement of the scope's own policy allows `action` (resources and conditions ignored). */
function scopeAllows(stmts: Stmt[], action: string): boolean {
  return stmts.some((s) => s.Effect === 'Allow' && (s.NotAction !== undefined ? !list(s.NotAction).some((p) => actionMatches(p, action)) : list(s.Action).some((p) => actionMatches(p, action))));
}

/**
 * What a scope's session policy lets the grantee do that outlives the TTL (warnings), and what of it
 * the guard switches off anyway (info). Resources and conditions are not evaluated: a resource-bound
 * iam:PassRole still hands that role to running code.
 */
export function escapeFindings(policy: PolicyDocument, where: string): Finding[] {
  const stmts = (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]) as Stmt[];
  const out: Finding[] = [];
  const risky = OUTLIVES_TTL.filter(([action]) => scopeAllows(stmts, action));
  if (risky.length > 0) {
    out.push({
      severity: 'warning',
      message: `${where} allows ${risky
        .slice(0, 4)
        .map(([a]) => a)
        .join(
          ', ',
        )}${risky.length > 4 ? ` and ${risky.length - 4} more` : ''}: ${risky[0]?.[1]}${risky.length > 1 ? ' (and similar)' : ''}; such access outlives the TTL and jit's revoke. Narrow the scope's Action list (and avoid * and NotAction)`,
    });
  }
  const broad = stmts.some((s) => s.Effect === 'Allow' && (s.NotAction !== undefined || list(s.Action).some((a) => a === '*' || a.endsWith(':*'))));
  const shadowed = ['sts:AssumeRole', 'iam:CreateAccessKey', 'iam:PutRolePolicy'].filter((a) => scopeAllows(stmts, a));
  if (shadowed.length > 0 || broad) {
    out.push({
      severity: 'info',
      message: `${where}: jit appends a deny of sts:*, every IAM write, Identity Center and Roles Anywhere to the session policy (no role chaining, no new credentials, no change to jit's deny or ledger); ${shadowed.length > 0 ? `the scope's ${shadowed.join(', ')} has no effect` : 'wildcards in the scope do not reach those'}`,
    });
  }
  return out;
}
