import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type IssueRequest, type RevocationHandle } from '@jit/substrates';
import { FakeAws, awsError } from './testing';
import { awsStsSubstrate, createAwsStsSubstrate } from './aws-sts-substrate';
import { ROLE_INLINE_POLICY_LIMIT, ROLE_TAG_LIMIT, awsStsConfigSchema, type AwsStsSubstrate } from './config';
import { denyDocument, decodePolicyDocument } from './deny-policy';
import { grantTag } from './grant-names';
import { sessionGuardStatement } from './session-guard';

const GRANT = 'gl-42-7-0123456789abcdef0123456789abcdef01234567';
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::orders/*' }] };

describe('aws-sts substrate (fake STS/IAM)', () => {
  let clock: Date;
  let aws: FakeAws;
  let roleArn: string;
  let lines: string[];
  let sub: AwsStsSubstrate;

  const make = (over: Record<string, unknown> = {}, name = 'aws-sts') => {
    const destination = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    return createAwsStsSubstrate(awsStsConfigSchema.parse({ region: 'eu-west-1', ...over }), {
      name,
      logger: createLogger({ name: 'test', destination }),
      clients: () => aws.clients(),
      now: () => clock,
    });
  };
  const req = (over: Partial<IssueRequest> = {}): IssueRequest => ({
    grantId: GRANT,
    elevationId: 'gl-42-7',
    requester: 'alice',
    target: 'orders-s3',
    scopeName: 'write',
    scope: { roleArn, sessionPolicy: POLICY },
    connection: {},
    ttlSeconds: 1800,
    ...over,
  });
  const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const assumeCalls = () => aws.calls.filter((c) => c.command === 'AssumeRoleCommand');
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  beforeEach(() => {
    clock = new Date('2026-03-01T10:00:00.000Z');
    aws = new FakeAws(() => clock);
    roleArn = aws.createRole('orders-writer', { maxSessionDuration: 7200 });
    lines = [];
    sub = make();
  });

  it('assumes the role with the session policy, the grant-named session and the requester as source identity', async () => {
    const out = await sub.issue(req({ requester: 'alice smith/ops' }));
    const [call] = assumeCalls();
    expect(call?.input).toEqual({
      RoleArn: roleArn,
      RoleSessionName: `jit-${GRANT}`,
      DurationSeconds: 1800,
      Policy: JSON.stringify({ ...POLICY, Statement: [...POLICY.Statement, sessionGuardStatement()] }),
      SourceIdentity: `alice-smith-ops@${grantTag(GRANT)}`,
    });
    expect(Object.keys(out.secret).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_REGION', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
    expect(out.secret.AWS_REGION).toBe('eu-west-1');
    expect(aws.works(out.secret)).toBe(true);
    expect(out.expiresAt).toBe('2026-03-01T10:30:00.000Z');
    const role = aws.role('orders-writer');
    expect(out.handle).toEqual({
      kind: 'aws-sts',
      grantId: GRANT,
      expiresAt: out.expiresAt,
      ref: {
        roleArn,
        roleName: 'orders-writer',
        roleId: role?.id,
        sessionName: `jit-${GRANT}`,
        attempt: 1,
        assumedRoleId: `${role?.id}:jit-${GRANT}`,
        // natural expiry + the 300 s skew margin
        sessionExpiresAt: '2026-03-01T10:35:00.000Z',
      },
    });
  });

  it('hands out the target connection region, and refuses a malformed one', async () => {
    const out = await sub.issue(req({ connection: { region: 'us-west-2' } }));
    expect(out.secret.AWS_REGION).toBe('us-west-2');
    expect(sub.validateScope({ roleArn, sessionPolicy: POLICY }, { region: 'mars-1' })[0]?.path).toBe('connection.region');
    expect(sub.validateScope({ roleArn, sessionPolicy: POLICY }, 'eu-west-1')[0]?.path).toBe('connection');
    expect(await rejection(sub.issue(req({ grantId: 'gl-2-2-r', connection: { region: '../../etc' } })))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE' });
  });

  it('asks STS for at least 900 s but keeps the grant expiry at the TTL', async () => {
    const out = await sub.issue(req({ ttlSeconds: 60 }));
    expect(assumeCalls()[0]?.input.DurationSeconds).toBe(900);
    expect(out.expiresAt).toBe('2026-03-01T10:01:00.000Z');
    expect(out.handle.ref.sessionExpiresAt).toBe('2026-03-01T10:20:00.000Z');
  });

  it('refuses a TTL beyond the role MaxSessionDuration or the instance limit before assuming anything', async () => {
    const tooLong = await rejection(sub.issue(req({ ttlSeconds: 7201 })));
    expect(tooLong).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG', retriable: false });
    expect((tooLong as Error).message).toContain('7200');
    const capped = make({ maxTtlSeconds: 3600 });
    expect(await rejection(capped.issue(req({ ttlSeconds: 3601 })))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_TTL_TOO_LONG' });
    for (const ttl of [0, -5, 1.5, Number.NaN]) {
      expect(await rejection(sub.issue(req({ ttlSeconds: ttl }))), String(ttl)).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    }
    for (const grantId of ['', 'g'.repeat(257), 42 as unknown as string]) {
      expect(await rejection(sub.issue(req({ grantId }))), String(grantId).slice(0, 10)).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_REJECTED' });
    }
    expect(assumeCalls()).toHaveLength(0);
  });

  it('sanitises any requester into a valid SourceIdentity unique to the grant', async () => {
    for (const [requester, expected] of [
      ['', '-'],
      ['a', 'a'],
      ['aws:admin', 'aws-admin'],
      ['x'.repeat(100), 'x'.repeat(46)],
      ['a@b', 'a-b'],
    ] as const) {
      const grantId = `gl-9-9-${expected.length}${requester.length}`;
      await sub.issue(req({ grantId, requester }));
      const got = assumeCalls().at(-1)?.input.SourceIdentity as string;
      expect(got).toBe(`${expected}@${grantTag(grantId)}`);
      expect(got).toMatch(/^[\w+=,.@-]{2,64}$/);
      expect(got.startsWith('aws:')).toBe(false);
    }
    const quiet = make({ sourceIdentity: false });
    await quiet.issue(req({ grantId: 'gl-9-9-none' }));
    expect(assumeCalls().at(-1)?.input).not.toHaveProperty('SourceIdentity');
  });

  it('refuses an invalid scope at issue, naming the field, and touches nothing', async () => {
    const err = await rejection(sub.issue(req({ scope: { roleArn: 'arn:aws:iam::1:role/x', sessionPolicy: POLICY } })));
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE', retriable: false });
    expect((err as Error).message).toContain('roleArn');
    expect(aws.calls).toHaveLength(0);
  });

  it('only assumes configured roles when `roles` is set', async () => {
    const other = aws.createRole('other');
    const strict = make({ roles: [roleArn] });
    expect(strict.validateScope({ roleArn: other, sessionPolicy: POLICY })[0]?.path).toBe('roleArn');
    expect(await rejection(strict.issue(req({ scope: { roleArn: other, sessionPolicy: POLICY } })))).toMatchObject({
      code: 'JIT_ERR_AWSSTS_ROLE_NOT_ALLOWED',
    });
    expect(await rejection(strict.issue(req({ scope: { roleArn: 'arn:aws:iam::1:role/x', sessionPolicy: POLICY } })))).toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_INVALID_SCOPE',
    });
    await expect(strict.issue(req())).resolves.toBeDefined();
  });

  it('sanitises a hostile or long grant id into a valid, distinct session name', async () => {
    const ids = [`gl-1-2-${'f'.repeat(80)}`, 'gl-1-2-a b/c', 'gl-1-2-a,b', 'gl-1-2-a.b', 'gl-1-2-a*b'];
    const names = new Set<string>();
    for (const grantId of ids) {
      const out = await sub.issue(req({ grantId }));
      const session = assumeCalls().at(-1)?.input.RoleSessionName as string;
      expect(session).toMatch(/^jit-[A-Za-z0-9_+=@-]{1,56}$/);
      expect(session.length).toBeLessThanOrEqual(60);
      expect(out.handle.grantId).toBe(grantId);
      names.add(session);
    }
    expect(names.size).toBe(ids.length);
  });

  it('a retry of the same grant denies the earlier session, keeps the expiry, and leaves one live credential', async () => {
    const first = await sub.issue(req());
    advance(600);
    const second = await sub.issue(req());
    expect(assumeCalls()[1]?.input).toMatchObject({ RoleSessionName: `jit-${GRANT}.2`, DurationSeconds: 1200 });
    expect(second.expiresAt).toBe(first.expiresAt);
    expect(second.handle.ref.attempt).toBe(2);
    expect(aws.works(first.secret)).toBe(false);
    expect(aws.works(second.secret)).toBe(true);
    expect((await sub.listIssued()).filter((h) => h.grantId === GRANT)).toHaveLength(1);
    // revoking from the FIRST handle still ends every session of the grant
    await sub.revoke(first.handle);
    expect(aws.works(second.secret)).toBe(false);
  });

  it('refuses a retry after the grant expired or was revoked', async () => {
    const out = await sub.issue(req({ ttlSeconds: 900 }));
    advance(901);
    expect(await rejection(sub.issue(req()))).toMatchObject({ code: 'JIT_ERR_AWSSTS_GRANT_EXPIRED', retriable: false });
    const g2 = `${GRANT}x`;
    const out2 = await sub.issue(req({ grantId: g2 }));
    await sub.revoke(out2.handle);
    expect(await rejection(sub.issue(req({ grantId: g2 })))).toMatchObject({ code: 'JIT_ERR_AWSSTS_GRANT_REVOKED', retriable: false });
    expect(out.handle.grantId).toBe(GRANT);
  });

  it('revoke puts the exact deny document for the session aws:userid, and is idempotent', async () => {
    const out = await sub.issue(req());
    await sub.revoke(out.handle);
    const role = aws.role('orders-writer');
    const stored = decodePolicyDocument(role?.policies.get(`jit-revoke-${GRANT}`));
    expect(stored).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: `JitRevokeUntil${Date.parse('2026-03-01T10:35:00.000Z') / 1000}`,
          Effect: 'Deny',
          Action: '*',
          Resource: '*',
          // the policy sits on the role, so only its sessions are evaluated: no RoleId needed
          Condition: { StringLike: { 'aws:userid': [`*:jit-${GRANT}`] } },
        },
        // every attempt of the grant, and any session assumed from one of them
        { Sid: 'JitSourceIdentity', Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:SourceIdentity': [`*@${grantTag(GRANT)}*`] } } },
      ],
    });
    expect(aws.works(out.secret)).toBe(false);
    await sub.revoke(out.handle);
    await sub.revoke(JSON.parse(JSON.stringify(out.handle)) as RevocationHandle);
    expect(role?.policies.size).toBe(1);
    expect(await sub.listIssued()).toEqual([]);
  });

  it('a deny for one grant leaves another grant on the same role working', async () => {
    const a = await sub.issue(req());
    const b = await sub.issue(req({ grantId: `${GRANT.slice(0, -1)}8` }));
    await sub.revoke(a.handle);
    expect(aws.works(a.secret)).toBe(false);
    expect(aws.works(b.secret)).toBe(true);
  });

  it('revoke before issue (out of order) succeeds and then blocks the late issue', async () => {
    const out = await sub.issue(req({ grantId: 'gl-1-1-aa' }));
    const early: RevocationHandle = { ...out.handle, grantId: GRANT, ref: { ...out.handle.ref, sessionName: `jit-${GRANT}` } };
    await sub.revoke(early);
    expect(await rejection(sub.issue(req()))).toMatchObject({ code: 'JIT_ERR_AWSSTS_GRANT_REVOKED' });
    expect(aws.works(out.secret)).toBe(true);
  });

  it('revoke of a role that was deleted is a success', async () => {
    const out = await sub.issue(req());
    aws.deleteRole('orders-writer');
    await expect(sub.revoke(out.handle)).resolves.toBeUndefined();
    expect((await sub.verifyRevoked(out.handle)).verified).toBe(true);
  });

  it('verifyRevoked: no before revoke, yes with the exact deny, no if the deny was altered, yes after natural expiry', async () => {
    const out = await sub.issue(req());
    expect((await sub.verifyRevoked(out.handle)).verified).toBe(false);
    await sub.revoke(out.handle);
    expect(await sub.verifyRevoked(out.handle)).toMatchObject({ verified: true });
    const role = aws.role('orders-writer');
    const tampered = denyDocument('revoke', { grantId: 'gl-9-9-other', base: 'jit-gl-9-9-other', attempts: 1, sourceIdentity: true }, new Date('2026-03-01T11:00:00Z'));
    role?.policies.set(`jit-revoke-${GRANT}`, encodeURIComponent(JSON.stringify(tampered)));
    expect((await sub.verifyRevoked(out.handle)).verified).toBe(false);
    advance(36 * 60);
    expect((await sub.verifyRevoked(out.handle)).verified).toBe(true);
  });

  it('listIssued finds live grants from the role ledger, usable as revoke handles', async () => {
    const out = await sub.issue(req());
    const fresh = make(); // a new process: knows the role only from config
    expect(await fresh.listIssued()).toEqual([]);
    const configured = make({ roles: [roleArn] });
    const [listed] = await configured.listIssued();
    expect(listed).toMatchObject({ kind: 'aws-sts', grantId: GRANT, expiresAt: out.expiresAt });
    await configured.revoke(listed as RevocationHandle);
    expect(aws.works(out.secret)).toBe(false);
    expect(await configured.listIssued()).toEqual([]);
  });

  it('cleanupExpiredDenies keeps denies while a session can live and removes them after', async () => {
    const out = await sub.issue(req({ ttlSeconds: 900 }));
    await sub.revoke(out.handle);
    const role = aws.role('orders-writer');
    expect(await sub.cleanupExpiredDenies()).toEqual({ removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 });
    expect(role?.policies.size).toBe(1);
    advance(900 + 299);
    expect((await sub.cleanupExpiredDenies()).removedDenies).toEqual([]);
    advance(2);
    expect(await sub.cleanupExpiredDenies()).toEqual({ removedDenies: [`orders-writer/jit-revoke-${GRANT}`], removedLedgerEntries: 1, compactedDenies: 0 });
    expect(role?.policies.size).toBe(0);
    expect([...(role?.tags.keys() ?? [])]).toEqual([]);
    expect(await sub.cleanupExpiredDenies()).toEqual({ removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 });
  });

  it('cleanup keeps a deny while the ledger knows of a later session than the deny does', async () => {
    const out = await sub.issue(req({ ttlSeconds: 900 }));
    await sub.revoke(out.handle);
    const role = aws.role('orders-writer');
    const key = `jit:jit-${GRANT}`;
    // as if a racing retry had started a session after the revoke computed its deny
    role?.tags.set(key, String(role.tags.get(key)).replace(/nat=\S+/, 'nat=2026-03-01T12:00:00.000Z'));
    advance(3600);
    expect((await sub.cleanupExpiredDenies()).removedDenies).toEqual([]);
    expect(role?.policies.size).toBe(1);
    advance(3600);
    expect((await sub.cleanupExpiredDenies()).removedDenies).toHaveLength(1);
  });

  it('with roles configured, refuses a handle for another role', async () => {
    const strict = make({ roles: [roleArn] });
    const out = await strict.issue(req());
    const other = aws.createRole('other');
    const err = await rejection(strict.revoke({ ...out.handle, ref: { ...out.handle.ref, roleArn: other, roleName: 'other' } }));
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' });
    expect(aws.role('other')?.policies.size).toBe(0);
  });

  it('refuses handles it did not produce with a non-retriable error', async () => {
    const out = await sub.issue(req());
    const bad: unknown[] = [
      { ...out.handle, kind: 'vault' },
      { ...out.handle, ref: {} },
      { ...out.handle, ref: { ...out.handle.ref, roleName: 'someone-else' } },
      { ...out.handle, ref: { ...out.handle.ref, sessionName: 'admin-session' } },
      { ...out.handle, ref: { ...out.handle.ref, roleId: '*' } },
      // another grant's session, or a grant id that does not match the session: not ours to deny
      { ...out.handle, grantId: 'gl-9-9-other' },
      { ...out.handle, ref: { ...out.handle.ref, sessionName: 'jit-gl-9-9-other' } },
      null,
    ];
    for (const h of bad) {
      const err = await rejection(sub.revoke(h as RevocationHandle));
      expect(err, JSON.stringify(h)).toBeInstanceOf(JitError);
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE', retriable: false });
    }
    expect(aws.works(out.secret)).toBe(true);
  });

  it('maps AWS failures to retriable or not, without copying AWS messages', async () => {
    const cases: Array<[unknown, string, boolean]> = [
      [awsError('ThrottlingException', 400, 'Rate exceeded'), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [awsError('InternalFailure', 500), 'JIT_ERR_SUBSTRATE_UPSTREAM', true],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'JIT_ERR_SUBSTRATE_UNREACHABLE', true],
      [awsError('AccessDenied', 403, 'User arn:aws:iam::1:user/x is not authorized'), 'JIT_ERR_SUBSTRATE_DENIED', false],
      [awsError('MalformedPolicyDocument', 400), 'JIT_ERR_SUBSTRATE_REJECTED', false],
      [awsError('RegionDisabledException', 403), 'JIT_ERR_SUBSTRATE_REJECTED', false],
    ];
    for (const [error, code, retriable] of cases) {
      aws.failNext('AssumeRoleCommand', error);
      const err = await rejection(sub.issue(req({ grantId: `gl-1-1-${code.length}${Math.random().toString(36).slice(2)}` })));
      expect(err).toMatchObject({ code, retriable });
      expect((err as Error).message).not.toContain('not authorized');
      // the kept cause is scrubbed: the AWS error name, status and network code, never its message
      const cause = (err as JitError).cause as Error;
      expect(cause.name).toBe((error as Error).name);
      expect(cause.message).not.toContain('not authorized');
      expect(cause.message).not.toContain('Rate exceeded');
    }
  });

  it('an IAM limit on revoke makes room and tries once more; if that fails too it is retriable and names the role', async () => {
    const out = await sub.issue(req());
    aws.failNext('PutRolePolicyCommand', awsError('LimitExceededException', 409));
    await sub.revoke(out.handle);
    expect(aws.works(out.secret)).toBe(false);
    const out2 = await sub.issue(req({ grantId: `${GRANT}2` }));
    aws.failNext('PutRolePolicyCommand', awsError('LimitExceededException', 409));
    aws.failNext('PutRolePolicyCommand', awsError('LimitExceededException', 409));
    const err = await rejection(sub.revoke(out2.handle));
    expect(err).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT', retriable: true });
    expect((err as Error).message).toContain('orders-writer');
    expect(aws.works(out2.secret)).toBe(true);
    await sub.revoke(out2.handle);
    expect(aws.works(out2.secret)).toBe(false);
  });

  it('runs out of IAM tag room with a clear retriable error, and cleanup makes room', async () => {
    const role = aws.role('orders-writer');
    for (let i = 0; i < 50; i++) role?.tags.set(`team${i}`, 'x');
    expect(await rejection(sub.issue(req()))).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT', retriable: true });
    expect(assumeCalls()).toHaveLength(0);
  });

  it('keeps secrets out of logs, handles and errors', async () => {
    const out = await sub.issue(req());
    aws.failNext('PutRolePolicyCommand', awsError('ServiceFailure', 500, `echo ${out.secret.AWS_SECRET_ACCESS_KEY}`));
    const err = await rejection(sub.revoke(out.handle));
    await sub.revoke(out.handle);
    const texts = [lines.join('\n'), JSON.stringify(out.handle), JSON.stringify(err), String((err as Error).message)];
    for (const s of [out.secret.AWS_SECRET_ACCESS_KEY, out.secret.AWS_SESSION_TOKEN, out.secret.AWS_ACCESS_KEY_ID]) {
      for (const t of texts) expect(t).not.toContain(s);
    }
    expect(lines.join('')).toContain('sts session issued');
  });

  describe('what the grantee will try', () => {
    const EVERYTHING = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

    it('cannot chain out of a jit session: sts:AssumeRole on the same or another role is denied, even for a * scope', async () => {
      const other = aws.createRole('other-role');
      for (const sessionPolicy of [POLICY, EVERYTHING]) {
        const out = await sub.issue(req({ grantId: `${GRANT}${sessionPolicy === POLICY ? 'a' : 'b'}`, scope: { roleArn, sessionPolicy } }));
        for (const target of [roleArn, other]) {
          expect(() => aws.chain(out.secret, target, 'my-own-name'), target).toThrow(expect.objectContaining({ name: 'AccessDenied' }));
        }
      }
    });

    it("cannot mint IAM credentials or remove jit's deny and ledger from the role, even for a * scope", async () => {
      const out = await sub.issue(req({ scope: { roleArn, sessionPolicy: EVERYTHING } }));
      for (const action of [
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:TagRole',
        'iam:UntagRole',
        'iam:UpdateAssumeRolePolicy',
        'iam:CreateAccessKey',
        'iam:CreateLoginProfile',
        'iam:CreateUser',
        'sts:TagSession',
        'sts:SetSourceIdentity',
      ]) {
        expect(aws.callAs(out.secret, action, roleArn), action).toBe('denied');
      }
      expect(aws.callAs(out.secret, 's3:GetObject')).toBe('allowed');
    });

    it('a session chained from a jit session anyway (same role, a name of its own) ends with the revoke: the deny matches its SourceIdentity', async () => {
      const out = await sub.issue(req());
      const other = await sub.issue(req({ grantId: `${GRANT}x` })); // same requester, another grant
      const chained = aws.chain(out.secret, roleArn, 'looks-innocent', { ignoreCallerPolicy: true });
      expect(aws.works(chained)).toBe(true);
      await sub.revoke(out.handle);
      expect(aws.works(out.secret)).toBe(false);
      expect(aws.works(chained)).toBe(false);
      // the SourceIdentity is per grant, not per requester: the requester's other grant lives on
      expect(aws.works(other.secret)).toBe(true);
      expect((await sub.verifyRevoked(out.handle)).verified).toBe(true);
    });

    it('a retry supersedes the earlier attempt and what was chained from it, not the new attempt', async () => {
      const first = await sub.issue(req());
      const chained = aws.chain(first.secret, roleArn, 'x', { ignoreCallerPolicy: true });
      advance(60);
      const second = await sub.issue(req());
      expect(assumeCalls()[1]?.input.SourceIdentity).toBe(`alice@${grantTag(GRANT)}.2`);
      expect(aws.works(first.secret)).toBe(false);
      expect(aws.works(chained)).toBe(false);
      expect(aws.works(second.secret)).toBe(true);
    });
  });

  describe('IAM quotas (50 tags, 10,240 characters of inline policy per role)', () => {
    const OWN_POLICY = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Own', Effect: 'Allow', Action: 's3:*', Resource: Array.from({ length: 16 }, (_, i) => `arn:aws:s3:::team-bucket-${i}/*`) }],
    });
    const crowd = () => {
      const role = aws.role('orders-writer');
      for (let i = 0; i < 10; i++) role?.tags.set(`team${i}`, 'x');
      role?.policies.set('own-policy', encodeURIComponent(OWN_POLICY));
    };

    it('a burst of grants cannot make their revokes fail: issue is refused first, every revoke succeeds', async () => {
      crowd();
      const issued: Array<Awaited<ReturnType<AwsStsSubstrate['issue']>>> = [];
      let refused: unknown;
      for (let i = 0; i < 60 && !refused; i++) {
        try {
          issued.push(await sub.issue(req({ grantId: `gl-42-7-${String(i).padStart(3, '0')}-0123456789abcdef0123456789abcdef` })));
        } catch (err) {
          refused = err;
        }
      }
      expect(refused).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT', retriable: true });
      expect(issued.length).toBeGreaterThan(15);
      for (const out of issued) await sub.revoke(out.handle);
      for (const out of issued) expect(aws.works(out.secret)).toBe(false);
      expect(await sub.quotaUsage(roleArn)).toMatchObject({ reservedChars: 0, liveGrants: 0 });
    });

    it('many grants revoked early on one role keep issuing and revoking: one every 30 s for two hours, housekeeping every 5 minutes', async () => {
      crowd();
      // each revoked grant's deny must stay until its session's natural end (900 s + margin): ~40
      // at a time here, more than fit as one policy per grant (~32 on this role)
      for (let i = 0; i < 240; i++) {
        const out = await sub.issue(req({ grantId: `gl-42-7-${String(i).padStart(3, '0')}-0123456789abcdef0123456789abcdef`, ttlSeconds: 900 }));
        advance(15);
        await sub.revoke(out.handle);
        expect(aws.works(out.secret)).toBe(false);
        advance(15);
        if (i % 10 === 9) await sub.maintain!(clock);
      }
      const usage = await sub.quotaUsage(roleArn);
      expect(usage.inlineChars).toBeLessThan(ROLE_INLINE_POLICY_LIMIT);
      expect(usage.tags).toBeLessThan(ROLE_TAG_LIMIT);
    });

    it('folds revoked grants into one compacted policy: each stays denied by userid and SourceIdentity, verifies, refuses a late retry, and goes after expiry', async () => {
      const grants = Array.from({ length: 6 }, (_, i) => `gl-42-7-${i}-0123456789abcdef0123456789abcdef01234567`);
      const issued = [];
      for (const grantId of grants) issued.push(await sub.issue(req({ grantId, ttlSeconds: 900 })));
      const chained = aws.chain(issued[2]!.secret, roleArn, 'innocent', { ignoreCallerPolicy: true });
      for (const out of issued) await sub.revoke(out.handle);
      const role = aws.role('orders-writer');
      const names = [...(role?.policies.keys() ?? [])];
      expect(names.filter((n) => n.startsWith('jit-denies-'))).toHaveLength(1);
      expect(names.filter((n) => n.startsWith('jit-revoke-')).length).toBeLessThanOrEqual(1);
      for (const out of issued) {
        expect(aws.works(out.secret)).toBe(false);
        expect(await sub.verifyRevoked(out.handle)).toMatchObject({ verified: true });
      }
      expect(aws.works(chained)).toBe(false);
      expect(await rejection(sub.issue(req({ grantId: grants[0] })))).toMatchObject({ code: 'JIT_ERR_AWSSTS_GRANT_REVOKED' });
      // far smaller than one policy per grant
      const size = [...(role?.policies.values() ?? [])].reduce((n, p) => n + decodeURIComponent(p).length, 0);
      const one = JSON.stringify(denyDocument('revoke', { grantId: grants[0]!, base: `jit-${grants[0]}`, attempts: 1, sourceIdentity: true }, clock)).length;
      expect(size).toBeLessThan((grants.length * one) / 2);
      advance(900 + 300 + 300 + 1);
      await sub.maintain!(clock);
      expect(role?.policies.size).toBe(0);
      expect(role?.tags.size).toBe(0);
    });

    it('two replicas compacting at once on one role lose no deny (a compaction held between reading and writing)', async () => {
      const other = make(); // a second revoker replica
      const grant = (i: number) => `gl-42-7-${i}-0123456789abcdef0123456789abcdef01234567`;
      const issued = [];
      for (let i = 0; i < 3; i++) issued.push(await sub.issue(req({ grantId: grant(i) })));
      await sub.revoke(issued[0]!.handle);
      // replica A revokes grant 1; its compaction (of grants 0 and 1) is held just before it writes its policy
      const held = aws.pauseNext('PutRolePolicyCommand', (input) => String(input.PolicyName).startsWith('jit-denies-'));
      const a = sub.revoke(issued[1]!.handle);
      await held.reached;
      // meanwhile replica B revokes grant 2 and compacts all three
      await other.revoke(issued[2]!.handle);
      held.release();
      await a;
      for (const out of issued) {
        expect(aws.works(out.secret)).toBe(false);
        expect((await sub.verifyRevoked(out.handle)).verified).toBe(true);
      }
      await Promise.all([sub.maintain!(clock), other.maintain!(clock)]);
      for (const out of issued) expect(aws.works(out.secret)).toBe(false);
      expect([...(aws.role('orders-writer')?.policies.keys() ?? [])]).toHaveLength(1);
    });

    it('compaction deletes nothing the new policy does not hold as IAM answers it (a stale read, a racing replica)', async () => {
      const a = await sub.issue(req({ grantId: `${GRANT}a` }));
      const b = await sub.issue(req({ grantId: `${GRANT}b` }));
      await sub.revoke(a.handle);
      // the read-back of the freshly written shard answers "no such policy", as a lagging IAM replica can
      aws.failNext('GetRolePolicyCommand', awsError('NoSuchEntityException', 404), (input) => String(input.PolicyName).startsWith('jit-denies-'));
      await sub.revoke(b.handle);
      const names = [...(aws.role('orders-writer')?.policies.keys() ?? [])];
      expect(names.filter((n) => n.startsWith('jit-revoke-'))).toHaveLength(2);
      expect(aws.works(a.secret)).toBe(false);
      expect(aws.works(b.secret)).toBe(false);
      // the next sweep folds them
      await sub.maintain!(clock);
      expect([...(aws.role('orders-writer')?.policies.keys() ?? [])].filter((n) => n.startsWith('jit-revoke-'))).toHaveLength(0);
      expect(aws.works(a.secret)).toBe(false);
      expect(aws.works(b.secret)).toBe(false);
    });

    it('warns before the quota: the policy audit (checkSetup) and every maintain report a nearly full role', async () => {
      crowd();
      const configured = make({ roles: [roleArn] });
      expect(await configured.checkSetup()).toEqual([]);
      const role = aws.role('orders-writer');
      for (let i = 10; i < 42; i++) role?.tags.set(`team${i}`, 'x');
      expect(await configured.checkSetup()).toEqual([{ severity: 'warning', message: expect.stringContaining('42 of 50 IAM tags') }]);
      await configured.issue(req());
      await configured.maintain!(clock);
      expect(lines.join('')).toContain('43 of 50 IAM tags');
      // inline policy room: the role's own policies plus what live grants' revokes will need
      role?.policies.set(
        'big',
        encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: Array.from({ length: 400 }, (_, i) => `arn:aws:s3:::b-${i}/*`) }] })),
      );
      expect((await configured.checkSetup()).map((f) => f.message).join(' ')).toMatch(/characters of inline policy and \d+ of \d+ in jit.s managed deny policies .*the revoke of its 1 live grant/);
      aws.deleteRole('orders-writer');
      expect(await configured.checkSetup()).toEqual([{ severity: 'error', message: expect.stringContaining('does not exist') }]);
      expect(await make({ sourceIdentity: false }).checkSetup()).toEqual([{ severity: 'warning', message: expect.stringContaining('sourceIdentity is off') }]);
    });
  });

  it('checkTtl flags scopes that outlive the TTL and says when STS sessions outlast a short ceiling', async () => {
    const found = await sub.checkTtl({ roleArn, sessionPolicy: { actions: ['iam:PassRole', 'lambda:CreateFunction'] } }, 600);
    expect(found.map((f) => f.severity).sort()).toEqual(['info', 'warning']);
    expect(found.find((f) => f.severity === 'warning')?.message).toContain('iam:PassRole, lambda:CreateFunction');
    expect((await sub.checkTtl({ roleArn: 'nope' }, 600))[0]).toMatchObject({ severity: 'error' });
  });

  it('registers as a named instance through the substrate registry', async () => {
    const registry = new SubstrateRegistry({ logger: createLogger({ name: 't', level: 'silent' }), definitions: [awsStsSubstrate] });
    const prod = registry.configure('aws-sts:prod', { region: 'eu-west-1' }, { clients: () => aws.clients(), now: () => clock });
    const out = await prod.issue(req());
    expect(out.handle.instance).toBe('aws-sts:prod');
    expect(registry.forHandle(out.handle)).toBe(prod);
    expect(() => registry.configure('aws-sts:bad', { region: 'nowhere', secretAccessKey: 'x' })).toThrow(/region/);
    await registry.closeAll();
  });
});
