// The adapter over real gRPC against gcp-iam-contract-server — a local FAKE of the published
// IAMCredentials service (not Google). What this proves: the request the adapter sends and its
// handling of the documented answers and status codes; not Google's own behaviour beyond the proto.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc } from 'google-gax';
import { createLogger } from '@jit/observability';
import { contractGrantId, runSubstrateContractSuite } from '@jit/substrates/testing';
import { waitFor } from '@jit/testing';
import type { IssueRequest } from '@jit/substrates';
import { GCP_IAM_CREDENTIAL } from './credential';
import { createGcpIamSubstrate } from './gcp-iam-substrate';
import { gcpIamConfigSchema, type GcpIamSubstrate } from './gcp-iam-config';
import { GcpIamContractServer } from './testing';

const SA = 'orders-writer@jit-test.iam.gserviceaccount.com';
const EXTENDED = 'long-runner@jit-test.iam.gserviceaccount.com';
const NO_RIGHTS = 'locked@jit-test.iam.gserviceaccount.com';
const HOP = 'hop@jit-test.iam.gserviceaccount.com';
const MINTER = 'minter@jit-test.iam.gserviceaccount.com';
const KEYMAKER = 'keymaker@jit-test.iam.gserviceaccount.com';
const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

let server: GcpIamContractServer;
const lines: string[] = [];
const logger = createLogger({ name: 'gcp-int', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });

function substrate(over: Record<string, unknown> = {}): GcpIamSubstrate {
  const config = gcpIamConfigSchema.parse({
    endpoint: { host: '127.0.0.1', port: server.port, insecure: true },
    iamUrl: server.restUrl,
    resourceManagerUrl: server.restUrl,
    projectId: 'jit-test',
    timeoutMs: 2000,
    ...over,
  });
  return createGcpIamSubstrate(config, { name: 'gcp-iam', logger });
}

function request(over: Partial<IssueRequest> = {}, scope: Record<string, unknown> = {}): IssueRequest {
  return {
    grantId: contractGrantId(),
    elevationId: 'gl-1-1',
    requester: 'alice',
    target: 'gcp-orders',
    scopeName: 'write',
    scope: { serviceAccount: SA, scopes: SCOPES, ...scope },
    connection: {},
    ttlSeconds: 600,
    ...over,
  };
}

beforeAll(async () => {
  server = new GcpIamContractServer({
    serviceAccounts: [
      { email: SA },
      { email: EXTENDED, extendedLifetime: true },
      { email: NO_RIGHTS, tokenCreator: false },
      { email: HOP },
      // may mint tokens for every account of the project (roles/iam.serviceAccountTokenCreator on the project)
      { email: MINTER, holds: { 'projects/jit-test': ['iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.signJwt'] } },
      // may create keys for itself (roles/iam.serviceAccountKeyAdmin on the account)
      { email: KEYMAKER, holds: { [`projects/-/serviceAccounts/${KEYMAKER}`]: ['iam.serviceAccountKeys.create'] } },
    ],
  });
  await server.start();
});
afterAll(() => server?.stop());

