// The inline deny policy that ends a grant's STS sessions early. AWS evaluates `aws:userid` of an
// assumed-role session as `<RoleId>:<RoleSessionName>`; an explicit Deny beats every Allow, so the
// session keeps its keys but can no longer do anything. A second statement matches the grant's
// `aws:SourceIdentity`, which STS carries into any session assumed from this one (role chaining,
// should the session guard ever let one through) and which the grantee cannot change. The Sid
// records until when the policy is needed (the sessions' natural expiry), so cleanup can remove it
// without any other state.
//
// One policy per grant, on purpose: IAM has no compare-and-set and reads are eventually
// consistent, so one document shared by several grants and rewritten by several replicas could
// silently lose a revoke. Each document is kept small instead (IAM counts 10,240 characters of
// inline policy per role): the userid patterns leave out the RoleId (the policy is on the role, so
// only that role's sessions are evaluated against it), and the SourceIdentity pattern covers every
// attempt of the grant, so `<session>.*` is written only when it is needed.
import { sessionName, sourceIdentityAttemptPattern, sourceIdentityPattern } from './grant-names';

export type DenyKind = 'revoke' | 'supersede';

type DenyKey = 'aws:userid' | 'aws:SourceIdentity';
export interface DenyStatement {
  Sid: string;
  Effect: 'Deny';
  Action: '*';
  Resource: '*';
  Condition: { StringLike: Partial<Record<DenyKey, string[]>> };
}
export interface DenyDocument {
  Version: '2012-10-17';
  Statement: DenyStatement[];
}

/** What a deny document is about: the grant, how many attempts it had, whether its sessions carry our SourceIdentity. */
export interface DenyTarget {
  grantId: string;
  /** Session base name (`jit-<grant>`). */
  base: string;
  /** Revoke: the highest attempt known; supersede: the attempts to end (all before the new one). */
  attempts: number;
  sourceIdentity: boolean;
}

const SID_PREFIX: Record<DenyKind, string> = { revoke: 'JitRevokeUntil', supersede: 'JitSupersedeUntil' };
export const SOURCE_IDENTITY_SID = 'JitSourceIdentity';

/**
 * Revoke: every session of the grant. By aws:userid the attempts known (`<base>`, or with `.*`
 * when there were retries or no SourceIdentity to cover a racing later one) and by SourceIdentity
 * every attempt. Supersede (a retried issue): the earlier attempts only, by exact session name and
 * exact SourceIdentity. Base names never contain `.`, `*` or `?`, and grant tags are fixed-length,
 * so no pattern reaches another grant.
 */
export function denyDocument(kind: DenyKind, target: DenyTarget, until: Date): DenyDocument {
  const attempts = Math.max(1, target.attempts);
  const earlier = Array.from({ length: attempts }, (_, i) => i + 1);
  const userIds = kind === 'revoke' ? [`*:${target.base}`, ...(attempts > 1 || !target.sourceIdentity ? [`*:${target.base}.*`] : [])] : earlier.map((n) => `*:${sessionName(target.base, n)}`);
  const statements: DenyStatement[] = [
    { Sid: `${SID_PREFIX[kind]}${Math.ceil(until.getTime() / 1000)}`, Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:userid': userIds } } },
  ];
  if (target.sourceIdentity) {
    const ids = kind === 'revoke' ? [sourceIdentityPattern(target.grantId)] : earlier.map((n) => sourceIdentityAttemptPattern(target.grantId, n));
    statements.push({ Sid: SOURCE_IDENTITY_SID, Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringLike: { 'aws:SourceIdentity': ids } } });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Characters IAM counts for a document (JSON without whitespace). */
export function policySize(doc: unknown): number {
  return JSON.stringify(doc).length;
}

/** IAM returns policy documents URL-encoded (RFC 3986); undefined when it is not JSON. */
export function decodePolicyDocument(raw: string | undefined): unknown {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw.trimStart().startsWith('{') ? raw : decodeURIComponent(raw));
  } catch {
    return undefined;
  }
}

/** Kind and expiry of one of our deny documents; undefined for anything else. */
export function readDenyDocument(doc: unknown): { kind: DenyKind; until: Date } | undefined {
  const stmts = (doc as { Statement?: unknown })?.Statement;
  const first = Array.isArray(stmts) ? stmts[0] : stmts;
  const sid = (first as { Sid?: unknown })?.Sid;
  if (typeof sid !== 'string') return undefined;
  const m = /^(JitRevokeUntil|JitSupersedeUntil)(\d{1,12})$/.exec(sid);
  if (!m) return undefined;
  return { kind: m[1] === 'JitRevokeUntil' ? 'revoke' : 'supersede', until: new Date(Number(m[2]) * 1000) };
}

/** IAM's wildcard match as a RegExp: `*` any run, `?` one character (`i`: case-insensitive, as for actions). */
export function globToRegExp(glob: string, flags = ''): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** The request context keys our denies look at. */
export interface SessionContext {
  /** `<RoleId>:<RoleSessionName>` */
  userId: string;
  sourceIdentity?: string;
}

/**
 * Whether one of these policy documents explicitly denies every action to a session, evaluating
 * only the shape this adapter writes (Deny, Action *, StringLike on aws:userid or
 * aws:SourceIdentity). Used where IAM is not enforced (moto, unit fakes) to say what AWS would
 * decide for our deny policies.
 */
export function deniesSession(docs: unknown[], session: SessionContext): boolean {
  const values: Record<string, string | undefined> = { 'aws:userid': session.userId, 'aws:sourceidentity': session.sourceIdentity };
  for (const doc of docs) {
    const raw = (doc as { Statement?: unknown })?.Statement;
    const stmts = Array.isArray(raw) ? raw : [raw];
    for (const s of stmts as Array<Record<string, any>>) {
      if (s?.Effect !== 'Deny' || s.Action !== '*') continue;
      const cond = s.Condition as Record<string, Record<string, unknown>> | undefined;
      const keys = Object.keys(cond ?? {});
      if (keys.length !== 1 || keys[0] !== 'StringLike') continue;
      const like = Object.entries(cond?.StringLike ?? {});
      if (like.length !== 1) continue;
      const [key, want] = like[0] as [string, unknown];
      const value = values[key.toLowerCase()];
      if (value === undefined) continue;
      const patterns = Array.isArray(want) ? want : [want];
      if (patterns.some((p) => typeof p === 'string' && globToRegExp(p).test(value))) return true;
    }
  }
  return false;
}

/** `deniesSession` by aws:userid alone. */
export function deniesUserId(docs: unknown[], userId: string): boolean {
  return deniesSession(docs, { userId });
}
