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
import { LRUCache } from 'lru-cache';
import type { Logger } from '@jit/observability';
import type { JitError } from '@jit/errors';
import { awsFailure, isNoSuchEntity } from './aws-error';
import {
  MANAGED_SHARD_SLACK_CHARS,
  RESERVE_SLACK_CHARS,
  ROLE_INLINE_POLICY_LIMIT,
  ROLE_TAG_LIMIT,
  type AwsClients,
  type AwsSender,
  type AwsStsConfig,
  type CleanupResult,
  type RoleQuotaUsage,
} from './config';
import { denyDocument, decodePolicyDocument, policySize, readDenyDocument, type DenyDocument, type DenyTarget } from './deny-policy';
import { MANAGED_POLICY_MAX_CHARS, managedShardStore, type ManagedPolicies, type ManagedShardStore } from './managed-shards';
import { LEDGER_TAG_PREFIX, denyPolicyName, ledgerTagKey } from './grant-names';
import { decodeLedger, encodeLedger, type LedgerEntry } from './ledger-tag';
import { SHARD_MAX_CHARS, SHARD_POLICY_PREFIX, entriesOfRevokeDocument, entriesOfShard, isShardNamed, type DenyEntry } from './revoked-shard';

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

/** jit's deny policies on a role (and the role's own inline ones): inline by name, managed shards by ARN. */
export interface RoleDocs {
  inline: Map<string, unknown>;
  managed: ManagedPolicies;
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
  /** The inline policies and, when managed shards are on, the attached managed policies (jit's shards decoded). */
  readDocs(roleName: string): Promise<RoleDocs>;
  managed: ManagedShardStore;
  /** Managed shards work here: not denied to this identity, and on (attachedPoliciesPerRole > 0). */
  managedState: { enabled: boolean; denied: boolean };
  /**
   * Free attachment slots jit may fill with shards (one is kept for the swap); 0 until a jit shard is
   * attached to this role — proof that this identity may create and attach them here (permissions
   * can be scoped per role), so no issue counts on room a revoke could not use.
   */
  usableSlots(docs: RoleDocs): number;
  /** Every entry of every compacted shard (inline and managed). */
  shardEntries(docs: RoleDocs): DenyEntry[];
  /** Until when a compacted shard denies the grant's sessions by aws:userid (0: no shard does). */
  foldedUntil(docs: RoleDocs, base: string): number;
  getPolicy(roleName: string, policyName: string): Promise<unknown | undefined>;
  putPolicy(roleName: string, policyName: string, doc: unknown): Promise<void>;
  deletePolicy(roleName: string, policyName: string): Promise<void>;
  readDeny(roleName: string, base: string): Promise<unknown | undefined>;
  putDeny(roleName: string, base: string, doc: DenyDocument): Promise<void>;
  denyTarget(grantId: string, base: string, attempts: number): DenyTarget;
  /** Whether the grant's sessions are revoked on this role: its own revoke deny, or its entry in a compacted shard. */
  isRevoked(docs: RoleDocs, base: string): boolean;
  usageOf(roleName: string, tags: RoleTags, docs: RoleDocs, t: number, extra?: PendingGrant): RoleQuotaUsage;
}

/** What issue, revoke and the sweeps are given: the context, the role's IAM state, and housekeeping. */
export interface AwsStsEnv extends AwsStsContext {
  iam: RoleIam;
  /** Remove the role's deny policies and ledger tags whose sessions have all expired by `t`; compact the rest (`pressed`: overflow into managed shards now). */
  cleanupRole(roleName: string, t: number, pressed?: boolean): Promise<CleanupResult>;
}

/**
 * Inline room kept free on top of the reservation: a revoke first writes its own policy (up to
 * ~500 characters with retries), and an inline shard is written beside what it replaces.
 */
