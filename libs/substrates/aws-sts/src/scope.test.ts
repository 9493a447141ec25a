import { describe, expect, it } from 'vitest';
import { SESSION_POLICY_MAX_CHARS, parseRoleArn, scopePolicyDocument, sessionPolicyDocument, validateAwsStsScope, awsStsScopeSchema } from './scope';
import { sessionGuardStatement } from './session-guard';

const ARN = 'arn:aws:iam::123456789012:role/jit/orders-writer';
const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::orders/*' }] };

describe('validateAwsStsScope', () => {
  it('accepts a role ARN with a policy document or the actions/resources shorthand', () => {
    expect(validateAwsStsScope({ roleArn: ARN, sessionPolicy: doc })).toEqual([]);
    expect(validateAwsStsScope({ roleArn: ARN, sessionPolicy: { actions: ['s3:GetObject'], resources: ['*'] } })).toEqual([]);
    // the policy's own `tier` key may stay on the scope; a typo of a real key may not
    expect(validateAwsStsScope({ tier: 'cosmetic', roleArn: ARN, sessionPolicy: doc })).toEqual([]);
    expect(validateAwsStsScope({ roleArn: ARN, sesionPolicy: doc }).length).toBeGreaterThan(0);
    const short = awsStsScopeSchema.parse({ roleArn: ARN, sessionPolicy: { actions: ['s3:Get*'] } });
    expect(scopePolicyDocument(short)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:Get*'], Resource: ['*'] }] });
    // what STS receives: the scope's statements, then jit's guard
    expect(sessionPolicyDocument(short)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:Get*'], Resource: ['*'] }, sessionGuardStatement()] });
  });

  it('parses role ARNs with paths and refuses other ARNs', () => {
    expect(parseRoleArn(ARN)).toEqual({ partition: 'aws', accountId: '123456789012', path: '/jit/', roleName: 'orders-writer' });
    for (const bad of [
      'arn:aws:iam::123456789012:user/alice',
      'arn:aws:iam::12345:role/x',
      'arn:aws:sts::123456789012:assumed-role/x/y',
      'arn:aws:iam::123456789012:role/',
      'arn:aws:iam::123456789012:role/bad name',
      `arn:aws:iam::123456789012:role/${'a'.repeat(65)}`,
      'arn:evil:iam::123456789012:role/x',
    ]) {
      expect(parseRoleArn(bad), bad).toBeUndefined();
      expect(validateAwsStsScope({ roleArn: bad, sessionPolicy: doc })[0]?.path).toBe('roleArn');
    }
  });

  it('refuses malformed policy documents with the path of the fault', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...doc, Version: '2008-10-17' }, 'sessionPolicy'],
      [{ Version: '2012-10-17' }, 'sessionPolicy'],
      [{ Version: '2012-10-17', Statement: [] }, 'sessionPolicy'],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*' }] }, 'sessionPolicy'],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: '*', Resource: '*' }] }, 'sessionPolicy'],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' }] }, 'sessionPolicy'],
      [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'not an action', Resource: '*' }] }, 'sessionPolicy'],
      [{ actions: [] }, 'sessionPolicy'],
    ];
    for (const [sessionPolicy, path] of cases) {
      const problems = validateAwsStsScope({ roleArn: ARN, sessionPolicy });
      expect(problems.length, JSON.stringify(sessionPolicy)).toBeGreaterThan(0);
      expect(problems[0]?.path.startsWith(path)).toBe(true);
    }
  });

  it(`refuses a session policy over ${SESSION_POLICY_MAX_CHARS} packed characters`, () => {
    const resources = Array.from({ length: 60 }, (_, i) => `arn:aws:s3:::bucket-with-a-long-name-${i}/*`);
    const problems = validateAwsStsScope({ roleArn: ARN, sessionPolicy: { actions: ['s3:GetObject'], resources } });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/at most 2048/);
  });

  it('turns hostile input into bounded problems and never throws', () => {
    const hostile: unknown[] = [
      null,
      undefined,
      42,
      'arn',
      [],
      JSON.parse('{"__proto__": {"roleArn": "x"}}'),
      { roleArn: ARN, sessionPolicy: doc, extra: 1 },
      { roleArn: 'x'.repeat(100_000), sessionPolicy: doc },
      { roleArn: ARN, sessionPolicy: { Version: '2012-10-17', Statement: Array.from({ length: 10_000 }, () => doc.Statement[0]) } },
      { [`k${'y'.repeat(50_000)}`]: 1 },
      { roleArn: ARN, sessionPolicy: { ...doc, Statement: [{ ...doc.Statement[0], Condition: { StringEquals: { 'aws:x': { nested: true } } } }] } },
    ];
    for (const h of hostile) {
      const problems = validateAwsStsScope(h);
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) expect(p.message.length + p.path.length).toBeLessThan(700);
    }
  });
});
