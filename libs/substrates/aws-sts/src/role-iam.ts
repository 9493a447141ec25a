// What jit keeps on a role, read and written through IAM: the ledger tags, the inline deny
// policies, and the role's room for them (IAM's per-role quotas) — one place that knows how a
// grant's state is stored, so issue, revoke and the sweeps share it.
import {
  DeleteRolePolicyCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  type GetRolePolicyCommandOutput,
  type ListRolePoliciesCommandOutput,
  type ListRoleTagsCommandOutput,
} from '@aws-sdk/client-iam';
import type { Logger } from '@jit/observability';
import type { JitError } from '@jit/errors';
import { awsFailure, isNoSuchEntity } from './aws-error';
import { ROLE_INLINE_POLICY_LIMIT, ROLE_TAG_LIMIT, type AwsClients, type AwsSender, type AwsStsConfig, type CleanupResult, type RoleQuotaUsage } from './config';
import { denyDocument, decodePolicyDocument, policySize, readDenyDocument, type DenyDocument, type DenyTarget } from './deny-policy';
import { LEDGER_TAG_PREFIX, denyPolicyName, ledgerTagKey } from './grant-names';
import { decodeLedger, encodeLedger, type LedgerEntry } from './ledger-tag';
import { SHARD_POLICY_PREFIX, entriesOfShard } from './revoked-shard';

/** What every part of one adapter instance shares. */
export interface AwsStsContext {
  name: string;
  config: AwsStsConfig;
  log: Logger;
  now: () => Date;
  clients: AwsClients;
  /** The instance's `roles` (empty: any role). */
  configuredRoles: ReadonlySet<string>;
  /** Role ARNs to sweep: the configured ones and any this process touched. */
  seenRoles: Set<string>;
  /** expiryMarginSeconds, in ms. */
  margin: number;
}

/** The role's tags: jit's ledger entries (by session base name) and how many tags the role carries in all. */
export interface RoleTags {
  ledger: Map<string, LedgerEntry>;
  count: number;
}

/** A grant being issued, counted into the role's reservation before its ledger entry exists. */
export interface PendingGrant {
  grantId: string;
  base: string;
  attempt: number;
  until: Date;
}

export interface RoleIam {
  fail(operation: string, err: unknown, role?: string): JitError;
  call<T>(operation: string, client: AwsSender, command: object, role?: string): Promise<T>;
  readTags(roleName: string): Promise<RoleTags>;
  readLedger(roleName: string): Promise<Map<string, LedgerEntry>>;
  writeLedger(roleName: string, base: string, entry: LedgerEntry): Promise<void>;
  untag(roleName: string, keys: string[]): Promise<number>;
  /** Every inline policy of the role, decoded (jit's denies and the role's own). */
  readInlinePolicies(roleName: string): Promise<Map<string, unknown>>;
  getPolicy(roleName: string, policyName: string): Promise<unknown | undefined>;
  putPolicy(roleName: string, policyName: string, doc: unknown): Promise<void>;
  deletePolicy(roleName: string, policyName: string): Promise<void>;
  readDeny(roleName: string, base: string): Promise<unknown | undefined>;
  putDeny(roleName: string, base: string, doc: DenyDocument): Promise<void>;
  denyTarget(grantId: string, base: string, attempts: number): DenyTarget;
  /** Whether the grant's sessions are revoked on this role: its own revoke deny, or its entry in a compacted shard. */
  isRevoked(docs: Map<string, unknown>, base: string): boolean;
  usageOf(roleName: string, tags: RoleTags, docs: Map<string, unknown>, t: number, extra?: PendingGrant): RoleQuotaUsage;
}

/** What issue, revoke and the sweeps are given: the context, the role's IAM state, and housekeeping. */
export interface AwsStsEnv extends AwsStsContext {
  iam: RoleIam;
  /** Remove the role's deny policies and ledger tags whose sessions have all expired by `t`; compact the rest. */
  cleanupRole(roleName: string, t: number): Promise<CleanupResult>;
}

export function roleIam(ctx: AwsStsContext): RoleIam {
  const { clients, log } = ctx;
  const fail = (operation: string, err: unknown, role?: string): JitError => awsFailure(ctx.name, operation, err, role);

  async function call<T>(operation: string, client: AwsSender, command: object, role?: string): Promise<T> {
    try {
      return (await client.send(command)) as T;
    } catch (err) {
      throw fail(operation, err, role);
    }
  }

  async function readTags(roleName: string): Promise<RoleTags> {
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

  async function getPolicy(roleName: string, policyName: string): Promise<unknown | undefined> {
    try {
      const out = (await clients.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }))) as GetRolePolicyCommandOutput;
      return decodePolicyDocument(out.PolicyDocument);
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw fail('get role policy', err, roleName);
    }
  }

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

  const putPolicy = async (roleName: string, policyName: string, doc: unknown): Promise<void> => {
    await call('put role policy', clients.iam, new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) }), roleName);
  };

  const denyTarget = (grantId: string, base: string, attempts: number): DenyTarget => ({ grantId, base, attempts, sourceIdentity: ctx.config.sourceIdentity });

  function isRevoked(docs: Map<string, unknown>, base: string): boolean {
    if (readDenyDocument(docs.get(denyPolicyName(base)))?.kind === 'revoke') return true;
    const pattern = `*:${base}`;
    for (const [policy, doc] of docs) {
      if (policy.startsWith(SHARD_POLICY_PREFIX) && entriesOfShard(doc)?.some((e) => e.key === 'aws:userid' && e.pattern === pattern)) return true;
    }
    return false;
  }

  /**
   * Quota use of a role: what is on it, and what the revoke denies of its live, unrevoked grants
   * (ledger `st=issued`, session not expired) still need — `extra` adds the grant being issued.
   */
  function usageOf(roleName: string, tags: RoleTags, docs: Map<string, unknown>, t: number, extra?: PendingGrant): RoleQuotaUsage {
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

  return {
    fail,
    call,
    readTags,
    readLedger: async (roleName) => (await readTags(roleName)).ledger,
    async writeLedger(roleName, base, entry) {
      await call('tag role', clients.iam, new TagRoleCommand({ RoleName: roleName, Tags: [{ Key: ledgerTagKey(base), Value: encodeLedger(entry) }] }), roleName);
    },
    async untag(roleName, keys) {
      for (let i = 0; i < keys.length; i += 50) await call('untag role', clients.iam, new UntagRoleCommand({ RoleName: roleName, TagKeys: keys.slice(i, i + 50) }), roleName);
      return keys.length;
    },
    readInlinePolicies,
    getPolicy,
    putPolicy,
    async deletePolicy(roleName, policyName) {
      try {
        await clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
      } catch (err) {
        if (!isNoSuchEntity(err)) throw fail('delete role policy', err, roleName);
      }
    },
    readDeny: (roleName, base) => getPolicy(roleName, denyPolicyName(base)),
    putDeny: (roleName, base, doc) => putPolicy(roleName, denyPolicyName(base), doc),
    denyTarget,
    isRevoked,
    usageOf,
  };
}
