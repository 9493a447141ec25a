// Housekeeping of the denies and ledger on a role: remove what has expired, fold per-grant revoke
// denies (and older shards) into compacted shards (revoked-shard.ts), and drop ledger tags that are
// no longer needed. Shards live inline or, while the role has attachment slots free, in managed
// policies jit owns (managed-shards.ts). Never rewrites a document in place: a new shard is written and read back
// before anything it covers is deleted, so two replicas at once or a stale read lose no deny.
import { JitError } from '@jit/errors';
import { SubstrateDenied } from '@jit/substrates';
import { isGone } from './aws-error';
import { QUOTA_WARN_RATIO, ROLE_INLINE_POLICY_LIMIT, ROLE_TAG_LIMIT, type CleanupResult } from './config';
import { policySize, readDenyDocument } from './deny-policy';
import { AwsStsIamLimit } from './errors';
import { DENY_POLICY_PREFIX, ledgerTagKey } from './grant-names';
import type { LedgerEntry } from './ledger-tag';
import { MANAGED_POLICY_MAX_CHARS } from './managed-shards';
import { SHARD_MAX_CHARS, SHARD_POLICY_PREFIX, covers, entriesOfRevokeDocument, entriesOfShard, liveEntries, shardDocument, shardPolicyName, type DenyEntry } from './revoked-shard';
import type { AwsStsContext, RoleDocs, RoleIam } from './role-iam';

/** Shards overflow into managed policies once less than this share of the role's inline room is free. */
const OVERFLOW_RATIO = 0.5;

type Part = { id: string; where: 'inline' | 'managed'; shard: boolean; doc: unknown; entries: DenyEntry[] };

