// Compacted revoke denies. A revoke writes its own small policy (`jit-revoke-<grant>`: race-free,
// see deny-policy.ts); housekeeping folds many of those into one shared document that lists the
// revoked grants' patterns in a few statements, so the per-policy boilerplate is paid once. The
// shard is named after a hash of its content (`jit-denies-<hash>`) and never rewritten in place:
// a compaction writes a new shard holding everything it folds, reads it back, and only then
// deletes what it folded — so two replicas compacting at once, or IAM answering a stale read,
// can leave a duplicate but never drop a deny. Entries are bucketed by expiry (15 minutes) so a
// statement can be dropped once all its sessions have expired.
import { createHash } from 'node:crypto';
import { policySize, readDenyDocument, SOURCE_IDENTITY_SID } from './deny-policy';

export const SHARD_POLICY_PREFIX = 'jit-denies-';
/** Largest shard a compaction writes: it must fit beside what it replaces until that is deleted. */
export const SHARD_MAX_CHARS = 2048;
/** Expiry buckets: an entry may outlive its sessions by at most this much. */
export const SHARD_BUCKET_SECONDS = 300;

export type DenyKey = 'aws:userid' | 'aws:SourceIdentity';
export interface DenyEntry {
  key: DenyKey;
  pattern: string;
  until: Date;
}

interface ShardStatement {
  Sid: string;
  Effect: 'Deny';
  Action: '*';
  Resource: '*';
  Condition: { StringLike: Partial<Record<DenyKey, string[]>> };
}
export interface ShardDocument {
  Version: '2012-10-17';
  Statement: ShardStatement[];
}

const SHARD_SID_RE = /^JitRevoked(Si)?Until(\d{1,12})$/;
const entryId = (e: { key: DenyKey; pattern: string }) => `${e.key}\u0000${e.pattern}`;

function statementsOf(doc: unknown): Array<Record<string, any>> {
  const raw = (doc as { Statement?: unknown })?.Statement;
  return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) as Array<Record<string, any>>;
}

function patternsOf(stmt: Record<string, any>, key: DenyKey): string[] {
  const like = stmt?.Condition?.StringLike as Record<string, unknown> | undefined;
  const v = like?.[key];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((p): p is string => typeof p === 'string');
}

/** The entries of a per-grant revoke document (supersede documents are not folded: they are replaced or expire). */
export function entriesOfRevokeDocument(doc: unknown): DenyEntry[] {
  const info = readDenyDocument(doc);
  if (info?.kind !== 'revoke') return [];
  const out: DenyEntry[] = [];
  for (const s of statementsOf(doc)) {
    if (s?.Effect !== 'Deny' || s.Action !== '*') continue;
    if (s.Sid === SOURCE_IDENTITY_SID) for (const pattern of patternsOf(s, 'aws:SourceIdentity')) out.push({ key: 'aws:SourceIdentity', pattern, until: info.until });
    else for (const pattern of patternsOf(s, 'aws:userid')) out.push({ key: 'aws:userid', pattern, until: info.until });
  }
  return out;
}

/** The entries of a shard; undefined when the document is not one of ours. */
export function entriesOfShard(doc: unknown): DenyEntry[] | undefined {
  const stmts = statementsOf(doc);
  if (stmts.length === 0) return undefined;
  const out: DenyEntry[] = [];
  for (const s of stmts) {
    const m = typeof s?.Sid === 'string' ? SHARD_SID_RE.exec(s.Sid) : null;
    if (!m || s.Effect !== 'Deny' || s.Action !== '*' || s.Resource !== '*') return undefined;
    const key: DenyKey = m[1] ? 'aws:SourceIdentity' : 'aws:userid';
    for (const pattern of patternsOf(s, key)) out.push({ key, pattern, until: new Date(Number(m[2]) * 1000) });
  }
  return out;
}

/** Entries still needed at `t`, one per key and pattern (the latest expiry wins). */
export function liveEntries(entries: Iterable<DenyEntry>, t: number): DenyEntry[] {
  const byId = new Map<string, DenyEntry>();
  for (const e of entries) {
    if (e.until.getTime() <= t) continue;
    const had = byId.get(entryId(e));
    if (!had || had.until < e.until) byId.set(entryId(e), e);
  }
  return [...byId.values()];
}

/** The shard document for these entries (deterministic: same entries, same document and name). */
export function shardDocument(entries: DenyEntry[]): ShardDocument {
  const buckets = new Map<number, { userid: string[]; si: string[] }>();
  for (const e of entries) {
    const b = Math.ceil(e.until.getTime() / 1000 / SHARD_BUCKET_SECONDS) * SHARD_BUCKET_SECONDS;
    const slot = buckets.get(b) ?? { userid: [], si: [] };
    (e.key === 'aws:userid' ? slot.userid : slot.si).push(e.pattern);
    buckets.set(b, slot);
  }
  const statements: ShardStatement[] = [];
  for (const b of [...buckets.keys()].sort((x, y) => x - y)) {
    const slot = buckets.get(b) as { userid: string[]; si: string[] };
    const stmt = (sid: string, key: DenyKey, patterns: string[]): ShardStatement => ({
      Sid: sid,
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { StringLike: { [key]: [...new Set(patterns)].sort() } },
    });
    if (slot.userid.length > 0) statements.push(stmt(`JitRevokedUntil${b}`, 'aws:userid', slot.userid));
    if (slot.si.length > 0) statements.push(stmt(`JitRevokedSiUntil${b}`, 'aws:SourceIdentity', slot.si));
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Whether `doc` is what a shard named `name` was written with (names are content hashes: a hit needs no new read). */
export function isShardNamed(name: string, doc: unknown): boolean {
  return name.slice(-16) === shardPolicyName(doc as ShardDocument).slice(-16);
}

export function shardPolicyName(doc: ShardDocument): string {
  return `${SHARD_POLICY_PREFIX}${createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 16)}`;
}

/** Whether `have` holds every entry of `want` at least as long. */
export function covers(have: DenyEntry[], want: DenyEntry[]): boolean {
  const byId = new Map(have.map((e) => [entryId(e), e]));
  return want.every((w) => {
    const h = byId.get(entryId(w));
    return h !== undefined && h.until.getTime() >= w.until.getTime();
  });
}

export { policySize };
