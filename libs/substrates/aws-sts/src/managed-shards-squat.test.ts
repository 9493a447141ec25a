// An attack (hostile review 5): a principal allowed iam:CreatePolicy but not iam:AttachRolePolicy squats the
// name jit will give its next managed deny shard (`/jit/<role>/jit-denies-<role>-<hash of content>`,
// deterministic from grant ids and expiry seconds). jit's CreatePolicy answers EntityAlreadyExists,
// managed-shards.ts `write` took the existing policy's ARN and attached it to the role before
// reading what it held: the squatter's Allow was then on the privileged role, attached by jit, and —
// since it did not parse as a shard — left there for good. Now jit attaches only what it wrote,
// and takes off (loudly) a policy under its path that is not, e.g. one given a new version.
import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import type { IssueRequest } from '@jit/substrates';
import { FakeAws } from './testing';
import type { AwsClients, AwsSender } from './config';
import { createAwsStsSubstrate } from './aws-sts-substrate';
import { awsStsConfigSchema, type AwsStsSubstrate } from './config';
import { entriesOfShard } from './revoked-shard';
import { decodePolicyDocument } from './deny-policy';

const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };
const EVIL = { Version: '2012-10-17', Statement: [{ Sid: 'Squat', Effect: 'Allow', Action: '*', Resource: '*' }] };
const grantId = (i: number) => `gl-4242-${i}-${i.toString(16).padStart(40, '0')}`;

describe('a managed shard name squatted by someone allowed iam:CreatePolicy', () => {
  let clock: Date;
  let aws: FakeAws;
  let roleArn: string;
  let squatted = 0;

  const make = (): AwsStsSubstrate => {
    const destination = new Writable({ write: (_c, _e, cb) => cb() });
    // the squatter wins the race to the name (it can compute it: grant ids and expiries are public to it)
    const clients = (): AwsClients => {
      const real = aws.clients();
      const iam: AwsSender = {
        send: async (command: object) => {
          const c = command as { constructor: { name: string }; input: Record<string, unknown> };
          if (c.constructor.name === 'CreatePolicyCommand' && String(c.input.Path).startsWith('/jit/')) {
            await real.iam.send({ constructor: { name: 'CreatePolicyCommand' }, input: { ...c.input, PolicyDocument: JSON.stringify(EVIL) } } as never).catch(() => undefined);
            squatted++;
          }
          return real.iam.send(command);
        },
      };
      return { sts: real.sts, iam };
    };
    return createAwsStsSubstrate(awsStsConfigSchema.parse({ region: 'eu-west-1', roles: [roleArn] }), {
      name: 'aws-sts',
      logger: createLogger({ name: 'test', destination }),
      clients,
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

  beforeEach(() => {
    clock = new Date('2026-03-01T10:00:00.000Z');
    aws = new FakeAws(() => clock);
    roleArn = aws.createRole('fleet-role', { maxSessionDuration: 3600 });
    squatted = 0;
  });

  it('jit never attaches a managed policy whose content it did not write', async () => {
    const sub = make();
    for (let i = 0; i < 120 && squatted === 0; i++) {
      const issued = await sub.issue(req(i)).catch(() => undefined);
      clock = new Date(clock.getTime() + 2500);
      if (issued) await sub.revoke(issued.handle).catch(() => undefined);
    }
    expect(squatted).toBeGreaterThan(0);
    const attached = [...(aws.role('fleet-role')?.attached ?? [])].map((arn) => decodePolicyDocument(aws.managed.get(arn)?.document));
    // every managed policy jit put on the role is one of its deny shards — no Allow
    for (const doc of attached) expect(entriesOfShard(doc)).toBeDefined();
  });

  it('a squatted policy jit attached is gone once every session has expired and housekeeping ran', async () => {
    const sub = make();
    for (let i = 0; i < 120 && squatted === 0; i++) {
      const issued = await sub.issue(req(i)).catch(() => undefined);
      clock = new Date(clock.getTime() + 2500);
      if (issued) await sub.revoke(issued.handle).catch(() => undefined);
    }
    expect(squatted).toBeGreaterThan(0);
    clock = new Date(clock.getTime() + (900 + 300 + 300 + 1) * 1000);
    await sub.maintain!(clock);
    clock = new Date(clock.getTime() + 11 * 60_000);
    await sub.maintain!(clock);
    const left = [...(aws.role('fleet-role')?.attached ?? [])].filter((a) => a.includes(':policy/jit/'));
    expect(left).toEqual([]);
  });

  it('a jit shard whose content was changed afterwards (a new default version) is detached at the next read, with an error logged', async () => {
    const lines: string[] = [];
    const sub = createAwsStsSubstrate(awsStsConfigSchema.parse({ region: 'eu-west-1', roles: [roleArn] }), {
      name: 'aws-sts',
      logger: createLogger({ name: 'test', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }),
      clients: () => aws.clients(),
      now: () => clock,
    });
    const jitAttached = () => [...(aws.role('fleet-role')?.attached ?? [])].filter((a) => a.includes(':policy/jit/'));
    for (let i = 0; i < 200 && jitAttached().length === 0; i++) {
      const issued = await sub.issue(req(i));
      clock = new Date(clock.getTime() + 2500);
      await sub.revoke(issued.handle);
    }
    const [tampered] = jitAttached();
    expect(tampered).toBeDefined();
    aws.managed.get(tampered!)!.document = JSON.stringify(EVIL);
    await sub.maintain!(clock);
    expect(jitAttached()).not.toContain(tampered);
    expect(lines.join('')).toContain('is not a deny shard jit wrote');
  });
});
