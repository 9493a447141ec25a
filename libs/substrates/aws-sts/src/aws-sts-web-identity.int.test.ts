// The adapter's own identity from the SDK's default chain with a web identity, as IRSA hands it to
// a pod (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), on moto (which implements
// AssumeRoleWithWebIdentity; it does not check the token's signature, so the token here is only
// shaped like a Kubernetes service-account token). No static keys anywhere in this file: the chain
// may find nothing but the token file (shared config and instance metadata are switched off, so
// nothing leaves the machine).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRegistry } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { contractGrantId } from '@jit/substrates/testing';
import { getMoto, uniqueName } from '@jit/testing';
import { adapterIdentity } from './adapter-identity';
import { createAwsStsSubstrate } from './aws-sts-substrate';
import { awsStsConfigSchema } from './config';
import { probeOnMoto } from './testing';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const logger = createLogger({ name: 'aws-sts-web-identity-int', level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'jit-irsa-'));
const tokenFile = join(dir, 'token');

const CHAIN_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
];
const saved = Object.fromEntries(CHAIN_ENV.map((k) => [k, process.env[k]]));

let endpoint: string;
let iam: IAMClient;
let jitRole: { arn: string; name: string };
let target: { arn: string; name: string };

/** The environment EKS injects for IRSA; nothing else the chain could use. */
function irsaEnv(roleArn: string, file = tokenFile): void {
  for (const k of CHAIN_ENV) delete process.env[k];
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'no-credentials');
  process.env.AWS_CONFIG_FILE = join(dir, 'no-config');
  process.env.AWS_WEB_IDENTITY_TOKEN_FILE = file;
  process.env.AWS_ROLE_ARN = roleArn;
  process.env.AWS_ROLE_SESSION_NAME = 'jit-issuer';
}

beforeAll(async () => {
  endpoint = await getMoto();
  // Only the set-up's own client has (moto's dummy) keys; the adapter never sees them.
  iam = new IAMClient({ region: REGION, endpoint, credentials: { accessKeyId: 'jit-test-admin', secretAccessKey: 'jit-test-admin-secret' } });
  const oidc = 'oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
  const jitName = uniqueName('jit-irsa');
  const trustOidc = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${oidc}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${oidc}:sub`]: 'system:serviceaccount:jit:jit-issuer', [`${oidc}:aud`]: 'sts.amazonaws.com' } },
      },
    ],
  };
  const jit = await iam.send(new CreateRoleCommand({ RoleName: jitName, AssumeRolePolicyDocument: JSON.stringify(trustOidc) }));
  jitRole = { arn: jit.Role!.Arn!, name: jitName };
  const targetName = uniqueName('jit-target');
  const trustJit = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: jitRole.arn }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }] };
  const t = await iam.send(new CreateRoleCommand({ RoleName: targetName, AssumeRolePolicyDocument: JSON.stringify(trustJit), MaxSessionDuration: 3600 }));
  target = { arn: t.Role!.Arn!, name: targetName };
  const { privateKey } = await generateKeyPair('RS256');
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuer(`https://${oidc}`)
    .setSubject('system:serviceaccount:jit:jit-issuer')
    .setAudience('sts.amazonaws.com')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  writeFileSync(tokenFile, token, { mode: 0o600 });
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  iam?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const request = (grantId = contractGrantId()): IssueRequest => ({
  grantId,
  elevationId: grantId.split('-').slice(0, 3).join('-'),
  requester: 'alice',
  target: 'orders-s3',
  scopeName: 'read',
  scope: { roleArn: target.arn, sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] } },
  connection: {},
  ttlSeconds: 600,
});

describe('aws-sts: the adapter identity from a web identity (IRSA), on moto', () => {
  it("the default chain exchanges the token file for a session of AWS_ROLE_ARN at jit's endpoint", async () => {
    irsaEnv(jitRole.arn);
    const identity = adapterIdentity({ region: REGION, endpoint });
    const creds = await identity.credentials();
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    const sts = new STSClient({ region: REGION, endpoint, credentials: creds });
    const me = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(me.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/${jitRole.name}/jit-issuer`);
    expect(identity.expiresAt()).toBeGreaterThan(Date.now());
  });

  it('issues and revokes with no static keys, and reports when its own session expires', async () => {
    irsaEnv(jitRole.arn);
    const registry = createRegistry();
    const sub = createAwsStsSubstrate(awsStsConfigSchema.parse({ region: REGION, endpoint, roles: [target.arn] }), { name: 'aws-sts:irsa', logger, metrics: registry });
    try {
      const out = await sub.issue(request());
      expect(await probeOnMoto({ endpoint, region: REGION, iam }, out.secret)).toBe(true);
      await sub.revoke(out.handle);
      expect(await probeOnMoto({ endpoint, region: REGION, iam }, out.secret)).toBe(false);
      const sample = (await registry.getSingleMetric('jit_substrate_auth_expires_seconds')!.get()).values.find((v) => v.labels.substrate === 'aws-sts:irsa');
      // a web-identity session (moto: 1 h), not static keys (+Inf)
      expect(sample?.value).toBeGreaterThan(0);
      expect(sample?.value).toBeLessThanOrEqual(3600);
    } finally {
      await sub.close();
    }
  });

  it('with the token file missing and nothing else in the chain, an issue fails with a named, retriable error and no request is half done', async () => {
    irsaEnv(jitRole.arn, join(dir, 'not-mounted-yet'));
    const sub = createAwsStsSubstrate(awsStsConfigSchema.parse({ region: REGION, endpoint, roles: [target.arn] }), { name: 'aws-sts:irsa', logger });
    try {
      await expect(sub.issue(request())).rejects.toMatchObject({ code: 'JIT_ERR_AWSSTS_NO_CREDENTIALS', retriable: true });
    } finally {
      await sub.close();
    }
  });
});