export function denyCompaction(ctx: AwsStsContext, iam: RoleIam): { cleanupRole(roleName: string, t: number, pressed?: boolean): Promise<CleanupResult> } {
  const { log } = ctx;
  const limitOrDenied = (err: unknown) => err instanceof JitError && (err.code === AwsStsIamLimit.code || err.code === SubstrateDenied.code);

  /** The role's jit denies as parts to fold: per-grant revoke policies and shards (inline and managed). */
  function partsOf(roleName: string, docs: RoleDocs, ledger: Map<string, LedgerEntry>): Part[] {
    const parts: Part[] = [];
    for (const [policy, doc] of docs.inline) {
      if (policy.startsWith(DENY_POLICY_PREFIX)) {
        const entries = entriesOfRevokeDocument(doc);
        if (entries.length === 0) continue;
        // a retry racing the revoke may have started a session the deny's Sid does not know of
        const nat = ledger.get(`jit-${policy.slice(DENY_POLICY_PREFIX.length)}`)?.sessionExpiresAt.getTime() ?? 0;
        parts.push({ id: policy, where: 'inline', doc, shard: false, entries: entries.map((e) => (nat > e.until.getTime() ? { ...e, until: new Date(nat) } : e)) });
      } else if (policy.startsWith(SHARD_POLICY_PREFIX)) {
        const entries = entriesOfShard(doc);
        if (entries) parts.push({ id: policy, where: 'inline', doc, shard: true, entries });
        else log.warn({ role: roleName, policy }, 'leaving a jit deny shard that does not parse');
      }
    }
    for (const m of docs.managed.shards.values()) {
      const entries = entriesOfShard(m.doc);
      if (entries) parts.push({ id: m.arn, where: 'managed', doc: m.doc, shard: true, entries });
      else log.warn({ role: roleName, policy: m.name }, 'leaving a jit managed deny shard that does not parse');
    }
    return parts;
  }

  /** Attachment slots free on the role now (managed shards on and not denied to this identity). */
  const freeSlots = (docs: RoleDocs) => (iam.managedState.enabled && !iam.managedState.denied ? ctx.config.attachedPoliciesPerRole - docs.managed.attached : 0);

  /**
   * Fold per-grant revoke denies and shards into one new shard, as far as there is room for it,
   * then delete what the shard — read back — covers. The new shard goes inline (2,048 at most,
   * beside what it replaces) until half the role's inline room is used (or an issue or revoke is
   * short of room: `pressed`), then into a managed policy
   * while the role has a free attachment slot (the last one only for merges). Never rewrites a
   * document in place.
   */
  async function compact(roleName: string, docs: RoleDocs, ledger: Map<string, LedgerEntry>, t: number, pressed: boolean): Promise<number> {
    const parts = partsOf(roleName, docs, ledger);
    let folded = 0;
    // Shards with expired statements are rewritten alone (smaller, so there is always room inline;
    // a managed one needs a free slot for the swap), or removed when nothing in them is live.
    const shards: Part[] = [];
    for (const part of parts.filter((p) => p.shard)) {
      const live = liveEntries(part.entries, t);
      if (live.length === part.entries.length || (live.length > 0 && part.where === 'managed' && freeSlots(docs) < 1)) {
        shards.push(part);
        continue;
      }
      const moved = await fold(roleName, docs, part.where, [part], live, t).catch((err: unknown) => {
        if (limitOrDenied(err)) return { folded: 0, into: undefined };
        throw err;
      });
      folded += moved.folded;
      if (moved.into) shards.push(moved.into);
      else if (moved.folded === 0) shards.push(part);
    }
    const perGrant = parts.filter((p) => !p.shard);
    const bySize = (a: Part, b: Part) => policySize(a.doc) - policySize(b.doc);
    const select = (candidates: Part[], max: number): { selected: Part[]; entries: DenyEntry[] } => {
      const selected: Part[] = [];
      let entries: DenyEntry[] = [];
      for (const part of candidates) {
        const next = liveEntries([...entries, ...part.entries], t);
        if (next.length > 0 && policySize(shardDocument(next)) > max) continue;
        selected.push(part);
        entries = next;
      }
      return { selected, entries };
    };
    const inlineShards = shards.filter((p) => p.where === 'inline').sort(bySize);
    let free = ROLE_INLINE_POLICY_LIMIT;
    for (const doc of docs.inline.values()) free -= doc === undefined ? 0 : policySize(doc);
    const slots = freeSlots(docs);
    if ((pressed || free < ROLE_INLINE_POLICY_LIMIT * OVERFLOW_RATIO) && slots >= 1 && perGrant.length + inlineShards.length > 0) {
      // Overflow into a managed shard: everything inline first (that is the room revokes write into),
      // then the smallest managed shards; the last free slot only for a merge, so one stays free for swaps.
      const managedShards = shards.filter((p) => p.where === 'managed').sort(bySize);
      // with only the swap slot free, the new shard must replace one: start from the smallest
      const first = slots >= 2 ? [] : managedShards.slice(0, 1);
      const pick = select([...first, ...perGrant, ...inlineShards, ...managedShards.slice(first.length)], MANAGED_POLICY_MAX_CHARS);
      if (pick.selected.some((p) => p.where === 'inline') && (slots >= 2 || pick.selected.some((p) => p.where === 'managed'))) {
        const moved = await fold(roleName, docs, 'managed', pick.selected, pick.entries, t).catch((err: unknown) => {
          if (limitOrDenied(err)) return { folded: -1 };
          throw err;
        });
        if (moved.folded >= 0) return folded + moved.folded;
      }
    }
    if (perGrant.length + inlineShards.length < 2) return folded;
    // Per-grant denies first (each folds ~4x smaller), then the smallest shards, while the new shard
    // stays within SHARD_MAX_CHARS and fits beside what it replaces (it is written before they go).
    const pick = select([...perGrant, ...inlineShards], Math.min(free, SHARD_MAX_CHARS));
    // one policy alone is left as it is: folding saves the boilerplate of the second one on
    if (pick.selected.length < 2) return folded;
    return folded + (await fold(roleName, docs, 'inline', pick.selected, pick.entries, t)).folded;
  }

  /** Write one shard holding `entries` (all of `selected`'s live entries), read it back, then delete what it covers. */
  async function fold(roleName: string, docs: RoleDocs, where: 'inline' | 'managed', selected: Part[], entries: DenyEntry[], t: number): Promise<{ folded: number; into?: Part }> {
    const doc = shardDocument(entries);
    let id = shardPolicyName(doc);
    let held: DenyEntry[] = [];
    if (entries.length > 0) {
      if (where === 'inline') {
        if (!docs.inline.has(id)) await iam.putPolicy(roleName, id, doc);
        // Delete nothing the shard does not hold as IAM answers it now.
        held = entriesOfShard(await iam.getPolicy(roleName, id)) ?? [];
        if (!covers(held, entries)) return { folded: 0 };
        docs.inline.set(id, doc);
      } else {
        const written = await writeManaged(roleName, doc);
        id = written.arn;
        held = entriesOfShard(written.heldDoc) ?? [];
        if (!covers(held, entries)) return { folded: 0 };
        if (!docs.managed.shards.has(id)) docs.managed.attached++;
        docs.managed.shards.set(id, { arn: id, name: written.name, doc });
      }
    }
    let folded = 0;
    for (const part of selected) {
      if (part.id === id) continue;
      if (!part.shard) {
        // a revoke may have rewritten it since it was read (a later attempt): fold that next time
        const current = await iam.getPolicy(roleName, part.id);
        if (current === undefined || JSON.stringify(current) !== JSON.stringify(part.doc)) continue;
      }
      if (!covers(held, liveEntries(part.entries, t))) continue;
      if (part.where === 'inline') {
        await iam.deletePolicy(roleName, part.id);
        docs.inline.delete(part.id);
      } else {
        await iam.managed.remove(roleName, part.id);
        if (docs.managed.shards.delete(part.id)) docs.managed.attached--;
      }
      folded++;
    }
    return { folded, ...(entries.length > 0 ? { into: { id, where, doc, entries: held, shard: true } } : {}) };
  }

  /** Create and attach a managed shard; an identity not allowed to is remembered (inline only from then on). */
  async function writeManaged(roleName: string, doc: ReturnType<typeof shardDocument>) {
    try {
      return await iam.managed.write(roleName, doc);
    } catch (err) {
      if (err instanceof JitError && err.code === SubstrateDenied.code) {
        iam.managedState.denied = true;
        log.error(
          { role: roleName, err: err.code },
          'jit may not create or attach managed deny policies (iam:CreatePolicy, iam:AttachRolePolicy): compacting inline only; set attachedPoliciesPerRole: 0 or grant the permissions',
        );
      }
      throw err;
    }
  }

  async function cleanupRole(roleName: string, t: number, pressed = false): Promise<CleanupResult> {
    const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 };
    let docs: RoleDocs;
    try {
      docs = await iam.readDocs(roleName);
    } catch (err) {
      if (isGone(err)) return result;
      throw err;
    }
    const tags = await iam.readTags(roleName);
    const ledger = tags.ledger;
    for (const [policy, doc] of [...docs.inline].filter(([n]) => n.startsWith(DENY_POLICY_PREFIX))) {
      const base = `jit-${policy.slice(DENY_POLICY_PREFIX.length)}`;
      const info = readDenyDocument(doc);
      if (!info || info.until.getTime() > t) continue;
      // A retry racing a revoke may have started a later session than the deny's Sid knows of.
      if ((ledger.get(base)?.sessionExpiresAt.getTime() ?? 0) > t) continue;
      await iam.deletePolicy(roleName, policy);
      docs.inline.delete(policy);
      result.removedDenies.push(`${roleName}/${policy}`);
    }
    result.compactedDenies = await compact(roleName, docs, ledger, t, pressed);
    // Ledger tags go when the grant's sessions have all expired, or when it was revoked and a shard
    // denies it at least as long as its sessions live (a late issue is refused on that deny) — and,
    // when the role runs short of tags, as soon as any deny of its own stands.
    const short = tags.count >= QUOTA_WARN_RATIO * ROLE_TAG_LIMIT;
    const done = ([b, e]: [string, LedgerEntry]) =>
      e.sessionExpiresAt.getTime() <= t || (e.state === 'revoked' && (iam.foldedUntil(docs, b) >= e.sessionExpiresAt.getTime() || (short && iam.isRevoked(docs, b))));
    result.removedLedgerEntries = await iam.untag(
      roleName,
      [...ledger].filter(done).map(([b]) => ledgerTagKey(b)),
    );
    return result;
  }

  return { cleanupRole };
}
