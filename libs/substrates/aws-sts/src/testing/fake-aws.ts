// An in-memory stand-in for the STS and IAM APIs the aws-sts adapter calls, for unit tests (no
// sockets). It keeps IAM's documented limits that the adapter must survive (50 tags per role,
// 10,240 characters of inline policy per role, 6,144 per managed policy, 10 attached per role), answers with SDK-shaped errors, URL-encodes
// policy documents like IAM, and can fail the next call of a command on demand. It also plays the
// grantee: `callAs` evaluates a session's session policy (explicit Deny, then Allow) and the role's
// deny policies for one action, and `chain` assumes a role from an issued session as AWS would
// (the SourceIdentity carries over, the session policy does not).
import { createHash, randomBytes } from 'node:crypto';
import { deniesSession, decodePolicyDocument, globToRegExp } from '../deny-policy';
import { actionMatches } from '../session-guard';
import type { AwsClients, AwsSender } from '../config';

interface FakeRole {
  name: string;
  arn: string;
  id: string;
  maxSessionDuration: number;
  tags: Map<string, string>;
  policies: Map<string, string>;
  /** ARNs of the managed policies attached. */
  attached: Set<string>;
}
interface FakeManagedPolicy {
  name: string;
  path: string;
  arn: string;
  document: string;
  created: number;
}
interface FakeSession {
  roleName: string;
  userId: string;
  sourceIdentity?: string;
  /** The session policy (absent: the role's permissions, which the fake takes as allow-all). */
  policy?: unknown;
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
  /** Customer-managed policies by ARN. */
  readonly managed = new Map<string, FakeManagedPolicy>();
  private readonly failures: Array<{ command: string; error: unknown; when?: (input: Record<string, any>) => boolean }> = [];

