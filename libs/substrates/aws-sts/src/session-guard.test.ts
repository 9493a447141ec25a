import { describe, expect, it } from 'vitest';
import { awsStsScopeSchema, scopePolicyDocument, sessionPolicyDocument, validateAwsStsScope, type PolicyDocument } from './scope';
import { SESSION_GUARD_SID, actionMatches, escapeFindings } from './session-guard';

const ARN = 'arn:aws:iam::123456789012:role/orders-writer';

/** Every way out of a session the guard must close (each a real IAM/STS action name). */
const MUST_DENY = [
  // role chaining, every variant, and the session attributes that would let a chained session hide
  ...['AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity', 'AssumeRoot', 'TagSession', 'SetSourceIdentity', 'SetContext', 'GetFederationToken', 'GetSessionToken'].map((a) => `sts:${a}`),
  // new long-lived credentials
  ...[
    'CreateAccessKey',
    'UpdateAccessKey',
    'CreateLoginProfile',
    'UpdateLoginProfile',
    'CreateServiceSpecificCredential',
    'ResetServiceSpecificCredential',
    'UploadSSHPublicKey',
    'UploadSigningCertificate',
    'CreateUser',
    'EnableMFADevice',
  ].map((a) => `iam:${a}`),
  // jit's own deny and ledger on the role, and the role itself
  ...[
    'PutRolePolicy',
    'DeleteRolePolicy',
    'TagRole',
    'UntagRole',
    'UpdateAssumeRolePolicy',
    'UpdateRole',
    'DeleteRolePermissionsBoundary',
    'PutRolePermissionsBoundary',
    'AttachRolePolicy',
    'DetachRolePolicy',
  ].map((a) => `iam:${a}`),
  // any other principal's trust or permissions (a standing identity the grantee also holds)
  ...[
    'CreateRole',
    'AttachUserPolicy',
    'PutUserPolicy',
    'AddUserToGroup',
    'PutGroupPolicy',
    'AttachGroupPolicy',
    'CreatePolicyVersion',
    'SetDefaultPolicyVersion',
    'CreateOpenIDConnectProvider',
    'AddClientIDToOpenIDConnectProvider',
    'CreateSAMLProvider',
    'UpdateSAMLProvider',
  ].map((a) => `iam:${a}`),
  'sso:CreateAccountAssignment',
  'identitystore:CreateUser',
  'rolesanywhere:CreateTrustAnchor',
];

type Stmt = { Sid?: string; Effect: string; Action?: string | string[]; NotAction?: string | string[]; Resource?: string | string[]; Condition?: unknown };
const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const stmts = (doc: PolicyDocument) => (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Stmt[];

/** IAM's decision for `action` on `resource` under this session policy alone: explicit Deny, then Allow, else implicit deny. */
function decide(doc: PolicyDocument, action: string, resource: string): 'allow' | 'deny' {
  const hits = (s: Stmt) =>
    (s.NotAction !== undefined ? !list(s.NotAction).some((p) => actionMatches(p, action)) : list(s.Action).some((p) => actionMatches(p, action))) &&
    (s.Resource !== undefined ? list(s.Resource).some((r) => r === '*' || r === resource) : !list((s as { NotResource?: string[] }).NotResource).includes(resource));
  // a Deny with a Condition may not apply; an Allow with one may: be generous to the grantee
  if (stmts(doc).some((s) => s.Effect === 'Deny' && s.Condition === undefined && hits(s))) return 'deny';
  return stmts(doc).some((s) => s.Effect === 'Allow' && hits(s)) ? 'allow' : 'deny';
}

const SCOPES: Record<string, unknown> = {
  'everything (*)': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  'sts:* and iam:*': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sts:*', 'iam:*'], Resource: '*' }] },
  'NotAction s3': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotAction: 's3:*', Resource: '*' }] },
  NotResource: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::x' }] },
  'a scope Deny of nothing useful': {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', NotAction: '*', Resource: '*' },
    ],
  },
  'shorthand sts:AssumeRole': { actions: ['sts:AssumeRole', 'iam:CreateAccessKey', 's3:GetObject'] },
};

