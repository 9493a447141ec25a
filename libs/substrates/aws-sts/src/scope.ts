// The aws-sts scope grammar: which role to assume and the session policy that narrows it.
// validateScope turns anything else (hostile, oversized, malformed) into Problems, never throws.
import { z } from 'zod';
import type { Problem } from '@jit/substrates';
import { guardedSessionPolicy } from './session-guard';

/** STS limit on the plaintext session policy (JSON without whitespace). */
export const SESSION_POLICY_MAX_CHARS = 2048;

const ROLE_ARN_RE = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role\/((?:[\x21-\x2e\x30-\x7e]+\/){0,20})([\w+=,.@-]{1,64})$/;

export interface ParsedRoleArn {
  partition: string;
  accountId: string;
  path: string;
  roleName: string;
}

/** Split a role ARN; undefined when it is not one. */
export function parseRoleArn(arn: string): ParsedRoleArn | undefined {
  if (arn.length > 2048) return undefined;
  const m = ROLE_ARN_RE.exec(arn);
  if (!m) return undefined;
  return { partition: m[1] as string, accountId: m[2] as string, path: `/${m[3] ?? ''}`, roleName: m[4] as string };
}

const roleArn = z
  .string()
  .max(2048)
  .refine((s) => parseRoleArn(s) !== undefined, {
    message: 'must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/[path/]<name>',
  });

const ACTION_RE = /^(\*|[a-z0-9-]{1,64}:[A-Za-z0-9*?]{1,128})$/;
const action = z.string().max(200).regex(ACTION_RE, 'must be `*` or `<service>:<Action>` (wildcards * and ? allowed)');
const resource = z
  .string()
  .max(1024)
  .regex(/^(\*|arn:[\x21-\x7e]+)$/, 'must be `*` or an ARN');
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1).max(100)]);

const conditionValue = z.union([z.string().max(1024), z.boolean(), z.number(), z.array(z.union([z.string().max(1024), z.boolean(), z.number()])).max(100)]);
const CONDITION_KEY_RE = /^[A-Za-z0-9:/_.${}*-]{1,128}$/;
const condition = z.record(
  z.string().regex(/^[A-Za-z]{1,64}(:[A-Za-z]{1,64})?$/, 'condition operators are words like StringEquals or ForAnyValue:StringLike'),
  z.record(z.string().regex(CONDITION_KEY_RE, 'not a condition key'), conditionValue),
);

const statement = z
  .strictObject({
    Sid: z
      .string()
      .regex(/^[A-Za-z0-9]{0,128}$/, 'Sid may hold only letters and digits')
      .refine((sid) => !/^jit/i.test(sid), 'Sids starting with "Jit" are reserved for the statements jit adds')
      .optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Action: oneOrMany(action).optional(),
    NotAction: oneOrMany(action).optional(),
    Resource: oneOrMany(resource).optional(),
    NotResource: oneOrMany(resource).optional(),
    Condition: condition.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.Action === undefined) === (s.NotAction === undefined)) ctx.addIssue({ code: 'custom', message: 'a statement needs exactly one of Action or NotAction', path: ['Action'] });
    if ((s.Resource === undefined) === (s.NotResource === undefined)) ctx.addIssue({ code: 'custom', message: 'a statement needs exactly one of Resource or NotResource', path: ['Resource'] });
  });

const policyDocument = z.strictObject({
  Version: z.literal('2012-10-17', { message: 'Version must be "2012-10-17"' }),
  Id: z.string().max(128).optional(),
  Statement: z.union([statement, z.array(statement).min(1).max(50)]),
});

/** Shorthand: `{ actions: [...], resources: [...] }` becomes one Allow statement. */
const shorthand = z.strictObject({
  actions: z.array(action).min(1).max(100),
  resources: z.array(resource).min(1).max(100).default(['*']),
});

export const awsStsScopeSchema = z.strictObject({
  /** policy.yaml's own key on every scope; ignored here (the policy lib owns it). */
  tier: z.string().max(64).optional(),
  roleArn,
  sessionPolicy: z.union([shorthand, policyDocument], {
    message: 'sessionPolicy must be an IAM policy document { Version, Statement } or { actions, resources }',
  }),
});

export type AwsStsScope = z.infer<typeof awsStsScopeSchema>;
export type PolicyDocument = z.infer<typeof policyDocument>;

/** The scope's own session policy as a document (the shorthand expanded). */
export function scopePolicyDocument(scope: AwsStsScope): PolicyDocument {
  const p = scope.sessionPolicy;
  if ('actions' in p) {
    return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: p.actions, Resource: p.resources }] };
  }
  return p;
}

/** The session policy as the JSON document STS receives: the scope's, then jit's guard (session-guard.ts). */
export function sessionPolicyDocument(scope: AwsStsScope): PolicyDocument {
  return guardedSessionPolicy(scopePolicyDocument(scope));
}

const MAX_MESSAGE = 300;
function clip(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}…` : s;
}

export const AWS_REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The target's `connection` (policy.yaml): `{ region? }`, the region handed to the requester as AWS_REGION. */
export function validateAwsStsConnection(connection: unknown): Problem[] {
  if (connection === undefined) return [];
  if (connection === null || typeof connection !== 'object' || Array.isArray(connection)) {
    return [{ path: 'connection', message: 'connection must be an object such as { region: eu-west-1 }' }];
  }
  const region = (connection as Record<string, unknown>).region;
  if (region !== undefined && (typeof region !== 'string' || !AWS_REGION_RE.test(region))) {
    return [{ path: 'connection.region', message: 'region must be an AWS region such as eu-west-1' }];
  }
  return [];
}

/** Problems with an aws-sts scope (and, when given, the target's connection); [] when usable. Paths are relative to the scope. */
export function validateAwsStsScope(input: unknown, connection?: unknown): Problem[] {
  const conn = validateAwsStsConnection(connection);
  if (conn.length > 0) return conn;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return [{ path: '', message: 'scope must be an object { roleArn, sessionPolicy }' }];
  }
  const parsed = awsStsScopeSchema.safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.slice(0, 20).map((i) => ({
      path: clip(i.path.map(String).join('.')),
      message: clip(i.message),
    }));
  }
  const packed = JSON.stringify(sessionPolicyDocument(parsed.data)).length;
  if (packed > SESSION_POLICY_MAX_CHARS) {
    return [
      {
        path: 'sessionPolicy',
        message: `session policy is ${packed} characters without whitespace, jit's appended deny included; STS accepts at most ${SESSION_POLICY_MAX_CHARS}`,
      },
    ];
  }
  return [];
}
