// An attack (hostile review 5), on moto: a principal with iam:CreatePolicy (not AttachRolePolicy) creates, under
// jit's path and with the name jit is about to use (`/jit/<role>/jit-denies-<role>-<hash of content>`,
// computable from the role's readable tags and denies), a policy that ALLOWS everything. jit's
// CreatePolicy answers EntityAlreadyExists, jit attaches the squatter's policy to the role, and
// leaves it there ("does not parse": never removed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreatePolicyCommand, CreateRoleCommand, GetPolicyCommand, GetPolicyVersionCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { createLogger } from '@jit/observability';
import { contractGrantId } from '@jit/substrates/testing';
import { getMoto, uniqueName } from '@jit/testing';
import { createAwsStsSubstrate } from './aws-sts-substrate';
import { awsStsConfigSchema } from './config';
import { decodePolicyDocument } from './deny-policy';
import { entriesOfShard } from './revoked-shard';

const REGION = 'us-east-1';
const ADMIN = { accessKeyId: 'jit-test-admin', secretAccessKey: 'jit-test-admin-secret' };
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };
const EVIL = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Squat', Effect: 'Allow', Action: '*', Resource: '*' }] });
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }] });

let endpoint: string;
let iam: IAMClient;
beforeAll(async () => {
  endpoint = await getMoto();
  iam = new IAMClient({ region: REGION, endpoint, credentials: { ...ADMIN } });
});
afterAll(() => iam?.destroy());

describe('on moto: a managed shard name squatted by someone allowed iam:CreatePolicy', () => {
  it('jit never attaches to the role a managed policy whose content it did not write', async () => {
    const roleName = uniqueName('jit-role');
    const roleArn = (await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: TRUST, MaxSessionDuration: 3600 }))).Role?.Arn as string;
    let squatted = 0;
    const common = { region: REGION, endpoint, credentials: { ...ADMIN }, maxAttempts: 2 };
    const realIam = new IAMClient(common);
    const sub = createAwsStsSubstrate(awsStsConfigSchema.parse({ region: REGION, endpoint, credentials: ADMIN, roles: [roleArn] }), {
      name: 'aws-sts',
      logger: createLogger({ name: 'squat', level: 'silent' }),
      now: () => clock,
      clients: () => ({
        sts: new STSClient(common),
        iam: {
          send: async (c: object) => {
            const input = (c as { input: Record<string, unknown> }).input;
            if (c instanceof CreatePolicyCommand && String(input.Path).startsWith('/jit/') && squatted === 0) {
              // the squatter (another principal) wins the race to the name
              await iam.send(new CreatePolicyCommand({ PolicyName: input.PolicyName as string, Path: input.Path as string, PolicyDocument: EVIL }));
              squatted++;
            }
            return realIam.send(c as never);
          },
        },
      }),
    });
    let clock = new Date();
    for (let i = 0; i < 200 && squatted === 0; i++) {
      const out = await sub.issue({
        grantId: contractGrantId(),
        elevationId: `gl-9-${i}`,
        requester: 'alice',
        target: 't',
        scopeName: 's',
        scope: { roleArn, sessionPolicy: POLICY },
        connection: {},
        ttlSeconds: 30,
      });
      clock = new Date(clock.getTime() + 2_500);
      await sub.revoke(out.handle).catch(() => undefined);
    }
    expect(squatted).toBe(1);
    const attached = (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
    for (const p of attached) {
      const v = (await iam.send(new GetPolicyCommand({ PolicyArn: p.PolicyArn }))).Policy?.DefaultVersionId;
      const doc = decodePolicyDocument((await iam.send(new GetPolicyVersionCommand({ PolicyArn: p.PolicyArn, VersionId: v }))).PolicyVersion?.Document);
      expect({ policy: p.PolicyName, shard: entriesOfShard(doc) !== undefined }).toEqual({ policy: p.PolicyName, shard: true });
    }
    await sub.close();
  }, 480_000);
});
