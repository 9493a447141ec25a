import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type MotoHandle } from './moto';
import { getMoto } from './services';
import { uniqueName } from './unique-name';

/** An AWS Query call; moto routes by the credential scope and does not check the signature. */
async function awsQuery(endpoint: string, service: 'sts' | 'iam', params: Record<string, string>): Promise<Response> {
  return fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams(params).toString(),
  });
}

describe('getMoto (shared server)', () => {
  it('answers STS GetCallerIdentity', async () => {
    const endpoint = await getMoto();
    const res = await awsQuery(endpoint, 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' });
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain('<GetCallerIdentityResult>');
    expect(xml).toMatch(/<Account>\d{12}<\/Account>/);
  });

  it('creates an IAM role that STS can assume', async () => {
    const endpoint = await getMoto();
    const role = uniqueName('role');
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
    });
    const created = await awsQuery(endpoint, 'iam', {
      Action: 'CreateRole',
      Version: '2010-05-08',
      RoleName: role,
      AssumeRolePolicyDocument: trust,
    });
    expect(created.status).toBe(200);
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(await created.text())?.[1];
    expect(arn).toContain(`role/${role}`);
    const assumed = await awsQuery(endpoint, 'sts', {
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: arn ?? '',
      RoleSessionName: 'jit-test',
      DurationSeconds: '900',
    });
    expect(assumed.status).toBe(200);
    expect(await assumed.text()).toContain('<AccessKeyId>');
  });
});

describe('startMoto (private server)', () => {
  let moto: MotoHandle;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.dispose();
  });

  it('restarts on the same endpoint with empty state', async () => {
    const role = uniqueName('gone');
    const create = { Action: 'CreateRole', Version: '2010-05-08', RoleName: role, AssumeRolePolicyDocument: '{}' };
    expect((await awsQuery(moto.endpoint, 'iam', create)).status).toBe(200);
    await moto.stop();
    await moto.start();
    const res = await awsQuery(moto.endpoint, 'iam', { Action: 'GetRole', Version: '2010-05-08', RoleName: role });
    expect(res.status).toBe(404);
  });
});
