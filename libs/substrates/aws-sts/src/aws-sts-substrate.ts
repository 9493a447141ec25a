// AWS STS substrate: AssumeRole for a time-boxed session narrowed by the scope's session policy;
// early revoke by an inline Deny on the role for that session's aws:userid (STS sessions cannot be
// revoked one by one), removed by cleanupExpiredDenies once the session has expired on its own.
import {
  AssumeRoleCommand,
  STSClient,
  type AssumeRoleCommandOutput,
} from '@aws-sdk/client-sts';
import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  type GetRoleCommandOutput,
  type GetRolePolicyCommandOutput,
  type ListRolePoliciesCommandOutput,
  type ListRoleTagsCommandOutput,
} from '@aws-sdk/client-iam';
import { z } from 'zod';
import { JitError } from '@jit/errors';
import {
  SubstrateDenied,
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  SubstrateUpstreamFailed,
  classifySubstrateError,
  defineSubstrate,
  type IssueRequest,
  type Issued,
  type Problem,
  type RevocationHandle,
  type Substrate,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import { denyDocument, decodePolicyDocument, readDenyDocument, type DenyDocument } from './deny-policy';
import { AwsStsGrantExpired, AwsStsGrantRevoked, AwsStsIamLimit, AwsStsRoleNotAllowed, AwsStsTooManyAttempts } from './errors';
import {
  DENY_POLICY_PREFIX,
  LEDGER_TAG_PREFIX,
  MAX_ATTEMPTS,
  denyPolicyName,
  isSessionBaseName,
  ledgerTagKey,
  sessionBaseName,
  sessionName,
  sourceIdentityFor,
} from './grant-names';
import { decodeLedger, encodeLedger, type LedgerEntry } from './ledger-tag';
import { AWS_REGION_RE, parseRoleArn, sessionPolicyDocument, validateAwsStsScope, type AwsStsScope, awsStsScopeSchema } from './scope';

export const AWS_STS_KIND = 'aws-sts';
/** STS refuses sessions shorter than 15 minutes. */
export const STS_MIN_DURATION_SECONDS = 900;
/** STS's hard ceiling (a role's MaxSessionDuration may be lower). */
export const STS_MAX_DURATION_SECONDS = 43_200;

export const awsStsConfigSchema = z.strictObject({
  region: z.string().regex(AWS_REGION_RE, 'an AWS region such as eu-west-1'),
  /** Custom endpoint (moto, a VPC endpoint); default: the SDK's regional endpoints. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** The adapter's own identity; default: the SDK's provider chain. */
  credentials: z
    .strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() })
    .optional(),
  /** Role ARNs this instance may assume and sweeps (listIssued, cleanupExpiredDenies). Empty = any role, sweep only roles seen. */
  roles: z.array(z.string().refine((s) => parseRoleArn(s) !== undefined, 'an IAM role ARN')).max(1000).default([]),
  maxTtlSeconds: z.number().int().min(STS_MIN_DURATION_SECONDS).max(STS_MAX_DURATION_SECONDS).default(STS_MAX_DURATION_SECONDS),
  /** Set SourceIdentity = requester (the role's trust policy must allow sts:SetSourceIdentity). */
  sourceIdentity: z.boolean().default(true),
  /** Kept on top of a session's expiry before its deny policy may go (clock skew). */
  expiryMarginSeconds: z.number().int().min(0).max(3600).default(300),
});
export type AwsStsConfig = z.infer<typeof awsStsConfigSchema>;

/** The one method of an AWS SDK v3 client the adapter uses; fakes implement it too. */
export interface AwsSender {
  send(command: object): Promise<unknown>;
  destroy?(): void;
}
export interface AwsClients {
  sts: AwsSender;
  iam: AwsSender;
}

export interface AwsStsExtra {
  /** Builds the STS and IAM clients (default: real SDK clients from the config). */
  clients: (config: AwsStsConfig) => AwsClients;
  /** Clock (tests). */
  now: () => Date;
}

