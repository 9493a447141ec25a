// The adapter's own Google identity through workload identity federation, as a Kubernetes (or any
// OIDC) workload gets it: an external_account credentials file (no key in it) whose subject token is
// a projected service-account token file, exchanged at the Security Token Service and then used to
// impersonate jit's service account. The contract server plays STS and the IAM Credentials REST
// surface (Google's published shapes); the key pair of the cluster's issuer is made here. What this
// cannot show: the substrate's own gRPC calls carrying the token - the contract server's gRPC is
// plain text, and google-gax attaches call credentials only to TLS channels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterAuth } from './gcp-grpc';
import { GcpIamContractServer } from './testing';

const AUDIENCE = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/jit/providers/k8s';
const ISSUER = 'https://container.googleapis.com/v1/projects/orders/locations/europe-west1/clusters/prod';
const SUBJECT = 'system:serviceaccount:jit:jit-issuer';
const PRINCIPAL = `principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/jit/subject/${SUBJECT}`;
const JIT_SA = 'jit-issuer@orders.iam.gserviceaccount.com';

const dir = mkdtempSync(join(tmpdir(), 'jit-wif-'));
let server: GcpIamContractServer;
let issuerKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  issuerKey = pair.privateKey;
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), alg: 'RS256' }] });
  server = new GcpIamContractServer({
    serviceAccounts: [{ email: JIT_SA, impersonators: [PRINCIPAL] }, { email: 'someone-else@orders.iam.gserviceaccount.com' }],
    // the pool provider: the cluster's issuer and keys, the provider's audience
    federation: {
      audience: AUDIENCE,
      verify: async (token) => {
        const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE });
        return `principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/jit/subject/${payload.sub}`;
      },
    },
  });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const saToken = (key = issuerKey, audience = AUDIENCE) =>
  new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISSUER).setSubject(SUBJECT).setAudience(audience).setIssuedAt().setExpirationTime('1h').sign(key);

/** The file `gcloud iam workload-identity-pools create-cred-config` writes, pointing at the contract server. */
function credentialConfig(name: string, tokenFile: string, serviceAccount = JIT_SA): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      type: 'external_account',
      audience: AUDIENCE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${server.restUrl}/v1/token`,
      service_account_impersonation_url: `${server.restUrl}/v1/projects/-/serviceAccounts/${serviceAccount}:generateAccessToken`,
      credential_source: { file: tokenFile },
    }),
  );
  return path;
}

function tokenFile(name: string, token: string): string {
  const path = join(dir, name);
  writeFileSync(path, token, { mode: 0o600 });
  return path;
}

describe('gcp-iam: workload identity federation (external_account file) against the contract server', () => {
  it("exchanges the projected token at STS and acts as jit's service account", async () => {
    const auth = adapterAuth({ keyFilename: credentialConfig('wif', tokenFile('sa-token', await saToken())) });
    const token = (await auth.getAccessToken()) as string;
    const minted = server.tokenInfo(token);
    expect(minted?.serviceAccount).toBe(JIT_SA);
    expect(minted?.scopes).toEqual(['https://www.googleapis.com/auth/cloud-platform']);
    expect(server.exchanges.at(-1)).toEqual({ audience: AUDIENCE, principal: PRINCIPAL });
  });

  it('a token from another issuer key is refused at the exchange; the error does not carry the token', async () => {
    const forged = await saToken((await generateKeyPair('RS256')).privateKey);
    const auth = adapterAuth({ keyFilename: credentialConfig('wif-forged', tokenFile('forged-token', forged)) });
    const err = (await auth.getAccessToken().then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e as Error,
    )) as Error;
    expect(err.message).toMatch(/invalid_grant/);
    expect(err.message).not.toContain(forged.split('.')[1]!);
    expect(server.exchanges.at(-1)).toEqual({ audience: AUDIENCE });
  });

  it('a service account that does not list the workload as an impersonator is refused', async () => {
    const auth = adapterAuth({ keyFilename: credentialConfig('wif-other', tokenFile('sa-token-2', await saToken()), 'someone-else@orders.iam.gserviceaccount.com') });
    await expect(auth.getAccessToken()).rejects.toThrow(/PERMISSION_DENIED|getAccessToken/);
  });
});
