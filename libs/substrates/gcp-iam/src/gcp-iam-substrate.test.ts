import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type IssueRequest, type RevocationHandle } from '@jit/substrates';
import { createGcpIamSubstrate, gcpIamSubstrate } from './gcp-iam-substrate';
import { gcpIamConfigSchema, type GcpIamSubstrate } from './gcp-iam-config';
import { FakeIamCredentials } from './testing/fake-iam-credentials';

const SA = 'orders-writer@jit-test.iam.gserviceaccount.com';
const GRANT = 'gl-42-7-0123456789abcdef0123456789abcdef01234567';
const SCOPES = ['https://www.googleapis.com/auth/devstorage.read_write'];

describe('gcp-iam substrate (fake client, no sockets)', () => {
  let clock: Date;
  let fake: FakeIamCredentials;
  let lines: string[];
  let sub: GcpIamSubstrate;

  const make = (over: Record<string, unknown> = {}) =>
    createGcpIamSubstrate(gcpIamConfigSchema.parse(over), {
      name: 'gcp-iam',
      logger: createLogger({ name: 't', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }),
      client: () => fake,
      now: () => clock,
    });
  const req = (over: Partial<IssueRequest> = {}): IssueRequest => ({
    grantId: GRANT,
    elevationId: 'gl-42-7',
    requester: 'alice',
    target: 'gcs-orders',
    scopeName: 'write',
    scope: { serviceAccount: SA, scopes: SCOPES },
    connection: {},
    ttlSeconds: 900,
    ...over,
  });
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  beforeEach(() => {
    clock = new Date('2026-03-01T10:00:00.000Z');
    fake = new FakeIamCredentials(() => clock);
    lines = [];
    sub = make();
  });

  it('asks for a token with lifetime = TTL, one attempt and a deadline, and returns it with its expiry', async () => {
    const out = await sub.issue(req());
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.request).toEqual({ name: `projects/-/serviceAccounts/${SA}`, scope: SCOPES, delegates: [], lifetime: { seconds: 900 } });
    expect(fake.calls[0]?.options).toEqual({ timeout: 10_000, retry: null });
    expect(out.expiresAt).toBe('2026-03-01T10:15:00.000Z');
    expect(out.handle).toEqual({
      kind: 'gcp-iam',
      grantId: GRANT,
      expiresAt: out.expiresAt,
      ref: { serviceAccount: SA, scopes: SCOPES.join(' '), expireTime: out.expiresAt },
    });
    expect(out.secret.GOOGLE_OAUTH_ACCESS_TOKEN).toMatch(/^ya29\./);
  });

  it('takes expireTime from the answer (seconds as string or number, with nanos)', async () => {
    fake.answerNext({ accessToken: 'ya29.a', expireTime: { seconds: 1_772_359_200, nanos: 500_000_000 } });
    expect((await sub.issue(req())).expiresAt).toBe('2026-03-01T10:00:00.500Z');
    for (const bad of [{ accessToken: '', expireTime: { seconds: '1' } }, { accessToken: 'ya29.b' }, { accessToken: 'ya29.c', expireTime: { seconds: 'soon' } }]) {
      fake.answerNext(bad);
      const err = await rejection(sub.issue(req({ grantId: `${GRANT}-${Math.random()}` })));
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_FAILED', retriable: false });
    }
  });

  it('limits TTL to 3600 s, or 43200 s with allowExtendedLifetime, before any call', async () => {
    expect(sub.maxTtlSeconds).toBe(3600);
    expect(await rejection(sub.issue(req({ ttlSeconds: 3601 })))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG', retriable: false });
    for (const ttl of [0, -1, 2.5]) expect(await rejection(sub.issue(req({ ttlSeconds: ttl })))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    expect(fake.calls).toHaveLength(0);
    const ext = make({ allowExtendedLifetime: true });
    expect(ext.maxTtlSeconds).toBe(43_200);
    await expect(ext.issue(req({ ttlSeconds: 43_200 }))).resolves.toBeDefined();
    expect(await rejection(ext.issue(req({ grantId: 'g2', ttlSeconds: 43_201 })))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG' });
  });

  it('refuses a second token for the same grant (tokens cannot be revoked), but allows a retry after a failed call', async () => {
    const first = await sub.issue(req());
    const err = await rejection(sub.issue(req()));
    expect(err).toBeInstanceOf(JitError);
    expect(err).toMatchObject({ code: 'JIT_ERR_GCPIAM_ALREADY_ISSUED', retriable: false });
    expect((err as Error).message).toContain(first.expiresAt);
    expect(fake.calls).toHaveLength(1);
    fake.failNext(14, 'unavailable');
    expect(await rejection(sub.issue(req({ grantId: 'gl-1-1-b' })))).toMatchObject({ retriable: true });
    await expect(sub.issue(req({ grantId: 'gl-1-1-b' }))).resolves.toBeDefined();
  });

  it('concurrent issues of one grant mint one token', async () => {
    const results = await Promise.allSettled([sub.issue(req()), sub.issue(req()), sub.issue(req())]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(fake.calls).toHaveLength(1);
  });

  it('revoke records the decision (no early revocation exists); verifyRevoked says yes only after expiry', async () => {
    const out = await sub.issue(req());
    expect(await sub.listIssued()).toHaveLength(1);
    await sub.revoke(out.handle);
    await sub.revoke(out.handle);
    expect(await sub.listIssued()).toEqual([]);
    expect(await sub.verifyRevoked(out.handle)).toMatchObject({ verified: false, detail: expect.stringContaining('cannot be revoked early') });
    clock = new Date('2026-03-01T10:15:00.000Z');
    expect(await sub.verifyRevoked(out.handle)).toMatchObject({ verified: true });
    expect(lines.join('')).toContain('cannot be revoked early');
  });

  it('revoke before issue (out of order) blocks the late issue', async () => {
    const handle: RevocationHandle = { kind: 'gcp-iam', grantId: GRANT, ref: { serviceAccount: SA, expireTime: '2026-03-01T10:15:00.000Z' }, expiresAt: '2026-03-01T10:15:00.000Z' };
    await sub.revoke(handle);
    expect(await rejection(sub.issue(req()))).toMatchObject({ code: 'JIT_ERR_GCPIAM_ALREADY_ISSUED' });
    expect(fake.calls).toHaveLength(0);
  });

  it('listIssued drops tokens past their expiry', async () => {
    await sub.issue(req({ ttlSeconds: 60 }));
    expect(await sub.listIssued()).toHaveLength(1);
    clock = new Date(clock.getTime() + 60_000);
    expect(await sub.listIssued()).toEqual([]);
  });

  it('refuses handles it did not produce', async () => {
    const out = await sub.issue(req());
    for (const h of [
      { ...out.handle, kind: 'aws-sts' },
      { ...out.handle, ref: {} },
      { ...out.handle, ref: { ...out.handle.ref, serviceAccount: 'not-an-email' } },
      { ...out.handle, ref: { ...out.handle.ref, expireTime: 'tomorrow' } },
      { ...out.handle, grantId: '' },
      null,
    ]) {
      const err = await rejection(sub.revoke(h as RevocationHandle));
      expect(err, JSON.stringify(h)).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    }
  });

  it('maps gRPC status codes to retriable or not without copying server details', async () => {
    const cases: Array<[number, string, boolean]> = [
      [14, 'JIT_ERR_SUBSTRATE_UNREACHABLE', true], // UNAVAILABLE
      [4, 'JIT_ERR_SUBSTRATE_UNREACHABLE', true], // DEADLINE_EXCEEDED
      [8, 'JIT_ERR_SUBSTRATE_UPSTREAM', true], // RESOURCE_EXHAUSTED
      [13, 'JIT_ERR_SUBSTRATE_UPSTREAM', true], // INTERNAL
      [7, 'JIT_ERR_SUBSTRATE_DENIED', false], // PERMISSION_DENIED
      [16, 'JIT_ERR_SUBSTRATE_DENIED', false], // UNAUTHENTICATED
      [5, 'JIT_ERR_SUBSTRATE_REJECTED', false], // NOT_FOUND
      [3, 'JIT_ERR_SUBSTRATE_REJECTED', false], // INVALID_ARGUMENT
      [2, 'JIT_ERR_SUBSTRATE_FAILED', false], // UNKNOWN
    ];
    for (const [code, jit, retriable] of cases) {
      fake.failNext(code, 'details with ya29.leaked-token');
      const err = await rejection(sub.issue(req({ grantId: `gl-1-${code}-x` })));
      expect(err, String(code)).toMatchObject({ code: jit, retriable });
      expect((err as Error).message).not.toContain('ya29');
      expect(String(((err as Error).cause as Error)?.message)).not.toContain('ya29');
      expect(((err as Error).cause as { code?: unknown })?.code).toBe(code);
    }
  });

  it('refuses a bad scope at issue, naming the field', async () => {
    const err = await rejection(sub.issue(req({ scope: { serviceAccount: 'root@gmail.com', scopes: SCOPES } })));
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE' });
    expect((err as Error).message).toContain('serviceAccount');
    expect(fake.calls).toHaveLength(0);
  });

  it('keeps the token out of logs and handles', async () => {
    const out = await sub.issue(req());
    await sub.revoke(out.handle);
    const token = out.secret.GOOGLE_OAUTH_ACCESS_TOKEN as string;
    expect(lines.join('')).not.toContain(token);
    expect(JSON.stringify(out.handle)).not.toContain(token);
    expect(JSON.stringify(await sub.listIssued())).not.toContain(token);
  });

  it('config: insecure only on loopback; registers as a named instance; close releases the client', async () => {
    expect(gcpIamConfigSchema.safeParse({ endpoint: { host: 'iamcredentials.example.com', port: 443, insecure: true } }).success).toBe(false);
    expect(gcpIamConfigSchema.safeParse({ endpoint: { host: '127.0.0.1', port: 1, insecure: true } }).success).toBe(true);
    expect(gcpIamConfigSchema.safeParse({ allowExtendedLifetime: 'yes' }).success).toBe(false);
    const registry = new SubstrateRegistry({ logger: createLogger({ name: 't', level: 'silent' }), definitions: [gcpIamSubstrate] });
    const prod = registry.configure('gcp-iam:prod', {}, { client: () => fake, now: () => clock });
    const out = await prod.issue(req());
    expect(out.handle.instance).toBe('gcp-iam:prod');
    expect(prod.canRevokeEarly).toBe(false);
    await registry.closeAll();
    expect(fake.closed).toBe(true);
  });
});
