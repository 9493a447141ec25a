// AWS STS substrate: AssumeRole for a time-boxed session narrowed by the scope's session policy
// plus jit's guard (no chaining, no new credentials, no IAM writes: session-guard.ts); early revoke
// by an inline Deny on the role for that session's aws:userid and SourceIdentity (STS sessions
// cannot be revoked one by one), removed by cleanupExpiredDenies once the session has expired on
// its own. An issue is refused while the role lacks IAM room for the revoke of every live grant.
import { AssumeRoleCommand, STSClient, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
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
import { defaultProvider } from '@aws-sdk/credential-provider-node';
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
  grantWindow,
  reportAuthExpiry,
  type IssueRequest,
  type Issued,
  type Finding,
  type Problem,
  type RevocationHandle,
  type Substrate,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import { denyDocument, decodePolicyDocument, policySize, readDenyDocument, type DenyDocument, type DenyTarget } from './deny-policy';
import { AwsStsGrantExpired, AwsStsGrantRevoked, AwsStsIamLimit, AwsStsNoCredentials, AwsStsRoleNotAllowed, AwsStsTooManyAttempts } from './errors';
import { DENY_POLICY_PREFIX, LEDGER_TAG_PREFIX, MAX_ATTEMPTS, denyPolicyName, isSessionBaseName, ledgerTagKey, sessionBaseName, sessionName, sourceIdentityFor } from './grant-names';
import { decodeLedger, encodeLedger, type LedgerEntry } from './ledger-tag';
import { SHARD_MAX_CHARS, SHARD_POLICY_PREFIX, covers, entriesOfRevokeDocument, entriesOfShard, liveEntries, shardDocument, shardPolicyName, type DenyEntry } from './revoked-shard';
import { AWS_REGION_RE, parseRoleArn, scopePolicyDocument, sessionPolicyDocument, validateAwsStsScope, type AwsStsScope, awsStsScopeSchema } from './scope';
import { escapeFindings } from './session-guard';

export const AWS_STS_KIND = 'aws-sts';
/** STS refuses sessions shorter than 15 minutes. */
export const STS_MIN_DURATION_SECONDS = 900;
/** STS's hard ceiling (a role's MaxSessionDuration may be lower). */
export const STS_MAX_DURATION_SECONDS = 43_200;
/** IAM's fixed quotas per role: tags, and characters of all inline policies together (no whitespace). */
export const ROLE_TAG_LIMIT = 50;
export const ROLE_INLINE_POLICY_LIMIT = 10_240;
/** Share of a quota above which the adapter warns (maintain, policy audit). */
export const QUOTA_WARN_RATIO = 0.8;
/** Kept free on top of the reserved revoke denies: a retry adds a pattern, concurrent issues race. */
const RESERVE_SLACK_CHARS = 512;

export const awsStsConfigSchema = z.strictObject({
  region: z.string().regex(AWS_REGION_RE, 'an AWS region such as eu-west-1'),
  /** Custom endpoint (moto, a VPC endpoint); default: the SDK's regional endpoints. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Static keys of the adapter's own identity. Default: the SDK's provider chain - environment, web
   * identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), EKS Pod Identity / ECS container
   * credentials, shared config, instance metadata - with short-lived, refreshed credentials.
   */
  credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() }).optional(),
  /** Role ARNs this instance may assume and sweeps (listIssued, cleanupExpiredDenies). Empty = any role, sweep only roles seen. */
  roles: z
    .array(z.string().refine((s) => parseRoleArn(s) !== undefined, 'an IAM role ARN'))
    .max(1000)
    .default([]),
  maxTtlSeconds: z.number().int().min(STS_MIN_DURATION_SECONDS).max(STS_MAX_DURATION_SECONDS).default(STS_MAX_DURATION_SECONDS),
  /** Set SourceIdentity = `<requester>@<grant tag>` (the role's trust policy must allow sts:SetSourceIdentity). */
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
  /** Per-grant revoke denies (and older shards) folded into a compacted shard and removed. */
  compactedDenies: number;
}

