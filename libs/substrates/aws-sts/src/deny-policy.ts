// The inline deny policy that ends a grant's STS sessions early. AWS evaluates `aws:userid` of an
// assumed-role session as `<RoleId>:<RoleSessionName>`; an explicit Deny beats every Allow, so the
// session keeps its keys but can no longer do anything. The Sid records until when the policy is
// needed (the sessions' natural expiry), so cleanup can remove it without any other state.

export type DenyKind = 'revoke' | 'supersede';

export interface DenyStatement {
  Sid: string;
  Effect: 'Deny';
  Action: '*';
  Resource: '*';
  Condition: { StringLike: { 'aws:userid': string[] } };
}
export interface DenyDocument {
  Version: '2012-10-17';
  Statement: [DenyStatement];
}

const SID_PREFIX: Record<DenyKind, string> = { revoke: 'JitRevokeUntil', supersede: 'JitSupersedeUntil' };

/**
 * Revoke: every session of the grant (`<base>` and `<base>.<n>`); supersede (a retried issue): the
 * earlier attempts only, by exact session name. Base names never contain `.`, `*` or `?`, so the
 * pattern `<base>.*` cannot reach another grant.
 */
export function denyDocument(kind: DenyKind, roleId: string, base: string, until: Date, previousAttempts = 0): DenyDocument {
  const patterns =
    kind === 'revoke'
      ? [`${roleId}:${base}`, `${roleId}:${base}.*`]
      : Array.from({ length: previousAttempts }, (_, i) => `${roleId}:${i === 0 ? base : `${base}.${i + 1}`}`);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: `${SID_PREFIX[kind]}${Math.ceil(until.getTime() / 1000)}`,
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { StringLike: { 'aws:userid': patterns } },
      },
    ],
  };
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

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * Whether one of these policy documents explicitly denies every action to `userId`, evaluating
 * only the shape this adapter writes (Deny, Action *, StringLike aws:userid). Used where IAM is
 * not enforced (moto, unit fakes) to say what AWS would decide for our deny policies.
 */
export function deniesUserId(docs: unknown[], userId: string): boolean {
  for (const doc of docs) {
    const raw = (doc as { Statement?: unknown })?.Statement;
    const stmts = Array.isArray(raw) ? raw : [raw];
    for (const s of stmts as Array<Record<string, any>>) {
      if (s?.Effect !== 'Deny' || s.Action !== '*') continue;
      const cond = s.Condition as Record<string, Record<string, unknown>> | undefined;
      const keys = Object.keys(cond ?? {});
      if (keys.length !== 1 || keys[0] !== 'StringLike') continue;
      const like = cond?.StringLike ?? {};
      const entry = Object.entries(like).find(([k]) => k.toLowerCase() === 'aws:userid');
      if (!entry || Object.keys(like).length !== 1) continue;
      const patterns = Array.isArray(entry[1]) ? entry[1] : [entry[1]];
      if (patterns.some((p) => typeof p === 'string' && globToRegExp(p).test(userId))) return true;
    }
  }
  return false;
}