export interface CleanupResult {
  /** `<role name>/<policy name>` of every deny policy removed. */
  removedDenies: string[];
  /** Ledger tags removed (grants whose sessions have all expired). */
  removedLedgerEntries: number;
}

export interface AwsStsSubstrate extends Substrate {
  verifyRevoked(handle: RevocationHandle): Promise<VerifyResult>;
  listIssued(): Promise<RevocationHandle[]>;
  close(): Promise<void>;
  /** Remove deny policies and ledger tags whose sessions have expired on their own. */
  cleanupExpiredDenies(now?: Date): Promise<CleanupResult>;
}

function defaultClients(config: AwsStsConfig): AwsClients {
  // The SDK decorates the credentials object it is given ($source): hand each client its own copy.
  const common = () => ({ region: config.region, endpoint: config.endpoint, credentials: config.credentials && { ...config.credentials }, maxAttempts: 2 });
  return { sts: new STSClient(common()), iam: new IAMClient(common()) };
}

const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
]);
const REJECTED = new Set([
  'NoSuchEntity',
  'NoSuchEntityException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'ValidationError',
  'InvalidInput',
  'InvalidInputException',
  'InvalidParameterValue',
  'RegionDisabledException',
]);
const UPSTREAM = new Set(['Throttling', 'ThrottlingException', 'ServiceFailure', 'ServiceFailureException', 'ServiceUnavailable', 'RequestLimitExceeded', 'ConcurrentModification', 'ConcurrentModificationException']);

function errName(err: unknown): string | undefined {
  const n = (err as { name?: unknown })?.name;
  return typeof n === 'string' ? n : undefined;
}
/** First string `code` (ECONNREFUSED, ...) on the error, its `errors` or its `cause` chain. */
function codeOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) for (const x of e.errors) {
    const c = codeOf(x, depth + 1);
    if (c) return c;
  }
  return codeOf(e.cause, depth + 1);
}

/**
 * The cause we keep: the AWS error name, HTTP status, retry hint and network code, and nothing
 * the server or SDK wrote (messages can quote policies, ARNs or request data).
 */
function scrub(err: unknown): Error {
  const name = errName(err) ?? 'Error';
  const status = (err as { $metadata?: { httpStatusCode?: unknown } })?.$metadata?.httpStatusCode;
  const code = codeOf(err);
  const out = new Error(`aws ${name}${typeof status === 'number' ? ` (HTTP ${status})` : ''}${code ? ` ${code}` : ''}`);
  out.name = name;
  return Object.assign(out, {
    ...(typeof status === 'number' ? { $metadata: { httpStatusCode: status } } : {}),
    ...((err as { $retryable?: unknown })?.$retryable ? { $retryable: true } : {}),
    ...(code ? { code } : {}),
  });
}

function isNoSuchEntity(err: unknown): boolean {
  const n = errName(err);
  return n === 'NoSuchEntity' || n === 'NoSuchEntityException';
}

/** Own handle `ref`, validated: everything revoke needs, nothing secret. */
const handleRefSchema = z.object({
  roleArn: z.string().refine((s) => parseRoleArn(s) !== undefined),
  roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/),
  roleId: z.string().regex(/^AROA[A-Z0-9]{4,60}$/),
  sessionName: z.string().refine(isSessionBaseName),
  sessionExpiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
});
type HandleRef = z.infer<typeof handleRefSchema>;