/** How full one role's IAM quotas are with what jit writes and must be able to write. */
export interface RoleQuotaUsage {
  roleName: string;
  tags: number;
  tagLimit: number;
  /** Characters of every inline policy on the role (jit's denies and the role's own). */
  inlineChars: number;
  /** Characters the revoke denies of the live, unrevoked grants still need. */
  reservedChars: number;
  inlineLimit: number;
  liveGrants: number;
}

export interface AwsStsSubstrate extends Substrate {
  verifyRevoked(handle: RevocationHandle): Promise<VerifyResult>;
  checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]>;
  checkSetup(): Promise<Finding[]>;
  /** IAM quota use of a role this instance assumes (tags, inline policy characters, reservation). */
  quotaUsage(roleArn: string): Promise<RoleQuotaUsage>;
  listIssued(): Promise<RevocationHandle[]>;
  close(): Promise<void>;
  /** Remove deny policies and ledger tags whose sessions have expired on their own. */
  cleanupExpiredDenies(now?: Date): Promise<CleanupResult>;
}

type CredentialIdentity = Awaited<ReturnType<ReturnType<typeof defaultProvider>>>;

/** The adapter's own identity and when its current credentials expire (for the gauge). */
export interface AdapterIdentity {
  credentials: (options?: { forceRefresh?: boolean }) => Promise<CredentialIdentity>;
  /** ms since epoch; Infinity for static keys; undefined before the chain resolved or when the source gives none. */
  expiresAt(): number | undefined;
}

/**
 * Static keys from the config, else the SDK's default chain. A custom `endpoint` is handed to the
 * chain as well, so the web-identity exchange (AssumeRoleWithWebIdentity) goes where jit's own STS
 * calls go (a VPC endpoint, moto) instead of the public regional endpoint.
 */
export function adapterIdentity(config: Pick<AwsStsConfig, 'region' | 'endpoint' | 'credentials'>): AdapterIdentity {
  if (config.credentials) {
    const keys = config.credentials;
    return { credentials: async () => ({ ...keys }), expiresAt: () => (keys.sessionToken ? undefined : Infinity) };
  }
  const chain = defaultProvider({ clientConfig: { region: config.region, ...(config.endpoint ? { endpoint: config.endpoint } : {}) } });
  let expiresAt: number | undefined;
  return {
    // The SDK decorates the identity it is given ($source): each caller gets its own copy.
    credentials: async (options) => {
      let c: CredentialIdentity;
      try {
        c = await chain(options);
      } catch (err) {
        // STS's own answer to the exchange (InvalidIdentityToken, AccessDenied) is classified as such;
        // anything else (the token file missing: ENOENT, no source at all) means no identity yet.
        if ((err as { $metadata?: unknown })?.$metadata) throw err;
        const code = (err as { code?: unknown })?.code;
        throw Object.assign(new Error('no AWS credentials from the default chain'), { name: 'CredentialsProviderError', ...(typeof code === 'string' ? { code } : {}) });
      }
      expiresAt = c.expiration ? c.expiration.getTime() : undefined;
      return { ...c };
    },
    expiresAt: () => expiresAt,
  };
}