export const HEADROOM_CHARS = RESERVE_SLACK_CHARS + SHARD_MAX_CHARS + 512;

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

  const knownShards = new LRUCache<string, { doc: object }>({ max: 500 });

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
      // a shard is named after its content and never changed: read once per process
      const shard = policyName.startsWith(SHARD_POLICY_PREFIX) ? knownShards.get(`${roleName}/${policyName}`)?.doc : undefined;
      const doc = shard ?? (await getPolicy(roleName, policyName));
      if (doc && policyName.startsWith(SHARD_POLICY_PREFIX) && isShardNamed(policyName, doc)) knownShards.set(`${roleName}/${policyName}`, { doc });
      if (doc !== undefined) docs.set(policyName, doc);
    }
    return docs;
  }

  const putPolicy = async (roleName: string, policyName: string, doc: unknown): Promise<void> => {
    await call('put role policy', clients.iam, new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) }), roleName);
  };

  const denyTarget = (grantId: string, base: string, attempts: number): DenyTarget => ({ grantId, base, attempts, sourceIdentity: ctx.config.sourceIdentity });

  const managed = managedShardStore(ctx.name, clients.iam, call, log);
  const managedState = { enabled: ctx.config.attachedPoliciesPerRole > 0, denied: false };

  async function readDocs(roleName: string): Promise<RoleDocs> {
    const inline = await readInlinePolicies(roleName);
    if (!managedState.enabled) return { inline, managed: { attached: 0, shards: new Map() } };
    return { inline, managed: await managed.read(roleName) };
  }

  function shardEntries(docs: RoleDocs): DenyEntry[] {
    const out: DenyEntry[] = [];
    for (const [policy, doc] of docs.inline) if (policy.startsWith(SHARD_POLICY_PREFIX)) out.push(...(entriesOfShard(doc) ?? []));
    for (const m of docs.managed.shards.values()) out.push(...(entriesOfShard(m.doc) ?? []));
    return out;
  }

  function foldedUntil(docs: RoleDocs, base: string): number {
    const pattern = `*:${base}`;
    let until = 0;
    for (const e of shardEntries(docs)) if (e.key === 'aws:userid' && e.pattern === pattern) until = Math.max(until, e.until.getTime());
    return until;
  }

  function isRevoked(docs: RoleDocs, base: string): boolean {
    return readDenyDocument(docs.inline.get(denyPolicyName(base)))?.kind === 'revoke' || foldedUntil(docs, base) > 0;
  }

  function usableSlots(docs: RoleDocs): number {
    if (!managedState.enabled || managedState.denied || docs.managed.shards.size === 0) return 0;
    const own = docs.managed.attached - docs.managed.shards.size;
    return Math.max(0, ctx.config.attachedPoliciesPerRole - own - 1);
  }

  /**
   * Quota use of a role: what is on it, and what the revoke denies of its live, unrevoked grants
   * (ledger `st=issued`, session not expired) still need once folded into a shard — `extra` adds
   * the grant being issued. A grant's reservation is its shard entries plus a quarter for the
   * statements around them; the per-grant policy a revoke writes first is covered by the headroom.
   */
  function usageOf(roleName: string, tags: RoleTags, docs: RoleDocs, t: number, extra?: PendingGrant): RoleQuotaUsage {
    let inlineChars = 0;
    for (const doc of docs.inline.values()) inlineChars += doc === undefined ? 0 : policySize(doc);
    let managedChars = 0;
    for (const m of docs.managed.shards.values()) managedChars += policySize(m.doc);
    let reservedChars = 0;
    let liveGrants = 0;
    const need = (grantId: string, base: string, attempts: number, until: Date) => {
      if (isRevoked(docs, base)) return;
      liveGrants++;
      const entries = entriesOfRevokeDocument(denyDocument('revoke', denyTarget(grantId, base, attempts), until));
      reservedChars += Math.ceil(entries.reduce((n, e) => n + e.pattern.length + 3, 0) * 1.25);
    };
    for (const [base, e] of tags.ledger) {
      if (base === extra?.base || e.state !== 'issued' || e.sessionExpiresAt.getTime() <= t) continue;
      need(e.grantId, base, e.attempt, e.sessionExpiresAt);
    }
    if (extra) need(extra.grantId, extra.base, extra.attempt, extra.until);
    const slots = usableSlots(docs);
    return {
      roleName,
      tags: tags.count,
      tagLimit: ROLE_TAG_LIMIT,
      inlineChars,
      managedChars,
      reservedChars,
      headroomChars: HEADROOM_CHARS,
      inlineLimit: ROLE_INLINE_POLICY_LIMIT,
      managedLimit: slots * (MANAGED_POLICY_MAX_CHARS - MANAGED_SHARD_SLACK_CHARS),
      attachedPolicies: docs.managed.attached,
      attachedLimit: ctx.config.attachedPoliciesPerRole,
      liveGrants,
    };
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
    readDocs,
    managed,
    managedState,
    usableSlots,
    shardEntries,
    foldedUntil,
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
