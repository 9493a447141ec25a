// Room for revokes beyond the role's inline quota: compacted denies overflow into managed
// policies jit creates and attaches (managed-shards.ts). What must hold: a revoke always has room,
// an issue is refused first (with a clear message), no deny is lost to a crash between IAM calls
// or to two replicas at once, and roles carrying the inline-only state of earlier versions go on.
import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest, Issued } from '@jit/substrates';
import { FakeAws, awsError } from './testing';
import { createAwsStsSubstrate } from './aws-sts-substrate';
import { awsStsConfigSchema, type AwsStsSubstrate } from './config';
import { MANAGED_ORPHAN_AGE_MS } from './managed-shards';

const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };
const grantId = (i: number) => `gl-4242-${i}-${i.toString(16).padStart(40, '0')}`;

describe('aws-sts: denies overflow into managed policies jit owns', () => {
  let clock: Date;
  let aws: FakeAws;
  let roleArn: string;
  let lines: string[];

  const make = (over: Record<string, unknown> = {}): AwsStsSubstrate => {
    const destination = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    return createAwsStsSubstrate(awsStsConfigSchema.parse({ region: 'eu-west-1', roles: [roleArn], ...over }), {
      name: 'aws-sts',
      logger: createLogger({ name: 'test', destination }),
      clients: () => aws.clients(),
      now: () => clock,
    });
  };
  const req = (i: number): IssueRequest => ({
    grantId: grantId(i),
    elevationId: `gl-4242-${i}`,
    requester: 'agent-7',
    target: 'orders-s3',
    scopeName: 'read',
    scope: { roleArn, sessionPolicy: POLICY },
    connection: {},
    ttlSeconds: 30,
  });
  const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));
  const role = () => aws.role('fleet-role');
  const jitManaged = () => [...(role()?.attached ?? [])].filter((a) => a.includes(':policy/jit/fleet-role/'));

  beforeEach(() => {
    clock = new Date('2026-03-01T10:00:00.000Z');
    aws = new FakeAws(() => clock);
    roleArn = aws.createRole('fleet-role', { maxSessionDuration: 3600 });
    lines = [];
  });

  /** Issue and revoke `n` grants, one every `step` seconds (each revoked 30 s after issue, as at its TTL). */
  async function churn(sub: AwsStsSubstrate, n: number, step: number, from = 0): Promise<Issued[]> {
    const out: Issued[] = [];
    for (let i = from; i < from + n; i++) {
      const issued = await sub.issue(req(i));
      advance(step);
      await sub.revoke(issued.handle);
      out.push(issued);
    }
    return out;
  }

  it('300 grants issued and revoked on one role within 15 minutes all succeed and stay denied (inline only: refused after ~70)', async () => {
    const sub = make();
    const issued = await churn(sub, 300, 2.5);
    for (const out of issued) expect(aws.works(out.secret)).toBe(false);
    const usage = await sub.quotaUsage(roleArn);
    expect(usage.managedChars).toBeGreaterThan(usage.inlineLimit);
    expect(jitManaged().length).toBeGreaterThan(1);
    // every live session of a grant stays denied until it expires; then every jit policy goes
    advance(900 + 300 + 300 + 1);
    await sub.maintain!(clock);
    expect(role()?.policies.size).toBe(0);
    expect(role()?.attached.size).toBe(0);
    expect(role()?.tags.size).toBe(0);
    advance(MANAGED_ORPHAN_AGE_MS / 1000 + 1);
    await sub.maintain!(clock);
    expect(aws.managed.size).toBe(0);

    // the same churn with managed policies off is refused within the first 15 minutes
    const inlineOnly = make({ attachedPoliciesPerRole: 0 });
    let refused: unknown;
    let n = 0;
    for (; n < 300 && !refused; n++) await churn(inlineOnly, 1, 2.5, 1000 + n).catch((e: unknown) => (refused = e));
    expect(refused).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT', retriable: true });
    expect(n).toBeLessThan(100);
  }, 60_000);

  it('a role full of denies and live grants refuses the next issue, and every live grant can still be revoked (no housekeeping between)', async () => {
    const sub = make();
    const live: Issued[] = [];
    let refused: unknown;
    for (let i = 0; i < 3000 && !refused; i++) {
      try {
        const out = await sub.issue(req(i));
        // keep up to 30 live, revoke the rest at once: the role fills with denies that cannot expire (the clock stands)
        if (live.push(out) > 30) await sub.revoke((live.shift() as Issued).handle);
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT', retriable: true });
    expect((refused as Error).message).toMatch(/managed characters \(\d+ of 10 managed policies attached\), and the revoke of \d+ live grant\(s\) needs/);
    for (const out of live) await sub.revoke(out.handle);
    for (const out of live) expect(aws.works(out.secret)).toBe(false);
    expect(jitManaged().length).toBe(9); // 10 slots, one kept free for swaps
  }, 120_000);

  it("counts only the slots the role's own managed policies leave free, and keeps the inline-only limit when there are none", async () => {
    for (let i = 0; i < 9; i++) role()?.attached.add((aws.managed.set(`own-${i}`, { name: `own-${i}`, path: '/', arn: `own-${i}`, document: '{}', created: 0 }), `own-${i}`));
    const sub = make();
    let refused: unknown;
    let n = 0;
    for (; n < 300 && !refused; n++) await churn(sub, 1, 2.5, n).catch((e: unknown) => (refused = e));
    expect(refused).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT' });
    expect(jitManaged()).toEqual([]);
  });

  it('a crash between creating and attaching a managed shard loses no deny; the unattached policy is swept later', async () => {
    const sub = make();
    aws.failNext('AttachRolePolicyCommand', awsError('ServiceFailure', 500));
    const issued = await churn(sub, 120, 2.5);
    for (const out of issued) expect(aws.works(out.secret)).toBe(false);
    const orphans = () => [...aws.managed.values()].filter((m) => ![...(role()?.attached ?? [])].includes(m.arn));
    expect(orphans()).toHaveLength(1);
    advance(MANAGED_ORPHAN_AGE_MS / 1000 + 1);
    await sub.maintain!(clock);
    expect(orphans()).toHaveLength(0);
    for (const out of issued) expect(aws.works(out.secret)).toBe(false);
  });

  it('a crash between attaching a new shard and removing what it replaced leaves a duplicate that the next compaction folds', async () => {
    const sub = make();
    aws.failNext('DetachRolePolicyCommand', awsError('ServiceFailure', 500));
    aws.failNext('DeletePolicyCommand', awsError('ServiceFailure', 500));
    const issued = await churn(sub, 160, 2.5);
    for (const out of issued) expect(aws.works(out.secret)).toBe(false);
    for (const out of issued.slice(-5)) expect(await sub.verifyRevoked(out.handle)).toMatchObject({ verified: true });
  });

  it('two replicas compacting into managed shards at once lose no deny', async () => {
    const a = make();
    const b = make();
    // replica A's first managed shard is held just before it is created; B issues, revokes and compacts meanwhile
    const held = aws.pauseNext('CreatePolicyCommand', () => true);
    const runA = churn(a, 100, 2.5);
    await held.reached;
    const byB = await churn(b, 60, 2.5, 5000);
    held.release();
    const byA = await runA;
    await Promise.all([a.maintain!(clock), b.maintain!(clock)]);
    for (const out of [...byA, ...byB]) expect(aws.works(out.secret)).toBe(false);
    expect(jitManaged().length).toBeGreaterThan(0);
  }, 60_000);

  it('an identity that may not create managed policies compacts inline only, says so, and never counts managed room', async () => {
    const sub = make();
    aws.failNext('CreatePolicyCommand', awsError('AccessDenied', 403, 'not authorized to perform iam:CreatePolicy'));
    let refused: unknown;
    const issued: Issued[] = [];
    for (let n = 0; n < 300 && !refused; n++)
      await churn(sub, 1, 2.5, n).then(
        (o) => issued.push(...o),
        (e: unknown) => (refused = e),
      );
    expect(refused).toMatchObject({ code: 'JIT_ERR_AWSSTS_IAM_LIMIT' });
    for (const out of issued) expect(aws.works(out.secret)).toBe(false);
    expect(lines.join('')).toContain('may not create or attach managed deny policies');
    expect(lines.join('')).not.toContain('not authorized');
  });

  it('a role carrying the inline-only state of earlier versions (per-grant policies, inline shards, one tag a grant) goes on: its denies stay and overflow later', async () => {
    const old = make({ attachedPoliciesPerRole: 0 });
    const before = await churn(old, 50, 2.5);
    const stillLive = await old.issue(req(900));
    expect(jitManaged()).toEqual([]);
    expect([...(role()?.policies.keys() ?? [])].some((n) => n.startsWith('jit-denies-'))).toBe(true);
    const sub = make();
    const after = await churn(sub, 200, 2.5, 1000);
    await sub.revoke(stillLive.handle);
    for (const out of [...before, ...after, stillLive]) expect(aws.works(out.secret)).toBe(false);
    expect(jitManaged().length).toBeGreaterThan(0);
  }, 60_000);
});