function defaultClients(config: AwsStsConfig, identity: AdapterIdentity = adapterIdentity(config)): AwsClients {
  const common = () => ({ region: config.region, endpoint: config.endpoint, credentials: identity.credentials, maxAttempts: 2 });
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
  // the web-identity exchange: the token's issuer, audience or subject is not trusted by the role
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'IDPRejectedClaim',
  'IDPRejectedClaimException',
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
const UPSTREAM = new Set([
  'Throttling',
  'ThrottlingException',
  'ServiceFailure',
  'ServiceFailureException',
  'ServiceUnavailable',
  'RequestLimitExceeded',
  'ConcurrentModification',
  'ConcurrentModificationException',
]);

function errName(err: unknown): string | undefined {
  const n = (err as { name?: unknown })?.name;
  return typeof n === 'string' ? n : undefined;
}
/** First string `code` (ECONNREFUSED, ...) on the error, its `errors` or its `cause` chain. */
function codeOf(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors))
    for (const x of e.errors) {
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

/** The scope grammar, plus: a role outside the instance's `roles` (when it lists any) is a problem. */
function awsStsScopeCheck(configuredRoles: ReadonlySet<string>, name: string): (scope: unknown, connection?: unknown) => Problem[] {
  return (scope, connection) => {
    const problems = validateAwsStsScope(scope, connection);
    if (problems.length === 0 && configuredRoles.size > 0) {
      const arn = (scope as AwsStsScope).roleArn;
      if (!configuredRoles.has(arn)) problems.push({ path: 'roleArn', message: `role is not in the roles configured for substrate ${name}` });
    }
    return problems;
  };
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
  const identity = deps.clients ? undefined : adapterIdentity(config);
  const clients = deps.clients ? deps.clients(config) : defaultClients(config, identity);
  // jit_substrate_auth_expires_seconds: the web identity's (or Pod Identity's) session, refreshed by the SDK
  const unreport = reportAuthExpiry(deps.metrics, name, () => identity?.expiresAt());
  const configuredRoles = new Set(config.roles);
  const seenRoles = new Set<string>(config.roles);
  const margin = config.expiryMarginSeconds * 1000;

  const fail = (operation: string, err: unknown, role?: string): JitError =>
    classifySubstrateError(name, operation, err instanceof JitError ? err : scrub(err), (e) => {
      const n = errName(e);
      if (!n) return undefined;
      const what = `${operation}: ${n}`;
      // No source of the chain had credentials (the token file missing, no IMDS): the SDK's message names them, never a value.
      if (n === 'CredentialsProviderError') return AwsStsNoCredentials(name, operation, { cause: e });
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
    return (await readTags(roleName)).ledger;
  }

  /** The role's tags: jit's ledger entries and how many tags the role carries in all. */
  async function readTags(roleName: string): Promise<{ ledger: Map<string, LedgerEntry>; count: number }> {
    const out = await call<ListRoleTagsCommandOutput>('list role tags', clients.iam, new ListRoleTagsCommand({ RoleName: roleName, MaxItems: 100 }), roleName);
    const entries = new Map<string, LedgerEntry>();
    for (const t of out.Tags ?? []) {
      if (!t.Key?.startsWith(LEDGER_TAG_PREFIX)) continue;
      const e = decodeLedger(t.Value);
      if (e) entries.set(t.Key.slice(LEDGER_TAG_PREFIX.length), e);
      else log.warn({ role: roleName, tag: t.Key }, 'ignoring a jit ledger tag that does not parse');
    }
    return { ledger: entries, count: out.Tags?.length ?? 0 };
  }

  /** Every inline policy of the role, decoded (jit's denies and the role's own). */
  async function readInlinePolicies(roleName: string): Promise<Map<string, unknown>> {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await call<ListRolePoliciesCommandOutput>('list role policies', clients.iam, new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }), roleName);
      names.push(...(page.PolicyNames ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    const docs = new Map<string, unknown>();
    for (const policyName of names) {
      const doc = await getPolicy(roleName, policyName);
      if (doc !== undefined) docs.set(policyName, doc);
    }
    return docs;
  }

  const denyTarget = (grantId: string, base: string, attempts: number): DenyTarget => ({ grantId, base, attempts, sourceIdentity: config.sourceIdentity });

  /**
   * Quota use of a role: what is on it, and what the revoke denies of its live, unrevoked grants
   * (ledger `st=issued`, session not expired) still need — `extra` adds the grant being issued.
   */
  function usageOf(
    roleName: string,
    tags: { ledger: Map<string, LedgerEntry>; count: number },
    docs: Map<string, unknown>,
    t: number,
    extra?: { grantId: string; base: string; attempt: number; until: Date },
  ): RoleQuotaUsage {
    let inlineChars = 0;
    for (const doc of docs.values()) inlineChars += doc === undefined ? 0 : policySize(doc);
    let reservedChars = 0;
    let liveGrants = 0;
    const need = (grantId: string, base: string, attempts: number, until: Date) => {
      if (isRevoked(docs, base)) return;
      const existing = docs.get(denyPolicyName(base));
      liveGrants++;
      reservedChars += Math.max(0, policySize(denyDocument('revoke', denyTarget(grantId, base, attempts), until)) - (existing === undefined ? 0 : policySize(existing)));
    };
    for (const [base, e] of tags.ledger) {
      if (base === extra?.base || e.state !== 'issued' || e.sessionExpiresAt.getTime() <= t) continue;
      need(e.grantId, base, e.attempt, e.sessionExpiresAt);
    }
    if (extra) need(extra.grantId, extra.base, extra.attempt, extra.until);
    return { roleName, tags: tags.count, tagLimit: ROLE_TAG_LIMIT, inlineChars, reservedChars, inlineLimit: ROLE_INLINE_POLICY_LIMIT, liveGrants };
  }

  async function writeLedger(roleName: string, base: string, entry: LedgerEntry): Promise<void> {
    await call('tag role', clients.iam, new TagRoleCommand({ RoleName: roleName, Tags: [{ Key: ledgerTagKey(base), Value: encodeLedger(entry) }] }), roleName);
  }

  async function readDeny(roleName: string, base: string): Promise<unknown | undefined> {
    return getPolicy(roleName, denyPolicyName(base));
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

  /** Which attempts a revoke must cover: the highest the ledger or the handle knows of. */
  function revokeAttempts(handle: RevocationHandle, ledger: LedgerEntry | undefined): number {
    const fromHandle = Number(handle.ref.attempt);
    return Math.max(ledger?.attempt ?? 1, Number.isInteger(fromHandle) && fromHandle > 0 && fromHandle <= MAX_ATTEMPTS ? fromHandle : 1);
  }

  /** Whether the grant's sessions are revoked on this role: its own revoke deny, or its entry in a compacted shard. */
  function isRevoked(docs: Map<string, unknown>, base: string): boolean {
    if (readDenyDocument(docs.get(denyPolicyName(base)))?.kind === 'revoke') return true;
    const pattern = `*:${base}`;
    for (const [policy, doc] of docs) {
      if (policy.startsWith(SHARD_POLICY_PREFIX) && entriesOfShard(doc)?.some((e) => e.key === 'aws:userid' && e.pattern === pattern)) return true;
    }
    return false;
  }

  async function getPolicy(roleName: string, policyName: string): Promise<unknown | undefined> {
    try {
      const out = (await clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }))) as GetRolePolicyCommandOutput;
      return decodePolicyDocument(out.PolicyDocument);
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw fail('get role policy', err, roleName);
    }
  }

  async function deletePolicy(roleName: string, policyName: string): Promise<void> {
    try {
      await clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
    } catch (err) {
      if (!isNoSuchEntity(err)) throw fail('delete role policy', err, roleName);
    }
  }

  /**
   * Fold per-grant revoke denies (and older shards) into one new shard, as far as the role has
   * room for it, then delete what the shard — read back — covers. Never rewrites a document in place.
   */
  async function compact(roleName: string, docs: Map<string, unknown>, ledger: Map<string, LedgerEntry>, t: number): Promise<number> {
    type Part = { name: string; doc: unknown; entries: DenyEntry[]; shard: boolean };
    const parts: Part[] = [];
    for (const [policy, doc] of docs) {
      if (policy.startsWith(DENY_POLICY_PREFIX)) {
        const entries = entriesOfRevokeDocument(doc);
        if (entries.length === 0) continue;
        // a retry racing the revoke may have started a session the deny's Sid does not know of
        const nat = ledger.get(`jit-${policy.slice(DENY_POLICY_PREFIX.length)}`)?.sessionExpiresAt.getTime() ?? 0;
        parts.push({ name: policy, doc, shard: false, entries: entries.map((e) => (nat > e.until.getTime() ? { ...e, until: new Date(nat) } : e)) });
      } else if (policy.startsWith(SHARD_POLICY_PREFIX)) {
        const entries = entriesOfShard(doc);
        if (entries) parts.push({ name: policy, doc, shard: true, entries });
        else log.warn({ role: roleName, policy }, 'leaving a jit deny shard that does not parse');
      }
    }
    let folded = 0;
    // Shards with expired statements are rewritten alone (smaller, so there is always room).
    const shards: Part[] = [];
    for (const part of parts.filter((p) => p.shard)) {
      const live = liveEntries(part.entries, t);
      if (live.length === part.entries.length) shards.push(part);
      else {
        const moved = await fold(roleName, docs, [part], live, t).catch((err: unknown) => {
          if (err instanceof JitError && err.code === AwsStsIamLimit.code) return { folded: 0, into: undefined };
          throw err;
        });
        folded += moved.folded;
        if (moved.into) shards.push(moved.into);
        else if (moved.folded === 0) shards.push(part);
      }
    }
    const perGrant = parts.filter((p) => !p.shard);
    if (perGrant.length + shards.length < 2) return folded;
    let free = ROLE_INLINE_POLICY_LIMIT;
    for (const doc of docs.values()) free -= doc === undefined ? 0 : policySize(doc);
    // Per-grant denies first (each folds ~4x smaller), then the smallest shards, while the new shard
    // stays within SHARD_MAX_CHARS and fits beside what it replaces (it is written before they go).
    const selected: Part[] = [];
    let entries: DenyEntry[] = [];
    const bySize = (a: Part, b: Part) => policySize(a.doc) - policySize(b.doc);
    for (const part of [...perGrant, ...shards.sort(bySize)]) {
      const next = liveEntries([...entries, ...part.entries], t);
      if (next.length > 0 && policySize(shardDocument(next)) > Math.min(free, SHARD_MAX_CHARS)) continue;
      selected.push(part);
      entries = next;
    }
    // one policy alone is left as it is: folding saves the boilerplate of the second one on
    if (selected.length < 2) return folded;
    return folded + (await fold(roleName, docs, selected, entries, t)).folded;
  }

  /** Write one shard holding `entries` (all of `selected`'s live entries), read it back, then delete what it covers. */
  async function fold(
    roleName: string,
    docs: Map<string, unknown>,
    selected: Array<{ name: string; doc: unknown; entries: DenyEntry[]; shard: boolean }>,
    entries: DenyEntry[],
    t: number,
  ): Promise<{ folded: number; into?: { name: string; doc: unknown; entries: DenyEntry[]; shard: boolean } }> {
    const doc = shardDocument(entries);
    const name = shardPolicyName(doc);
    let held: DenyEntry[] = [];
    if (entries.length > 0) {
      if (!docs.has(name)) {
        await call('put role policy', clients.iam, new PutRolePolicyCommand({ RoleName: roleName, PolicyName: name, PolicyDocument: JSON.stringify(doc) }), roleName);
      }
      // Delete nothing the shard does not hold as IAM answers it now.
      held = entriesOfShard(await getPolicy(roleName, name)) ?? [];
      if (!covers(held, entries)) return { folded: 0 };
      docs.set(name, doc);
    }
    let folded = 0;
    for (const part of selected) {
      if (part.name === name) continue;
      if (!part.shard) {
        // a revoke may have rewritten it since it was read (a later attempt): fold that next time
        const current = await getPolicy(roleName, part.name);
        if (current === undefined || JSON.stringify(current) !== JSON.stringify(part.doc)) continue;
      }
      if (!covers(held, liveEntries(part.entries, t))) continue;
      await deletePolicy(roleName, part.name);
      docs.delete(part.name);
      folded++;
    }
    return { folded, ...(entries.length > 0 ? { into: { name, doc, entries: held, shard: true } } : {}) };
  }

  /** Remove the role's deny policies and ledger tags whose sessions have all expired by `t`; compact the rest. */
  async function cleanupRole(roleName: string, t: number): Promise<CleanupResult> {
    const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 };
    let docs: Map<string, unknown>;
    try {
      docs = await readInlinePolicies(roleName);
    } catch (err) {
      if (err instanceof JitError && isNoSuchEntity(err.cause)) return result;
      throw err;
    }
    const tags = await readTags(roleName);
    const ledger = tags.ledger;
    for (const [policy, doc] of [...docs].filter(([n]) => n.startsWith(DENY_POLICY_PREFIX))) {
      const base = `jit-${policy.slice(DENY_POLICY_PREFIX.length)}`;
      const info = readDenyDocument(doc);
      if (!info || info.until.getTime() > t) continue;
      // A retry racing a revoke may have started a later session than the deny's Sid knows of.
      if ((ledger.get(base)?.sessionExpiresAt.getTime() ?? 0) > t) continue;
      await deletePolicy(roleName, policy);
      docs.delete(policy);
      result.removedDenies.push(`${roleName}/${policy}`);
    }
    result.compactedDenies = await compact(roleName, docs, ledger, t);
    // Tag compaction, when the role runs short of tags: a revoked grant's deny (own or folded) says
    // all its ledger entry would (a late issue is refused on the deny), so the entry can go early.
    const short = tags.count >= QUOTA_WARN_RATIO * ROLE_TAG_LIMIT;
    const expired = [...ledger].filter(([b, e]) => e.sessionExpiresAt.getTime() <= t || (short && e.state === 'revoked' && isRevoked(docs, b))).map(([b]) => ledgerTagKey(b));
    for (let i = 0; i < expired.length; i += 50) {
      const keys = expired.slice(i, i + 50);
      await call('untag role', clients.iam, new UntagRoleCommand({ RoleName: roleName, TagKeys: keys }), roleName);
      result.removedLedgerEntries += keys.length;
    }
    return result;
  }

  const substrate: AwsStsSubstrate = {
    kind: AWS_STS_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,

    validateScope: awsStsScopeCheck(configuredRoles, name),

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
      // The grant's notAfter bounds the session: its expiry (when the revoker denies it) is never later,
      // and DurationSeconds only as long as STS allows (900 s at least; the deny covers the rest).
      const window = grantWindow(name, req, t);

      let duration = Math.max(window.seconds, STS_MIN_DURATION_SECONDS);
      if (duration > roleMax) throw SubstrateTtlTooLong(name, req.ttlSeconds, roleMax);

      let tags = await readTags(roleName);
      let docs = await readInlinePolicies(roleName);
      const previous = tags.ledger.get(base);
      if (previous?.state === 'revoked' || isRevoked(docs, base)) throw AwsStsGrantRevoked(req.grantId, roleName);

      let attempt = 1;
      let expiresAt = window.expiresAt;
      if (previous) {
        // A retry of a grant already (maybe) issued: end the earlier sessions, keep the original expiry.
        if (previous.expiresAt.getTime() <= t.getTime()) throw AwsStsGrantExpired(req.grantId, previous.expiresAt.toISOString());
        attempt = previous.attempt + 1;
        if (attempt > MAX_ATTEMPTS) throw AwsStsTooManyAttempts(req.grantId, previous.attempt);
        if (previous.expiresAt.getTime() < expiresAt.getTime()) expiresAt = previous.expiresAt;
        duration = Math.max(Math.ceil((expiresAt.getTime() - t.getTime()) / 1000), STS_MIN_DURATION_SECONDS);
      }
      const natural = new Date(Math.max(previous?.sessionExpiresAt.getTime() ?? 0, t.getTime() + duration * 1000 + margin));

      // Room to revoke: never issue a session whose revoke (or any live grant's) could hit IAM's
      // per-role quotas — otherwise a requester with many cheap grants could make revocation fail.
      const fits = () => {
        const u = usageOf(roleName, tags, docs, t.getTime(), { grantId: req.grantId, base, attempt, until: natural });
        const tagsOk = tags.ledger.has(base) || u.tags < ROLE_TAG_LIMIT;
        return { u, tagsOk, charsOk: u.inlineChars + u.reservedChars + RESERVE_SLACK_CHARS <= ROLE_INLINE_POLICY_LIMIT };
      };
      let room = fits();
      if (!room.tagsOk || !room.charsOk) {
        await cleanupRole(roleName, t.getTime());
        tags = await readTags(roleName);
        docs = await readInlinePolicies(roleName);
        room = fits();
      }
      if (!room.tagsOk) throw AwsStsIamLimit(roleName, `${room.u.tags} of ${ROLE_TAG_LIMIT} tags in use, none left for this grant's ledger entry`);
      if (!room.charsOk) {
        throw AwsStsIamLimit(
          roleName,
          `inline policies use ${room.u.inlineChars} of ${ROLE_INLINE_POLICY_LIMIT} characters and the revoke of ${room.u.liveGrants} live grant(s) needs ${room.u.reservedChars} more`,
        );
      }
      if (previous) await putDeny(roleName, base, denyDocument('supersede', denyTarget(req.grantId, base, previous.attempt), previous.sessionExpiresAt));
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
          ...(config.sourceIdentity ? { SourceIdentity: sourceIdentityFor(String(req.requester ?? 'unknown'), req.grantId, attempt) } : {}),
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
      const attempts = revokeAttempts(handle, ledger);
      if (until.getTime() > now().getTime()) {
        const doc = denyDocument('revoke', denyTarget(handle.grantId, ref.sessionName, attempts), until);
        try {
          await putDeny(ref.roleName, ref.sessionName, doc);
        } catch (err) {
          // Issue keeps room for this revoke; should it be gone anyway (a repeat revoke, policies added
          // by hand), expired denies are removed and the others compacted, then it is tried once more.
          if (!(err instanceof JitError) || err.code !== AwsStsIamLimit.code) throw err;
          await cleanupRole(ref.roleName, now().getTime());
          await putDeny(ref.roleName, ref.sessionName, doc);
        }
      }
      try {
        await writeLedger(ref.roleName, ref.sessionName, {
          grantId: ledger?.grantId ?? handle.grantId,
          attempt: attempts,
          expiresAt: ledger?.expiresAt ?? new Date(Date.parse(handle.expiresAt) || now().getTime()),
          sessionExpiresAt: until,
          state: 'revoked',
        });
      } catch (err) {
        // Revoked before it was issued, on a role without tag room: the deny alone refuses the late issue.
        if (ledger || !(err instanceof JitError) || err.code !== AwsStsIamLimit.code) throw err;
        log.warn({ grantId: handle.grantId, role: ref.roleName }, 'no tag room for the ledger entry of a grant revoked before issue; its deny stands');
      }
      log.info({ grantId: handle.grantId, role: ref.roleName, until: until.toISOString() }, 'sts sessions denied');
      // The deny is in place; folding it into a shard now keeps the role's quota free for the next ones.
      await cleanupRole(ref.roleName, now().getTime()).catch((err: unknown) =>
        log.warn({ role: ref.roleName, err: err instanceof JitError ? err.code : errName(err) }, 'compacting deny policies after a revoke failed; the sweep retries'),
      );
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
      const target = denyTarget(handle.grantId, ref.sessionName, revokeAttempts(handle, ledger.get(ref.sessionName)));
      if (doc === undefined) {
        // folded into a compacted shard?
        const want = entriesOfRevokeDocument(denyDocument('revoke', target, new Date(natural)));
        const held: DenyEntry[] = [];
        for (const [policy, d] of await readInlinePolicies(ref.roleName)) if (policy.startsWith(SHARD_POLICY_PREFIX)) held.push(...(entriesOfShard(d) ?? []));
        if (covers(held, want)) return { verified: true, detail: 'the deny entries are present in a compacted jit deny policy on the role (IAM evaluation itself is not probed)' };
      }
      if (info?.kind !== 'revoke') return { verified: false, detail: 'no revoke deny policy on the role' };
      const expected = denyDocument('revoke', target, info.until);
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

    async maintain(at: Date): Promise<void> {
      await this.cleanupExpiredDenies(at);
      // Warn before IAM's per-role quotas refuse issues (the revokes themselves keep their room).
      for (const roleArn of seenRoles) {
        const usage = await this.quotaUsage(roleArn).catch((err: unknown) => {
          if (err instanceof JitError && isNoSuchEntity(err.cause)) return undefined;
          throw err;
        });
        for (const f of usage ? quotaFindings(usage) : []) log.warn({ role: usage?.roleName, ...usage }, f.message);
      }
    },
    async cleanupExpiredDenies(at?: Date): Promise<CleanupResult> {
      const t = (at ?? now()).getTime();
      const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 };
      for (const roleArn of seenRoles) {
        const { roleName } = parseRoleArn(roleArn) as { roleName: string };
        const one = await cleanupRole(roleName, t);
        result.removedDenies.push(...one.removedDenies);
        result.removedLedgerEntries += one.removedLedgerEntries;
        result.compactedDenies += one.compactedDenies;
      }
      if (result.removedDenies.length + result.removedLedgerEntries + result.compactedDenies > 0) log.info(result, 'expired sts denies cleaned up');
      return result;
    },

    async quotaUsage(roleArn: string): Promise<RoleQuotaUsage> {
      const parsed = parseRoleArn(roleArn);
      if (!parsed) throw SubstrateRejected(name, 'quotaUsage needs an IAM role ARN');
      return usageOf(parsed.roleName, await readTags(parsed.roleName), await readInlinePolicies(parsed.roleName), now().getTime());
    },

    async checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]> {
      const problems = validateAwsStsScope(scope);
      if (problems.length > 0) return [{ severity: 'error', message: `scope is not usable: ${problems.map((p) => `${p.path || '(scope)'}: ${p.message}`).join('; ')}` }];
      const parsed = awsStsScopeSchema.parse(scope);
      const { roleName } = parseRoleArn(parsed.roleArn) as { roleName: string };
      const findings: Finding[] = escapeFindings(scopePolicyDocument(parsed), `session policy for role ${roleName}`);
      if (ceilingSeconds < STS_MIN_DURATION_SECONDS) {
        findings.push({
          severity: 'info',
          message: `STS sessions on role ${roleName} last at least ${STS_MIN_DURATION_SECONDS} s, longer than the tier ceiling of ${ceilingSeconds} s: only jit's revoke deny ends them at the TTL`,
        });
      }
      return findings;
    },

    async checkSetup(): Promise<Finding[]> {
      const findings: Finding[] = [];
      if (!config.sourceIdentity) {
        findings.push({
          severity: 'warning',
          message: `sourceIdentity is off: sessions carry no per-grant SourceIdentity, so a session chained from a jit session (should one get past the session guard) is not matched by the revoke deny`,
        });
      }
      // IAM quotas of every configured role: near full, further issues on it will be refused.
      for (const roleArn of configuredRoles) {
        const usage = await this.quotaUsage(roleArn).catch((err: unknown) => {
          if (err instanceof JitError && isNoSuchEntity(err.cause)) return undefined;
          throw err;
        });
        if (!usage) findings.push({ severity: 'error', message: `role ${parseRoleArn(roleArn)?.roleName} in the instance's roles does not exist` });
        else findings.push(...quotaFindings(usage));
      }
      return findings;
    },

    async close(): Promise<void> {
      unreport();
      clients.sts.destroy?.();
      clients.iam.destroy?.();
    },
  };
  return substrate;
}