  private readonly pauses: Array<{ command: string; when: (input: Record<string, any>) => boolean; reached: () => void; gate: Promise<void> }> = [];

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /**
   * Hold the next call of `command` whose input passes `when` before it takes effect: `reached`
   * resolves when a caller is held there, `release()` lets it go on (a deterministic interleaving
   * of two replicas).
   */
  pauseNext(command: string, when: (input: Record<string, any>) => boolean): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    this.pauses.push({ command, when, reached, gate });
    return { reached: reachedP, release };
  }

  createRole(name: string, opts: { maxSessionDuration?: number } = {}): string {
    const id = `AROA${createHash('sha256').update(name).digest('hex').slice(0, 17).toUpperCase()}`;
    const arn = `arn:aws:iam::${ACCOUNT}:role/${name}`;
    this.roles.set(name, { name, arn, id, maxSessionDuration: opts.maxSessionDuration ?? 3600, tags: new Map(), policies: new Map(), attached: new Set() });
    return arn;
  }

  deleteRole(name: string): void {
    this.roles.delete(name);
  }

  role(name: string): FakeRole | undefined {
    return this.roles.get(name);
  }

  /** The next call of `command` (e.g. 'AssumeRoleCommand') — the next whose input passes `when`, if given — throws `error`. */
  failNext(command: string, error: unknown, when?: (input: Record<string, any>) => boolean): void {
    this.failures.push({ command, error, ...(when ? { when } : {}) });
  }

  /** What AWS would answer for these keys: live, and not explicitly denied by a role policy. */
  works(secret: Record<string, string>): boolean {
    const s = this.sessions.get(secret.AWS_ACCESS_KEY_ID ?? '');
    if (!s || s.secretAccessKey !== secret.AWS_SECRET_ACCESS_KEY || s.sessionToken !== secret.AWS_SESSION_TOKEN) return false;
    if (s.expiresAt <= this.clock().getTime()) return false;
    const role = this.roles.get(s.roleName);
    if (!role) return false;
    return !deniesSession(this.roleDocuments(role.name), s);
  }

  /** Every permission policy of the role as AWS would evaluate it: inline and attached managed ones. */
  roleDocuments(roleName: string): unknown[] {
    const role = this.roles.get(roleName);
    if (!role) return [];
    return [...[...role.policies.values()].map((p) => decodePolicyDocument(p)), ...[...role.attached].map((a) => decodePolicyDocument(this.managed.get(a)?.document))];
  }

  /**
   * Whether AWS would let this session call `action` on `resource`: live and not denied by a role
   * deny (`works`), then its session policy (explicit Deny first, then an Allow must match).
   * Resources match as `*` or a glob; conditions are not evaluated (statements with one never match).
   */
  callAs(secret: Record<string, string>, action: string, resource = '*'): 'allowed' | 'denied' {
    if (!this.works(secret)) return 'denied';
    const s = this.sessions.get(secret.AWS_ACCESS_KEY_ID ?? '') as FakeSession;
    if (s.policy === undefined) return 'allowed';
    const raw = (s.policy as { Statement?: unknown }).Statement;
    const stmts = (Array.isArray(raw) ? raw : [raw]) as Array<Record<string, unknown>>;
    const list = (x: unknown): string[] => (x === undefined ? [] : Array.isArray(x) ? (x as string[]) : [x as string]);
    const matches = (st: Record<string, unknown>) =>
      st.Condition === undefined &&
      (st.NotAction !== undefined ? !list(st.NotAction).some((p) => actionMatches(p, action)) : list(st.Action).some((p) => actionMatches(p, action))) &&
      (st.NotResource !== undefined ? !list(st.NotResource).some((p) => globToRegExp(p).test(resource)) : list(st.Resource).some((p) => globToRegExp(p).test(resource)));
    if (stmts.some((st) => st.Effect === 'Deny' && matches(st))) return 'denied';
    return stmts.some((st) => st.Effect === 'Allow' && matches(st)) ? 'allowed' : 'denied';
  }

  /**
   * The grantee chains: from an issued session, AssumeRole on `roleArn` with a session name of its
   * choice and no session policy. Refused (AccessDenied) when the caller may not call
   * sts:AssumeRole; the new session keeps the caller's SourceIdentity, as STS does.
   */
  chain(secret: Record<string, string>, roleArn: string, sessionName: string, opts: { ignoreCallerPolicy?: boolean } = {}): Record<string, string> {
    // ignoreCallerPolicy: a session that got out anyway (issued before the guard existed, or a path AWS adds)
    const may = opts.ignoreCallerPolicy ? this.works(secret) : this.callAs(secret, 'sts:AssumeRole', roleArn) === 'allowed';
    if (!may) throw awsError('AccessDenied', 403, 'not authorized to perform sts:AssumeRole');
    const caller = this.sessions.get(secret.AWS_ACCESS_KEY_ID ?? '') as FakeSession;
    const name = /:role\/(?:.*\/)?([^/]+)$/.exec(roleArn)?.[1];
    const r = this.mustRole(name);
    return this.newSession(r, sessionName, 3600, caller.sourceIdentity, undefined);
  }

  private newSession(r: FakeRole, session: string, duration: number, sourceIdentity: string | undefined, policy: unknown): Record<string, string> {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const s: FakeSession = {
      roleName: r.name,
      userId: `${r.id}:${session}`,
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      ...(policy !== undefined ? { policy } : {}),
      expiresAt: this.clock().getTime() + duration * 1000,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FQoG${randomBytes(48).toString('base64')}`,
    };
    this.sessions.set(accessKeyId, s);
    return { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, AWS_SESSION_TOKEN: s.sessionToken };
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

  private mustManaged(arn: unknown): FakeManagedPolicy {
    const m = this.managed.get(String(arn));
    if (!m) throw awsError('NoSuchEntityException', 404, `Policy ${String(arn)} does not exist or is not attachable.`);
    return m;
  }

  private attachments(arn: string): number {
    return [...this.roles.values()].filter((r) => r.attached.has(arn)).length;
  }

  private async handle(command: object): Promise<unknown> {
    const cmd = command.constructor.name;
    const input = (command as { input: Record<string, any> }).input;
    this.calls.push({ command: cmd, input: structuredClone(input) });
    const p = this.pauses.findIndex((x) => x.command === cmd && x.when(input));
    if (p >= 0) {
      const [pause] = this.pauses.splice(p, 1);
      pause?.reached();
      await pause?.gate;
    }
    const i = this.failures.findIndex((f) => f.command === cmd && (f.when === undefined || f.when(input)));
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
      case 'CreatePolicyCommand': {
        const name = String(input.PolicyName);
        const path = String(input.Path ?? '/');
        const document = String(input.PolicyDocument);
        if ([...this.managed.values()].some((m) => m.name === name)) throw awsError('EntityAlreadyExistsException', 409, `A policy called ${name} already exists.`);
        if (decodePolicyDocument(document) === undefined) throw awsError('MalformedPolicyDocumentException', 400, 'not JSON');
        if (document.replace(/\s/g, '').length > 6_144) throw awsError('LimitExceededException', 409, 'Cannot exceed quota for PolicySize: 6144');
        const arn = `arn:aws:iam::${ACCOUNT}:policy${path}${name}`;
        this.managed.set(arn, { name, path, arn, document, created: this.clock().getTime() });
        return { Policy: { PolicyName: name, Arn: arn, Path: path, DefaultVersionId: 'v1', AttachmentCount: 0 } };
      }
      case 'GetPolicyCommand': {
        const m = this.mustManaged(input.PolicyArn);
        return { Policy: { PolicyName: m.name, Arn: m.arn, Path: m.path, DefaultVersionId: 'v1', AttachmentCount: this.attachments(m.arn) } };
      }
      case 'GetPolicyVersionCommand': {
        const m = this.mustManaged(input.PolicyArn);
        if (input.VersionId !== 'v1') throw awsError('NoSuchEntityException', 404, 'no such version');
        return { PolicyVersion: { Document: encodeURIComponent(m.document), VersionId: 'v1', IsDefaultVersion: true } };
      }
      case 'AttachRolePolicyCommand': {
        const r = this.mustRole(input.RoleName);
        this.mustManaged(input.PolicyArn);
        if (!r.attached.has(String(input.PolicyArn)) && r.attached.size >= 10) throw awsError('LimitExceededException', 409, 'Cannot exceed quota for PoliciesPerRole: 10');
        r.attached.add(String(input.PolicyArn));
        return {};
      }
      case 'DetachRolePolicyCommand': {
        const r = this.mustRole(input.RoleName);
        if (!r.attached.delete(String(input.PolicyArn))) throw awsError('NoSuchEntityException', 404, 'Policy is not attached to role');
        return {};
      }
      case 'DeletePolicyCommand': {
        const m = this.mustManaged(input.PolicyArn);
        if (this.attachments(m.arn) > 0) throw awsError('DeleteConflictException', 409, 'Cannot delete a policy attached to entities.');
        this.managed.delete(m.arn);
        return {};
      }
      case 'ListAttachedRolePoliciesCommand': {
        const r = this.mustRole(input.RoleName);
        return { AttachedPolicies: [...r.attached].map((a) => ({ PolicyArn: a, PolicyName: this.managed.get(a)?.name })), IsTruncated: false };
      }
      case 'ListPoliciesCommand': {
        const prefix = String(input.PathPrefix ?? '/');
        const list = [...this.managed.values()].filter((m) => m.path.startsWith(prefix));
        return { Policies: list.map((m) => ({ PolicyName: m.name, Arn: m.arn, Path: m.path, AttachmentCount: this.attachments(m.arn), CreateDate: new Date(m.created) })), IsTruncated: false };
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
        const policy = input.Policy === undefined ? undefined : JSON.parse(String(input.Policy));
        const keys = this.newSession(r, session, duration, input.SourceIdentity === undefined ? undefined : String(input.SourceIdentity), policy);
        const expiresAt = this.clock().getTime() + duration * 1000;
        return {
          Credentials: { AccessKeyId: keys.AWS_ACCESS_KEY_ID, SecretAccessKey: keys.AWS_SECRET_ACCESS_KEY, SessionToken: keys.AWS_SESSION_TOKEN, Expiration: new Date(expiresAt) },
          AssumedRoleUser: { AssumedRoleId: `${r.id}:${session}`, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${r.name}/${session}` },
          SourceIdentity: input.SourceIdentity,
        };
      }
      default:
        throw new Error(`FakeAws: ${cmd} is not implemented`);
    }
  }
}