describe('gcp-iam against gcp-iam-contract-server (a local fake of IAMCredentials)', () => {
  it('sends the documented GenerateAccessToken request and returns the token with its expireTime', async () => {
    const sub = substrate();
    const before = Date.now();
    const req = request({}, { delegates: [HOP] });
    const out = await sub.issue(req);
    expect(server.requests.at(-1)).toEqual({
      name: `projects/-/serviceAccounts/${SA}`,
      scope: SCOPES,
      delegates: [`projects/-/serviceAccounts/${HOP}`],
      lifetime: { seconds: '600', nanos: 0 },
    });
    expect(server.tokenInfo(out.secret.GOOGLE_OAUTH_ACCESS_TOKEN)).toMatchObject({ serviceAccount: SA, scopes: SCOPES });
    expect(Object.keys(out.secret)).toEqual(['GOOGLE_OAUTH_ACCESS_TOKEN']);
    expect(Date.parse(out.expiresAt)).toBeGreaterThan(before + 590_000);
    expect(Date.parse(out.expiresAt)).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(out.handle).toEqual({
      kind: 'gcp-iam',
      grantId: req.grantId,
      expiresAt: out.expiresAt,
      ref: { serviceAccount: SA, scopes: SCOPES.join(' '), expireTime: out.expiresAt },
    });
    await sub.close();
  });

  it('revoke cannot end a GCP token early (canRevokeEarly = false): it works until its natural expiry', async () => {
    const sub = substrate();
    expect(sub.canRevokeEarly).toBe(false);
    const out = await sub.issue(request({ ttlSeconds: 2 }));
    await sub.revoke(out.handle);
    await sub.revoke(out.handle);
    expect(server.tokenInfo(out.secret.GOOGLE_OAUTH_ACCESS_TOKEN)).toBeDefined();
    expect((await sub.verifyRevoked(out.handle)).verified).toBe(false);
    await waitFor(() => server.tokenInfo(out.secret.GOOGLE_OAUTH_ACCESS_TOKEN) === undefined, { timeoutMs: 5000, what: 'the token to expire' });
    await waitFor(async () => (await sub.verifyRevoked(out.handle)).verified, { timeoutMs: 2000, what: 'verifyRevoked after expiry' });
    await sub.close();
  });

  it('TTL above 3600 s is refused before any call; with allowExtendedLifetime it reaches the server', async () => {
    const sub = substrate();
    const count = server.requests.length;
    expect(sub.maxTtlSeconds).toBe(3600);
    await expect(sub.issue(request({ ttlSeconds: 3601 }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG', retriable: false });
    expect(server.requests.length).toBe(count);
    const ext = substrate({ allowExtendedLifetime: true });
    expect(ext.maxTtlSeconds).toBe(43_200);
    const out = await ext.issue(request({ ttlSeconds: 7200 }, { serviceAccount: EXTENDED }));
    expect(Date.parse(out.expiresAt)).toBeGreaterThan(Date.now() + 7100_000);
    // the org policy must cover the account: the server refuses 7200 s for one it does not cover
    await expect(ext.issue(request({ ttlSeconds: 7200 }))).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED', retriable: false });
    await sub.close();
    await ext.close();
  });

  it('maps server statuses: UNAVAILABLE and DEADLINE_EXCEEDED retriable; PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT not', async () => {
    const sub = substrate({ timeoutMs: 300 });
    const cases: Array<[() => void, Partial<IssueRequest>, Record<string, unknown>, string, boolean]> = [
      [() => server.failNext({ code: grpc.status.UNAVAILABLE, details: 'backend down' }), {}, {}, 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
      [() => server.failNext({ hang: true }), {}, {}, 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
      [() => undefined, {}, { serviceAccount: NO_RIGHTS }, 'JIT_ERR_SUBSTRATE_DENIED', false],
      [() => undefined, {}, { serviceAccount: 'ghost@jit-test.iam.gserviceaccount.com' }, 'JIT_ERR_SUBSTRATE_REJECTED', false],
      [() => server.failNext({ code: grpc.status.INVALID_ARGUMENT, details: 'bad' }), {}, {}, 'JIT_ERR_SUBSTRATE_REJECTED', false],
      [() => server.failNext({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'quota' }), {}, {}, 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
    ];
    for (const [arrange, over, scope, code, retriable] of cases) {
      arrange();
      const count = server.requests.length;
      const err = await sub.issue(request(over, scope)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, code).toMatchObject({ code, retriable });
      // one attempt only: gax's own retries are off, the issuer decides
      expect(server.requests.length).toBe(count + 1);
    }
    // a failed call leaves nothing behind: the same grant can be retried
    const grantId = contractGrantId();
    server.failNext({ code: grpc.status.UNAVAILABLE, details: 'x' });
    await expect(sub.issue(request({ grantId }))).rejects.toMatchObject({ retriable: true });
    await expect(sub.issue(request({ grantId }))).resolves.toMatchObject({ handle: { grantId } });
    await sub.close();
  });

  it('the policy audit flags a service account that can mint tokens or keys when its OAuth scopes reach the IAM APIs, asking Google as that account', async () => {
    const sub = substrate();
    const devstorage = ['https://www.googleapis.com/auth/devstorage.read_write'];
    const minter = await sub.checkTtl({ serviceAccount: MINTER, scopes: SCOPES }, 3600);
    expect(minter).toEqual([
      {
        severity: 'error',
        message: expect.stringMatching(
          /minter@jit-test\.iam\.gserviceaccount\.com holds iam\.serviceAccounts\.getAccessToken, iam\.serviceAccounts\.signJwt on project jit-test \(every service account in it\).*outlive the grant/,
        ),
      },
    ]);
    const keymaker = await sub.checkTtl({ serviceAccount: KEYMAKER, scopes: ['https://www.googleapis.com/auth/iam'] }, 3600);
    expect(keymaker).toEqual([{ severity: 'error', message: expect.stringContaining('holds iam.serviceAccountKeys.create on itself') }]);
    // the calls were made as the account (a token it minted), in Google's shape, on its project and on itself
    expect(server.restRequests.slice(-2).map((r) => [r.path, r.caller])).toEqual([
      ['/v1/projects/jit-test:testIamPermissions', KEYMAKER],
      [`/v1/projects/-/serviceAccounts/${KEYMAKER}:testIamPermissions`, KEYMAKER],
    ]);
    expect(await sub.checkTtl({ serviceAccount: SA, scopes: SCOPES }, 3600)).toEqual([{ severity: 'info', message: expect.stringContaining('holds none of') }]);
    // product scopes cannot reach the IAM APIs: safe, and Google is not asked
    const before = server.restRequests.length;
    expect(await sub.checkTtl({ serviceAccount: MINTER, scopes: devstorage }, 3600)).toEqual([{ severity: 'info', message: expect.stringContaining('cannot mint more credentials') }]);
    expect(server.restRequests.length).toBe(before);
    // an account jit may not impersonate cannot be checked: the audit reports the failure
    await expect(sub.checkTtl({ serviceAccount: NO_RIGHTS, scopes: SCOPES }, 3600)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_DENIED' });
    expect(await sub.checkTtl({ serviceAccount: 'not-an-email', scopes: SCOPES }, 3600)).toEqual([expect.objectContaining({ severity: 'error' })]);
    await sub.close();
  });

  it('an unreachable endpoint is a retriable error', async () => {
    const stopped = new GcpIamContractServer();
    const port = await stopped.start();
    await stopped.stop();
    const sub = createGcpIamSubstrate(gcpIamConfigSchema.parse({ endpoint: { host: '127.0.0.1', port, insecure: true }, timeoutMs: 1000 }), { name: 'gcp-iam', logger });
    await expect(sub.issue(request())).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    await sub.close();
  });

  it('no token in logs or errors, even when the server echoes one in its error details', async () => {
    const sub = substrate();
    const out = await sub.issue(request());
    const token = out.secret.GOOGLE_OAUTH_ACCESS_TOKEN as string;
    server.failNext({ code: grpc.status.INTERNAL, details: `upstream said ${token}` });
    const err = await sub.issue(request()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UPSTREAM' });
    expect(err?.message).not.toContain(token);
    expect(JSON.stringify(err)).not.toContain(token);
    expect(lines.join('')).toContain('gcp access token issued');
    expect(lines.join('')).not.toContain(token);
    expect(JSON.stringify(out.handle)).not.toContain(token);
    await sub.close();
  });
});

runSubstrateContractSuite({
  name: 'gcp-iam against gcp-iam-contract-server (a local fake; tokens live to natural expiry, TTL 3 s)',
  credential: GCP_IAM_CREDENTIAL,
  revokeSettleMs: 15_000,
  skip: {
    revoke: 'GCP access tokens cannot be revoked before they expire (canRevokeEarly = false); see "revoke cannot end a GCP token early" above',
    // what the grantee will try needs GCP's IAM; the local fake has none. Tokens that mint tokens
    // are flagged by the policy audit (docs: which scopes are safe).
    beyondScope: 'the local fake enforces no IAM permissions',
    outliveRevoke: 'a GCP token lives to its lifetime whatever revoke does; minting more needs IAM the fake does not model',
    blockRevoke: 'revoke only records the expiry; there is nothing on GCP for a grantee to block',
    hijackAdmin: "jit's admin only calls generateAccessToken; nothing a token holder writes is read by it",
  },
  async setup() {
    const sub = substrate();
    return {
      substrate: sub,
      // 3 s tokens: the cases that wait for "no longer works" see the natural expiry, which is the
      // only way a GCP access token ends.
      makeRequest: (grantId: string) => request({ grantId, ttlSeconds: 3 }),
      probe: async (secret) => server.tokenInfo(secret.GOOGLE_OAUTH_ACCESS_TOKEN) !== undefined,
      teardown: () => sub.close(),
    };
  },
});