/** Warnings when a role's IAM quotas are nearly used up: further issues on it will be refused. */
export function quotaFindings(u: RoleQuotaUsage): Finding[] {
  const out: Finding[] = [];
  if (u.tags >= QUOTA_WARN_RATIO * u.tagLimit) {
    out.push({
      severity: 'warning',
      message: `role ${u.roleName} carries ${u.tags} of ${u.tagLimit} IAM tags (jit keeps one per grant until its sessions expire); new grants on it will be refused at ${u.tagLimit}`,
    });
  }
  const chars = u.inlineChars + u.reservedChars;
  if (chars >= QUOTA_WARN_RATIO * u.inlineLimit) {
    out.push({
      severity: 'warning',
      message: `role ${u.roleName} uses ${u.inlineChars} of ${u.inlineLimit} characters of inline policy and the revoke of its ${u.liveGrants} live grant(s) reserves ${u.reservedChars} more; new grants on it will be refused when no room is left to revoke them`,
    });
  }
  return out;
}

/** The registration: `registry.register(awsStsSubstrate)`, then `configure('aws-sts:prod', {...})`. */
export const awsStsSubstrate = defineSubstrate<AwsStsConfig, AwsStsExtra>({
  kind: AWS_STS_KIND,
  configSchema: awsStsConfigSchema as unknown as z.ZodType<AwsStsConfig>,
  facts: (c) => ({ validateScope: awsStsScopeCheck(new Set(c.roles ?? []), AWS_STS_KIND), maxTtlSeconds: c.maxTtlSeconds ?? STS_MAX_DURATION_SECONDS }),
  create: createAwsStsSubstrate,
});
