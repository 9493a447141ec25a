// An in-memory stand-in for the STS and IAM APIs the aws-sts adapter calls, for unit tests (no
// sockets). It keeps IAM's documented limits that the adapter must survive (50 tags per role,
// 10,240 characters of inline policy per role), answers with SDK-shaped errors, URL-encodes
// policy documents like IAM, and can fail the next call of a command on demand.
import { createHash, randomBytes } from 'node:crypto';
import { deniesUserId, decodePolicyDocument } from '../deny-policy';
import type { AwsClients, AwsSender } from '../aws-sts-substrate';

interface FakeRole {
  name: string;
  arn: string;
  id: string;
  maxSessionDuration: number;
  tags: Map<string, string>;
  policies: Map<string, string>;
}
interface FakeSession {
  roleName: string;
  userId: string;
  expiresAt: number;
  secretAccessKey: string;
  sessionToken: string;
}
export interface FakeCall {
  command: string;
  input: Record<string, any>;
}

const ACCOUNT = '123456789012';

/** An error shaped like an AWS SDK v3 ServiceException. */
export function awsError(name: string, status = 400, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

export class FakeAws {
  readonly calls: FakeCall[] = [];
  private readonly roles = new Map<string, FakeRole>();
  private readonly sessions = new Map<string, FakeSession>();
  private readonly failures: Array<{ command: string; error: unknown }> = [];

  constructor(private readonly clock: () => Date = () => new Date()) {}

  createRole(name: string, opts: { maxSessionDuration?: number } = {}): string {
    const id = `AROA${createHash('sha256').update(name).digest('hex').slice(0, 17).toUpperCase()}`;
    const arn = `arn:aws:iam::${ACCOUNT}:role/${name}`;
    this.roles.set(name, { name, arn, id, maxSessionDuration: opts.maxSessionDuration ?? 3600, tags: new Map(), policies: new Map() });
    return arn;
  }

  deleteRole(name: string): void {
    this.roles.delete(name);
  }

  role(name: string): FakeRole | undefined {
    return this.roles.get(name);
  }

  /** The next call of `command` (e.g. 'AssumeRoleCommand') throws `error`. */
  failNext(command: string, error: unknown): void {
    this.failures.push({ command, error });
  }

  /** What AWS would answer for these keys: live, and not explicitly denied by a role policy. */
  works(secret: Record<string, string>): boolean {
    const s = this.sessions.get(secret.AWS_ACCESS_KEY_ID ?? '');
    if (!s || s.secretAccessKey !== secret.AWS_SECRET_ACCESS_KEY || s.sessionToken !== secret.AWS_SESSION_TOKEN) return false;
    if (s.expiresAt <= this.clock().getTime()) return false;
    const role = this.roles.get(s.roleName);
    if (!role) return false;
    return !deniesUserId([...role.policies.values()].map((p) => decodePolicyDocument(p)), s.userId);
  }

  clients(): AwsClients {
    const sender = (): AwsSender => ({ send: (command: object) => this.handle(command) });
    return { sts: sender(), iam: sender() };
  }

  private mustRole(name: unknown): FakeRole {
    const r = this.roles.get(String(name));
    if (!r) throw awsError('NoSuchEntityException', 404, `Role ${String(name)} not found`);
    return r;
  }

  private async handle(command: object): Promise<unknown> {
    const cmd = command.constructor.name;
    const input = (command as { input: Record<string, any> }).input;
    this.calls.push({ command: cmd, input: structuredClone(input) });
    const i = this.failures.findIndex((f) => f.command === cmd);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw f?.error;
    }
    switch (cmd) {
      case 'GetRoleCommand': {
        const r = this.mustRole(input.RoleName);
        return { Role: { RoleName: r.name, Arn: r.arn, RoleId: r.id, MaxSessionDuration: r.maxSessionDuration, Path: '/' } };
      }
      case 'ListRoleTagsCommand': {
        const r = this.mustRole(input.RoleName);
        return { Tags: [...r.tags].map(([Key, Value]) => ({ Key, Value })), IsTruncated: false };
      }
      case 'TagRoleCommand': {
        const r = this.mustRole(input.RoleName);
        for (const t of input.Tags as Array<{ Key: string; Value: string }>) {
          if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(t.Key) || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u.test(t.Value)) {
            throw awsError('InvalidInputException', 400, 'tag key or value has invalid characters or length');
          }
          if (!r.tags.has(t.Key) && r.tags.size >= 50) throw awsError('LimitExceededException', 409, 'cannot exceed quota for TagsPerRole: 50');
          r.tags.set(t.Key, t.Value);
        }
        return {};
      }
      case 'UntagRoleCommand': {
        const r = this.mustRole(input.RoleName);
        for (const k of input.TagKeys as string[]) r.tags.delete(k);
        return {};
      }
      case 'PutRolePolicyCommand': {
        const r = this.mustRole(input.RoleName);
        const doc = String(input.PolicyDocument);
        if (decodePolicyDocument(doc) === undefined) throw awsError('MalformedPolicyDocumentException', 400, 'not JSON');
        const others = [...r.policies].filter(([n]) => n !== input.PolicyName).reduce((n, [, p]) => n + decodeURIComponent(p).replace(/\s/g, '').length, 0);
        if (others + doc.replace(/\s/g, '').length > 10_240) throw awsError('LimitExceededException', 409, 'Maximum policy size of 10240 bytes exceeded');
        r.policies.set(String(input.PolicyName), encodeURIComponent(doc));
        return {};
      }
      case 'GetRolePolicyCommand': {
        const r = this.mustRole(input.RoleName);
        const p = r.policies.get(String(input.PolicyName));
        if (p === undefined) throw awsError('NoSuchEntityException', 404, `The role policy with name ${String(input.PolicyName)} cannot be found.`);
        return { RoleName: r.name, PolicyName: input.PolicyName, PolicyDocument: p };
      }
      case 'DeleteRolePolicyCommand': {
        const r = this.mustRole(input.RoleName);
        if (!r.policies.delete(String(input.PolicyName))) throw awsError('NoSuchEntityException', 404, 'The role policy cannot be found.');
        return {};
      }
      case 'ListRolePoliciesCommand': {
        const r = this.mustRole(input.RoleName);
        return { PolicyNames: [...r.policies.keys()], IsTruncated: false };
      }
      case 'AssumeRoleCommand': {
        const name = /:role\/(?:.*\/)?([^/]+)$/.exec(String(input.RoleArn))?.[1];
        const r = this.roles.get(name ?? '');
        if (!r) throw awsError('AccessDenied', 403, 'not authorized to perform sts:AssumeRole');
        const session = String(input.RoleSessionName);
        if (!/^[\w+=,.@-]{2,64}$/.test(session)) throw awsError('ValidationError', 400, 'RoleSessionName fails its pattern');
        const duration = Number(input.DurationSeconds ?? 3600);
        if (duration < 900 || duration > r.maxSessionDuration) throw awsError('ValidationError', 400, 'DurationSeconds exceeds the MaxSessionDuration set for this role');
        if (input.Policy !== undefined && String(input.Policy).length > 2048) throw awsError('PackedPolicyTooLargeException', 400, 'policy too large');
        if (input.SourceIdentity !== undefined && !/^[\w+=,.@-]{2,64}$/.test(String(input.SourceIdentity))) throw awsError('ValidationError', 400, 'SourceIdentity fails its pattern');
        const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
        const expiresAt = this.clock().getTime() + duration * 1000;
        const s: FakeSession = {
          roleName: r.name,
          userId: `${r.id}:${session}`,
          expiresAt,
          secretAccessKey: randomBytes(30).toString('base64'),
          sessionToken: `FQoG${randomBytes(48).toString('base64')}`,
        };
        this.sessions.set(accessKeyId, s);
        return {
          Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: s.secretAccessKey, SessionToken: s.sessionToken, Expiration: new Date(expiresAt) },
          AssumedRoleUser: { AssumedRoleId: s.userId, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${r.name}/${session}` },
          SourceIdentity: input.SourceIdentity,
        };
      }
      default:
        throw new Error(`FakeAws: ${cmd} is not implemented`);
    }
  }
}