export function createAwsStsSubstrate(config: AwsStsConfig, deps: SubstrateDeps & Partial<AwsStsExtra>): AwsStsSubstrate {
  const name = deps.name;
  const log = deps.logger;
  const now = deps.now ?? (() => new Date());
  const clients = (deps.clients ?? defaultClients)(config);
  const configuredRoles = new Set(config.roles);
  const seenRoles = new Set<string>(config.roles);
  const margin = config.expiryMarginSeconds * 1000;

  const fail = (operation: string, err: unknown, role?: string): JitError =>
    classifySubstrateError(name, operation, err instanceof JitError ? err : scrub(err), (e) => {
      const n = errName(e);
      if (!n) return undefined;
      const what = `${operation}: ${n}`;
      if (n === 'LimitExceeded' || n === 'LimitExceededException') return AwsStsIamLimit(role ?? '?', what, { cause: e });
      if (DENIED.has(n)) return SubstrateDenied(name, what, { cause: e });
      if (REJECTED.has(n)) return SubstrateRejected(name, what, { cause: e });
      if (UPSTREAM.has(n) || (e as { $retryable?: unknown }).$retryable) return SubstrateUpstreamFailed(name, what, { cause: e });
      return undefined;
    });

  async function call<T>(operation: string, client: AwsSender, command: object, role?: string): Promise<T> {
    try {
      return (await client.send(command)) as T;
    } catch (err) {
      throw fail(operation, err, role);
    }
  }

  async function readLedger(roleName: string): Promise<Map<string, LedgerEntry>> {
    const out = await call<ListRoleTagsCommandOutput>('list role tags', clients.iam, new ListRoleTagsCommand({ RoleName: roleName, MaxItems: 100 }), roleName);
    const entries = new Map<string, LedgerEntry>();
    for (const t of out.Tags ?? []) {
      if (!t.Key?.startsWith(LEDGER_TAG_PREFIX)) continue;
      const e = decodeLedger(t.Value);
      if (e) entries.set(t.Key.slice(LEDGER_TAG_PREFIX.length), e);
      else log.warn({ role: roleName, tag: t.Key }, 'ignoring a jit ledger tag that does not parse');
    }
    return entries;
  }

  async function writeLedger(roleName: string, base: string, entry: LedgerEntry): Promise<void> {
    await call('tag role', clients.iam, new TagRoleCommand({ RoleName: roleName, Tags: [{ Key: ledgerTagKey(base), Value: encodeLedger(entry) }] }), roleName);
  }

  async function readDeny(roleName: string, base: string): Promise<unknown | undefined> {
    try {
      const out = (await clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: denyPolicyName(base) }))) as GetRolePolicyCommandOutput;
      return decodePolicyDocument(out.PolicyDocument);
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw fail('get role policy', err, roleName);
    }
  }

  async function putDeny(roleName: string, base: string, doc: DenyDocument): Promise<void> {
    await call('put role policy', clients.iam, new PutRolePolicyCommand({ RoleName: roleName, PolicyName: denyPolicyName(base), PolicyDocument: JSON.stringify(doc) }), roleName);
  }

  function checkHandle(handle: RevocationHandle): HandleRef {
    if (!handle || typeof handle !== 'object') throw SubstrateInvalidHandle(name, 'not an object');
    if (handle.kind !== AWS_STS_KIND) throw SubstrateInvalidHandle(name, `kind is ${String(handle.kind).slice(0, 40)}, expected ${AWS_STS_KIND}`);
    const parsed = handleRefSchema.safeParse(handle.ref);
    if (!parsed.success) {
      throw SubstrateInvalidHandle(name, `ref fields missing or malformed: ${[...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'ref'))].join(', ')}`);
    }
    const arn = parseRoleArn(parsed.data.roleArn);
    if (arn?.roleName !== parsed.data.roleName) throw SubstrateInvalidHandle(name, 'ref.roleName does not match ref.roleArn');
    // Only act on what this grant created: its session name is derived from its grant id.
    if (typeof handle.grantId !== 'string' || parsed.data.sessionName !== sessionBaseName(handle.grantId)) {
      throw SubstrateInvalidHandle(name, 'ref.sessionName is not the session name of this grant id');
    }
    if (configuredRoles.size > 0 && !configuredRoles.has(parsed.data.roleArn)) {
      throw SubstrateInvalidHandle(name, 'ref.roleArn is not one of the roles configured for this instance');
    }
    return parsed.data;
  }

  function toHandle(grantId: string, ref: HandleRef & { attempt: number; assumedRoleId: string }, expiresAt: Date): RevocationHandle {
    return {
      kind: AWS_STS_KIND,
      ...(name !== AWS_STS_KIND ? { instance: name } : {}),
      grantId,
      ref: { ...ref },
      expiresAt: expiresAt.toISOString(),
    };
  }

  const substrate: AwsStsSubstrate = {
    kind: AWS_STS_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,

    validateScope(scope: unknown, connection?: unknown): Problem[] {
      const problems = validateAwsStsScope(scope, connection);
      if (problems.length === 0 && configuredRoles.size > 0) {
        const arn = (scope as AwsStsScope).roleArn;
        if (!configuredRoles.has(arn)) problems.push({ path: 'roleArn', message: `role is not in the roles configured for substrate ${name}` });
      }
      return problems;
    },

    async issue(req: IssueRequest): Promise<Issued> {
      if (typeof req?.grantId !== 'string' || req.grantId.length === 0 || req.grantId.length > 256) {
        throw SubstrateRejected(name, 'grantId must be a non-empty string of at most 256 characters');
      }
      if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1) throw SubstrateRejected(name, 'ttlSeconds must be a positive integer');
      if (req.ttlSeconds > config.maxTtlSeconds) throw SubstrateTtlTooLong(name, req.ttlSeconds, config.maxTtlSeconds);
      const problems = validateAwsStsScope(req.scope, req.connection ?? undefined);
      if (problems.length > 0) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path || '(scope)'}: ${p.message}`).join('; '));
      const scope = awsStsScopeSchema.parse(req.scope);
      if (configuredRoles.size > 0 && !configuredRoles.has(scope.roleArn)) throw AwsStsRoleNotAllowed(scope.roleArn, name);
      const { roleName } = parseRoleArn(scope.roleArn) as { roleName: string };
      seenRoles.add(scope.roleArn);

      const role = await call<GetRoleCommandOutput>('get role', clients.iam, new GetRoleCommand({ RoleName: roleName }), roleName);
      const roleId = role.Role?.RoleId;
      if (!roleId) throw SubstrateRejected(name, 'get role: the answer carried no RoleId');
      const roleMax = role.Role?.MaxSessionDuration ?? 3600;
      const base = sessionBaseName(req.grantId);
      const t = now();

      let duration = Math.max(req.ttlSeconds, STS_MIN_DURATION_SECONDS);
      if (duration > roleMax) throw SubstrateTtlTooLong(name, req.ttlSeconds, roleMax);

      const previous = (await readLedger(roleName)).get(base);
      const deny = readDenyDocument(await readDeny(roleName, base));
      if (previous?.state === 'revoked' || deny?.kind === 'revoke') throw AwsStsGrantRevoked(req.grantId, roleName);

      let attempt = 1;
      let expiresAt = new Date(t.getTime() + req.ttlSeconds * 1000);
      if (previous) {
        // A retry of a grant already (maybe) issued: end the earlier sessions, keep the original expiry.
        if (previous.expiresAt.getTime() <= t.getTime()) throw AwsStsGrantExpired(req.grantId, previous.expiresAt.toISOString());
        attempt = previous.attempt + 1;
        if (attempt > MAX_ATTEMPTS) throw AwsStsTooManyAttempts(req.grantId, previous.attempt);
        expiresAt = previous.expiresAt;
        duration = Math.max(Math.ceil((expiresAt.getTime() - t.getTime()) / 1000), STS_MIN_DURATION_SECONDS);
        await putDeny(roleName, base, denyDocument('supersede', roleId, base, previous.sessionExpiresAt, previous.attempt));
      }
      const natural = new Date(Math.max(previous?.sessionExpiresAt.getTime() ?? 0, t.getTime() + duration * 1000 + margin));
      // Write-ahead: the ledger names the session before it exists, so a crash leaves a trace the sweep finds.
      await writeLedger(roleName, base, { grantId: req.grantId, attempt, expiresAt, sessionExpiresAt: natural, state: 'issued' });

      const session = sessionName(base, attempt);
      const out = await call<AssumeRoleCommandOutput>(
        'assume role',
        clients.sts,
        new AssumeRoleCommand({
          RoleArn: scope.roleArn,
          RoleSessionName: session,
          DurationSeconds: duration,
          Policy: JSON.stringify(sessionPolicyDocument(scope)),
          ...(config.sourceIdentity ? { SourceIdentity: sourceIdentityFor(String(req.requester ?? 'unknown')) } : {}),
        }),
        roleName,
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw SubstrateRejected(name, 'assume role: the answer carried no credentials');
      log.info({ grantId: req.grantId, role: roleName, session, attempt, durationSeconds: duration }, 'sts session issued');
      return {
        secret: {
          AWS_ACCESS_KEY_ID: c.AccessKeyId,
          AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
          AWS_SESSION_TOKEN: c.SessionToken,
          AWS_REGION: String((req.connection as { region?: unknown } | undefined)?.region ?? config.region),
        },
        handle: toHandle(
          req.grantId,
          {
            roleArn: scope.roleArn,
            roleName,
            roleId,
            sessionName: base,
            sessionExpiresAt: natural.toISOString(),
            attempt,
            assumedRoleId: out.AssumedRoleUser?.AssumedRoleId ?? `${roleId}:${session}`,
          },
          expiresAt,
        ),
        expiresAt: expiresAt.toISOString(),
      };
    },

    async revoke(handle: RevocationHandle): Promise<void> {
      const ref = checkHandle(handle);
      let ledger: LedgerEntry | undefined;
      try {
        ledger = (await readLedger(ref.roleName)).get(ref.sessionName);
      } catch (err) {
        // A deleted role takes every session's permissions with it: gone = success.
        if (err instanceof JitError && isNoSuchEntity(err.cause)) {
          log.info({ grantId: handle.grantId, role: ref.roleName }, 'role is gone; nothing to revoke');
          return;
        }
        throw err;
      }
      seenRoles.add(ref.roleArn);
      const until = new Date(Math.max(Date.parse(ref.sessionExpiresAt), ledger?.sessionExpiresAt.getTime() ?? 0));
      if (until.getTime() > now().getTime()) {
        await putDeny(ref.roleName, ref.sessionName, denyDocument('revoke', ref.roleId, ref.sessionName, until));
      }
      await writeLedger(ref.roleName, ref.sessionName, {
        grantId: ledger?.grantId ?? handle.grantId,
        attempt: ledger?.attempt ?? 1,
        expiresAt: ledger?.expiresAt ?? new Date(Date.parse(handle.expiresAt) || now().getTime()),
        sessionExpiresAt: until,
        state: 'revoked',
      });
      log.info({ grantId: handle.grantId, role: ref.roleName, until: until.toISOString() }, 'sts sessions denied');
    },

    async verifyRevoked(handle: RevocationHandle): Promise<VerifyResult> {
      const ref = checkHandle(handle);
      const t = now().getTime();
      const ledger = await readLedger(ref.roleName).catch((err: unknown) => {
        if (err instanceof JitError && isNoSuchEntity(err.cause)) return undefined;
        throw err;
      });
      if (!ledger) return { verified: true, detail: `role ${ref.roleName} no longer exists` };
      const natural = Math.max(Date.parse(ref.sessionExpiresAt), ledger.get(ref.sessionName)?.sessionExpiresAt.getTime() ?? 0);
      if (natural <= t) return { verified: true, detail: 'every session of the grant has expired on its own' };
      const doc = await readDeny(ref.roleName, ref.sessionName);
      const info = readDenyDocument(doc);
      if (info?.kind !== 'revoke') return { verified: false, detail: 'no revoke deny policy on the role' };
      const expected = denyDocument('revoke', ref.roleId, ref.sessionName, info.until);
      if (JSON.stringify(doc) !== JSON.stringify(expected)) return { verified: false, detail: 'the deny policy on the role was altered' };
      if (info.until.getTime() < natural) return { verified: false, detail: 'the deny policy ends before the sessions do' };
      return { verified: true, detail: 'exact deny policy present on the role (IAM evaluation itself is not probed)' };
    },

    async listIssued(): Promise<RevocationHandle[]> {
      const t = now().getTime();
      const out: RevocationHandle[] = [];
      for (const roleArn of seenRoles) {
        const { roleName } = parseRoleArn(roleArn) as { roleName: string };
        let role: GetRoleCommandOutput;
        try {
          role = (await clients.iam.send(new GetRoleCommand({ RoleName: roleName }))) as GetRoleCommandOutput;
        } catch (err) {
          if (isNoSuchEntity(err)) continue;
          throw fail('get role', err, roleName);
        }
        const roleId = role.Role?.RoleId;
        if (!roleId) continue;
        for (const [base, e] of await readLedger(roleName)) {
          if (e.state !== 'issued' || e.sessionExpiresAt.getTime() <= t || !isSessionBaseName(base)) continue;
          out.push(
            toHandle(
              e.grantId,
              { roleArn, roleName, roleId, sessionName: base, sessionExpiresAt: e.sessionExpiresAt.toISOString(), attempt: e.attempt, assumedRoleId: `${roleId}:${sessionName(base, e.attempt)}` },
              e.expiresAt,
            ),
          );
        }
      }
      return out;
    },

    async maintain(now: Date): Promise<void> {
      await this.cleanupExpiredDenies(now);
    },
    async cleanupExpiredDenies(at?: Date): Promise<CleanupResult> {
      const t = (at ?? now()).getTime();
      const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0 };
      for (const roleArn of seenRoles) {
        const { roleName } = parseRoleArn(roleArn) as { roleName: string };
        const names: string[] = [];
        let marker: string | undefined;
        try {
          do {
            const page = (await clients.iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }))) as ListRolePoliciesCommandOutput;
            names.push(...(page.PolicyNames ?? []));
            marker = page.IsTruncated ? page.Marker : undefined;
          } while (marker);
        } catch (err) {
          if (isNoSuchEntity(err)) continue;
          throw fail('list role policies', err, roleName);
        }
        const ledger = await readLedger(roleName);
        for (const policy of names.filter((n) => n.startsWith(DENY_POLICY_PREFIX))) {
          const base = `jit-${policy.slice(DENY_POLICY_PREFIX.length)}`;
          const info = readDenyDocument(await readDeny(roleName, base));
          if (!info || info.until.getTime() > t) continue;
          // A retry racing a revoke may have started a later session than the deny's Sid knows of.
          if ((ledger.get(base)?.sessionExpiresAt.getTime() ?? 0) > t) continue;
          try {
            await clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policy }));
          } catch (err) {
            if (!isNoSuchEntity(err)) throw fail('delete role policy', err, roleName);
          }
          result.removedDenies.push(`${roleName}/${policy}`);
        }
        const expired = [...ledger].filter(([, e]) => e.sessionExpiresAt.getTime() <= t).map(([b]) => ledgerTagKey(b));
        for (let i = 0; i < expired.length; i += 50) {
          const keys = expired.slice(i, i + 50);
          await call('untag role', clients.iam, new UntagRoleCommand({ RoleName: roleName, TagKeys: keys }), roleName);
          result.removedLedgerEntries += keys.length;
        }
      }
      if (result.removedDenies.length + result.removedLedgerEntries > 0) log.info(result, 'expired sts denies cleaned up');
      return result;
    },

    async close(): Promise<void> {
      clients.sts.destroy?.();
      clients.iam.destroy?.();
    },
  };
  return substrate;
}

/** The registration: `registry.register(awsStsSubstrate)`, then `configure('aws-sts:prod', {...})`. */
export const awsStsSubstrate = defineSubstrate<AwsStsConfig, AwsStsExtra>({
  kind: AWS_STS_KIND,
  configSchema: awsStsConfigSchema as unknown as z.ZodType<AwsStsConfig>,
  create: createAwsStsSubstrate,
});
