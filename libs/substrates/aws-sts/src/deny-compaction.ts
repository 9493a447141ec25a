// Housekeeping of the denies and ledger on a role: remove what has expired, fold per-grant revoke
// denies (and older shards) into compacted shards (revoked-shard.ts), and drop ledger tags that are
// no longer needed. Never rewrites a document in place: a new shard is written and read back
// before anything it covers is deleted, so two replicas at once or a stale read lose no deny.
import { JitError } from '@jit/errors';
import { isGone } from './aws-error';
import { QUOTA_WARN_RATIO, ROLE_INLINE_POLICY_LIMIT, ROLE_TAG_LIMIT, type CleanupResult } from './config';
import { policySize, readDenyDocument } from './deny-policy';
import { AwsStsIamLimit } from './errors';
import { DENY_POLICY_PREFIX, ledgerTagKey } from './grant-names';
import type { LedgerEntry } from './ledger-tag';
import { SHARD_MAX_CHARS, SHARD_POLICY_PREFIX, covers, entriesOfRevokeDocument, entriesOfShard, liveEntries, shardDocument, shardPolicyName, type DenyEntry } from './revoked-shard';
import type { AwsStsContext, RoleIam } from './role-iam';

type Part = { name: string; doc: unknown; entries: DenyEntry[]; shard: boolean };

export function denyCompaction(ctx: AwsStsContext, iam: RoleIam): { cleanupRole(roleName: string, t: number): Promise<CleanupResult> } {
  const { log } = ctx;

  /**
   * Fold per-grant revoke denies (and older shards) into one new shard, as far as the role has
   * room for it, then delete what the shard — read back — covers. Never rewrites a document in place.
   */
  async function compact(roleName: string, docs: Map<string, unknown>, ledger: Map<string, LedgerEntry>, t: number): Promise<number> {
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
  async function fold(roleName: string, docs: Map<string, unknown>, selected: Part[], entries: DenyEntry[], t: number): Promise<{ folded: number; into?: Part }> {
    const doc = shardDocument(entries);
    const name = shardPolicyName(doc);
    let held: DenyEntry[] = [];
    if (entries.length > 0) {
      if (!docs.has(name)) await iam.putPolicy(roleName, name, doc);
      // Delete nothing the shard does not hold as IAM answers it now.
      held = entriesOfShard(await iam.getPolicy(roleName, name)) ?? [];
      if (!covers(held, entries)) return { folded: 0 };
      docs.set(name, doc);
    }
    let folded = 0;
    for (const part of selected) {
      if (part.name === name) continue;
      if (!part.shard) {
        // a revoke may have rewritten it since it was read (a later attempt): fold that next time
        const current = await iam.getPolicy(roleName, part.name);
        if (current === undefined || JSON.stringify(current) !== JSON.stringify(part.doc)) continue;
      }
      if (!covers(held, liveEntries(part.entries, t))) continue;
      await iam.deletePolicy(roleName, part.name);
      docs.delete(part.name);
      folded++;
    }
    return { folded, ...(entries.length > 0 ? { into: { name, doc, entries: held, shard: true } } : {}) };
  }

  async function cleanupRole(roleName: string, t: number): Promise<CleanupResult> {
    const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 };
    let docs: Map<string, unknown>;
    try {
      docs = await iam.readInlinePolicies(roleName);
    } catch (err) {
      if (isGone(err)) return result;
      throw err;
    }
    const tags = await iam.readTags(roleName);
    const ledger = tags.ledger;
    for (const [policy, doc] of [...docs].filter(([n]) => n.startsWith(DENY_POLICY_PREFIX))) {
      const base = `jit-${policy.slice(DENY_POLICY_PREFIX.length)}`;
      const info = readDenyDocument(doc);
      if (!info || info.until.getTime() > t) continue;
      // A retry racing a revoke may have started a later session than the deny's Sid knows of.
      if ((ledger.get(base)?.sessionExpiresAt.getTime() ?? 0) > t) continue;
      await iam.deletePolicy(roleName, policy);
      docs.delete(policy);
      result.removedDenies.push(`${roleName}/${policy}`);
    }
    result.compactedDenies = await compact(roleName, docs, ledger, t);
    // Tag compaction, when the role runs short of tags: a revoked grant's deny (own or folded) says
    // all its ledger entry would (a late issue is refused on the deny), so the entry can go early.
    const short = tags.count >= QUOTA_WARN_RATIO * ROLE_TAG_LIMIT;
    const expired = [...ledger].filter(([b, e]) => e.sessionExpiresAt.getTime() <= t || (short && e.state === 'revoked' && iam.isRevoked(docs, b))).map(([b]) => ledgerTagKey(b));
    result.removedLedgerEntries = await iam.untag(roleName, expired);
    return result;
  }

  return { cleanupRole };
}