describe('session guard (the deny jit appends to every session policy)', () => {
  for (const [label, sessionPolicy] of Object.entries(SCOPES)) {
    it(`denies every escape, whatever the scope allows: ${label}`, () => {
      expect(validateAwsStsScope({ roleArn: ARN, sessionPolicy })).toEqual([]);
      const doc = sessionPolicyDocument(awsStsScopeSchema.parse({ roleArn: ARN, sessionPolicy }));
      const guard = stmts(doc).filter((s) => s.Sid === SESSION_GUARD_SID);
      expect(guard).toHaveLength(1);
      // unconditional, on every resource: no scope Allow, Condition or resource can step around it
      expect(guard[0]).toMatchObject({ Effect: 'Deny', Resource: '*' });
      expect(guard[0]).not.toHaveProperty('Condition');
      for (const action of MUST_DENY) {
        for (const resource of ['*', ARN, 'arn:aws:iam::123456789012:user/someone']) {
          expect(decide(doc, action, resource), `${action} on ${resource}`).toBe('deny');
        }
      }
      // outside the escapes the guard changes nothing: IAM reads and the scope's own work decide as before
      const own = scopePolicyDocument(awsStsScopeSchema.parse({ roleArn: ARN, sessionPolicy }));
      for (const action of ['s3:GetObject', 'iam:GetRole', 'iam:ListRoles', 'ec2:DescribeInstances', 'iam:PassRole']) {
        expect(decide(doc, action, ARN), action).toBe(decide(own, action, ARN));
      }
    });
  }

  it('every action named in the guard is a well-formed IAM action pattern and fits STS limits with room for the scope', () => {
    const doc = sessionPolicyDocument(awsStsScopeSchema.parse({ roleArn: ARN, sessionPolicy: { actions: ['s3:GetObject'] } }));
    expect(JSON.stringify(doc).length).toBeLessThan(1024);
  });

  it('a scope cannot take the guard Sid (or any Jit Sid) and must fit STS size with the guard included', () => {
    for (const Sid of [SESSION_GUARD_SID, 'jitAnything', 'JITx']) {
      const problems = validateAwsStsScope({ roleArn: ARN, sessionPolicy: { Version: '2012-10-17', Statement: [{ Sid, Effect: 'Allow', Action: 's3:*', Resource: '*' }] } });
      expect(problems[0]?.message, Sid).toMatch(/reserved/);
    }
    // fits alone (under 2048) but not with the guard appended
    const resources = Array.from({ length: 44 }, (_, i) => `arn:aws:s3:::bucket-name-number-${String(i).padStart(2, '0')}/*`);
    const own = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: resources }] }).length;
    expect(own).toBeLessThan(2048);
    expect(validateAwsStsScope({ roleArn: ARN, sessionPolicy: { actions: ['s3:GetObject'], resources } })[0]?.message).toMatch(/appended deny included/);
  });
});

describe('escapeFindings (policy audit)', () => {
  const doc = (Statement: unknown[]) => ({ Version: '2012-10-17' as const, Statement }) as PolicyDocument;

  it('flags scopes whose access outlives the TTL: *, NotAction, iam:PassRole, code that runs under a role', () => {
    for (const s of [
      [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      [{ Effect: 'Allow', NotAction: 's3:*', Resource: '*' }],
      [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: 'arn:aws:iam::123456789012:role/app' }],
      [{ Effect: 'Allow', Action: 'lambda:Update*', Resource: '*' }],
      [{ Effect: 'Allow', Action: 'SSM:SendCommand', Resource: '*' }],
      [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutBucketPolicy'], Resource: 'arn:aws:s3:::orders' }],
      [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }],
    ]) {
      const found = escapeFindings(doc(s), 'scope x');
      expect(
        found.filter((f) => f.severity === 'warning'),
        JSON.stringify(s),
      ).toHaveLength(1);
      expect(found[0]?.message.length).toBeLessThan(400);
    }
  });

  it.each([
    'ecs:ExecuteCommand',
    'lambda:CreateFunctionUrlConfig',
    'ssm:StartAutomationExecution',
    'ec2-instance-connect:SendSerialConsoleSSHPublicKey',
    'rds:ModifyDBInstance',
    'redshift:ModifyCluster',
    'cognito-idp:AdminSetUserPassword',
    'cognito-identity:GetOpenIdTokenForDeveloperIdentity',
    'eks:CreateAccessEntry',
    'sqs:AddPermission',
    'sns:AddPermission',
    'rds:ModifyDBSnapshotAttribute',
    'logs:PutResourcePolicy',
    'ssm:GetParameter',
  ])('flags %s, which the guard leaves allowed and whose access outlives the revoke', (action) => {
    const found = escapeFindings(doc([{ Effect: 'Allow', Action: action, Resource: '*' }]), 'scope x');
    expect(found).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringContaining(action) })]);
  });

  it('says when the guard makes part of a scope dead, and stays quiet for a narrow scope', () => {
    const dead = escapeFindings(doc([{ Effect: 'Allow', Action: ['sts:AssumeRole', 's3:GetObject'], Resource: '*' }]), 'scope y');
    expect(dead).toEqual([{ severity: 'info', message: expect.stringContaining('sts:AssumeRole has no effect') }]);
    expect(escapeFindings(doc([{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::orders/*' }]), 'scope z')).toEqual([]);
  });
});
