// "Does this credential still work?" on moto. moto does not enforce IAM, so the answer is built
// from two facts: moto knows the keys as a live assumed-role session (GetCallerIdentity), and the
// role's inline and attached managed policies hold no explicit Deny for that session's aws:userid (what AWS would apply).
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { deniesUserId, decodePolicyDocument } from '../deny-policy';
import type { AwsSender } from '../config';

export interface MotoProbeOptions {
  endpoint: string;
  region: string;
  /** An admin IAM client on the same moto server. */
  iam: AwsSender;
}

export async function probeOnMoto(opts: MotoProbeOptions, secret: Record<string, string>): Promise<boolean> {
  const sts = new STSClient({
    region: opts.region,
    endpoint: opts.endpoint,
    maxAttempts: 1,
    credentials: {
      accessKeyId: secret.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: secret.AWS_SECRET_ACCESS_KEY ?? '',
      sessionToken: secret.AWS_SESSION_TOKEN,
    },
  });
  let userId: string | undefined;
  let roleName: string | undefined;
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    userId = id.UserId;
    roleName = /:assumed-role\/([^/]+)\//.exec(id.Arn ?? '')?.[1];
  } catch {
    return false;
  } finally {
    sts.destroy();
  }
  if (!userId || !roleName) return false; // moto answers unknown keys as its default user
  const names = ((await opts.iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))) as { PolicyNames?: string[] }).PolicyNames ?? [];
  const docs: unknown[] = [];
  for (const PolicyName of names) {
    const p = (await opts.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName }))) as { PolicyDocument?: string };
    docs.push(decodePolicyDocument(p.PolicyDocument));
  }
  // and the managed policies attached to it (jit's overflow deny shards among them)
  const attached = ((await opts.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))) as { AttachedPolicies?: Array<{ PolicyArn?: string }> }).AttachedPolicies ?? [];
  for (const { PolicyArn } of attached) {
    const p = (await opts.iam.send(new GetPolicyCommand({ PolicyArn }))) as { Policy?: { DefaultVersionId?: string } };
    const v = (await opts.iam.send(new GetPolicyVersionCommand({ PolicyArn, VersionId: p.Policy?.DefaultVersionId }))) as { PolicyVersion?: { Document?: string } };
    docs.push(decodePolicyDocument(v.PolicyVersion?.Document));
  }
  return !deniesUserId(docs, userId);
}
