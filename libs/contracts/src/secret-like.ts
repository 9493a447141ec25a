// The secret-like detector: finds strings shaped like a credential anywhere in a JSON-like value
// (events, request files, policy connections, log lines in tests). It reports the kind and the
// position of what it found, never the text itself, so its answer can go into an error message,
// a GitLab comment or a log line. It runs on every event, so every pattern is linear-time and is
// only tried when its cheap marker is present.

/** What a secret-like string looks like. Stable names: they appear in errors and tests. */
export type SecretKind =
  | 'url-credentials'
  | 'private-key'
  | 'age-secret-key'
  | 'vault-token'
  | 'gitlab-token'
  | 'gitlab-session-cookie'
  | 'github-token'
  | 'aws-access-key-id'
  | 'aws-session-token'
  | 'google-access-token'
  | 'webhook-secret';

/** Where a secret-like string is: never the string itself. */
export interface SecretLikeFinding {
  kind: SecretKind;
  /** Field path (`spec.justification`, `items[2].url`; `(root)` for a bare string). */
  path: string;
  /** Offset of the match in that string (UTF-16 code units). */
  index: number;
}

interface SecretPattern {
  kind: SecretKind;
  /** Substrings one of which must be present before the regex runs. */
  markers: readonly string[];
  /** Non-global; linear-time on any input. */
  re: RegExp;
  /** Extra check on the matched text, for shapes too close to ordinary text for a regex alone. */
  accept?: (match: string) => boolean;
}

const count = (s: string, re: RegExp): number => s.match(re)?.length ?? 0;

/**
 * OpenBao (and Vault < 1.10) service tokens are `s.` + 24 base62 characters (OpenBao 2.7 still
 * issues them). `s.` + 24 letters is also an SQL alias plus a long CamelCase column
 * (`s.OrderTotalAfterDiscountX`), so demand what random base62 nearly always has and identifiers
 * rarely do: both cases, and a digit or at least eight capitals. A random token fails this about
 * once in 2,000 (no digit: 1.5 %; then fewer than 8 of 24 capitals: 3 %).
 */
function looksRandomBase62(match: string): boolean {
  const body = match.slice(2, 26);
  return /[a-z]/.test(body) && /[A-Z]/.test(body) && (/[0-9]/.test(body) || count(body, /[A-Z]/g) >= 8);
}

// GitLab's documented token prefixes (docs "GitLab token overview", table "Token prefixes"):
// personal/project/group/impersonation access tokens glpat-, OAuth application secrets gloas-,
// deploy tokens gldt-, runner authentication tokens glrt- (registration glrtr-), CI/CD job tokens
// glcbt-, trigger tokens glptt-, feed tokens glft-, incoming mail tokens glimt-, agent for
// Kubernetes tokens glagent-, SCIM tokens glsoat-, feature flag client tokens glffct-, workspace
// tokens glwt-. An instance prefix (`SIE-glpat-…`) still matches: `-` is a word boundary.
const GITLAB_PREFIXES = 'pat|oas|dt|rtr|rt|cbt|ptt|ft|imt|agent|soat|ffct|wt';

const SECRET_PATTERNS: readonly SecretPattern[] = [
  // scheme://user:password@ — the look-behind makes only a whole scheme start a match, which keeps
  // the pattern linear (without it a long run of letters before "://" is quadratic).
  { kind: 'url-credentials', markers: ['://'], re: /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i },
  { kind: 'private-key', markers: ['PRIVATE KEY'], re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/ },
  { kind: 'age-secret-key', markers: [''], re: /AGE-SECRET-KEY-1/i }, // any case: bech32 is case-insensitive
  { kind: 'vault-token', markers: ['hvs.', 'hvb.', 'hvr.'], re: /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/ },
  { kind: 'vault-token', markers: ['s.'], re: /\bs\.[A-Za-z0-9]{24}(?![A-Za-z0-9])/, accept: looksRandomBase62 },
  { kind: 'vault-token', markers: ['b.'], re: /\bb\.[A-Za-z0-9_-]{80,}/ }, // OpenBao batch tokens (~160 chars)
  { kind: 'gitlab-token', markers: ['gl'], re: new RegExp(`\\bgl(?:${GITLAB_PREFIXES})-[A-Za-z0-9_-]{20,}`) },
  { kind: 'gitlab-session-cookie', markers: ['_gitlab_session='], re: /_gitlab_session=[0-9a-f]{32}/ },
  { kind: 'github-token', markers: ['_'], re: /\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})/ },
  { kind: 'aws-access-key-id', markers: ['AKIA', 'ASIA'], re: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/ },
  { kind: 'aws-session-token', markers: ['FwoGZXIvYXdzE', 'IQoJb3JpZ2luX2Vj'], re: /\b(?:FwoGZXIvYXdzE|IQoJb3JpZ2luX2Vj)[A-Za-z0-9+/=]{20,}/ },
  { kind: 'google-access-token', markers: ['ya29.'], re: /\bya29\.[A-Za-z0-9_-]{20,}/ },
  { kind: 'webhook-secret', markers: ['whsec_'], re: /\bwhsec_[A-Za-z0-9+/]{24,}/ }, // Standard Webhooks
];

/** Every kind the detector knows (for docs and tests). */
export const SECRET_KINDS: readonly SecretKind[] = [...new Set(SECRET_PATTERNS.map((p) => p.kind))];

/** The global form of each pattern with `accept` (later matches are tried too); used synchronously from lastIndex 0. */
const GLOBAL = new Map(SECRET_PATTERNS.filter((p) => p.accept).map((p) => [p, new RegExp(p.re.source, `${p.re.flags}g`)]));

/** The first match of one pattern in `s`, honouring `accept` (later matches are tried too). */
function matchIndex(p: SecretPattern, s: string): number {
  // plain loops: this runs for every string of every event read (a revoker rebuild: millions)
  let marked = false;
  for (const m of p.markers) {
    if (s.includes(m)) {
      marked = true;
      break;
    }
  }
  if (!marked) return -1;
  const global = GLOBAL.get(p);
  if (!global || !p.accept) return p.re.exec(s)?.index ?? -1;
  global.lastIndex = 0;
  for (let m = global.exec(s); m; m = global.exec(s)) {
    if (p.accept(m[0])) return m.index;
    if (m[0].length === 0) global.lastIndex++;
  }
  return -1;
}

/** Any marker of any pattern, as one regex: a string without one can match only the patterns with no marker. */
const ANY_MARKER = new RegExp([...new Set(SECRET_PATTERNS.flatMap((p) => p.markers).filter((m) => m !== ''))].map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
const UNMARKED = SECRET_PATTERNS.filter((p) => p.markers.includes(''));

/** Whether any pattern matches `s` (the answer for nearly every string: no), without collecting. */
function anySecretLike(s: string): boolean {
  const patterns = ANY_MARKER.test(s) ? SECRET_PATTERNS : UNMARKED;
  for (const p of patterns) if (matchIndex(p, s) >= 0) return true;
  return false;
}

/** Secret-like matches in one string: the first of each kind, earliest first. */
export function scanSecretLike(s: string): { kind: SecretKind; index: number }[] {
  const byKind = new Map<SecretKind, number>();
  for (const p of SECRET_PATTERNS) {
    const i = matchIndex(p, s);
    if (i >= 0 && (byKind.get(p.kind) ?? Infinity) > i) byKind.set(p.kind, i);
  }
  return [...byKind].map(([kind, index]) => ({ kind, index })).sort((a, b) => a.index - b.index);
}

const MAX_KEY_IN_PATH = 64;

/** A path segment for an object key: never a secret-looking key, never an unbounded one. */
function keySegment(key: string): string {
  if (scanSecretLike(key).length > 0) return '[secret-like key]';
  return key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key;
}

/** A value the walk has yet to visit; its path is spelled out only for a finding. */
interface Frame {
  v: unknown;
  parent: Frame | undefined;
  /** Key in the parent object, or index in the parent array. */
  seg: string | number;
}

/** The field path of `f` (`spec.justification`, `items[2].url`), from the walk's base path. */
function pathOf(f: Frame, basePath: string): string {
  const frames: Frame[] = [];
  for (let cur: Frame | undefined = f; cur?.parent; cur = cur.parent) frames.push(cur);
  let path = basePath;
  for (let i = frames.length - 1; i >= 0; i--) {
    const seg = (frames[i] as Frame).seg;
    if (typeof seg === 'number') path = `${path}[${seg}]`;
    else path = path ? `${path}.${keySegment(seg)}` : keySegment(seg);
  }
  return path;
}

/**
 * Walk `value` depth-first in document order (iteratively: no depth limit, cycles visited once),
 * calling `visit` with every finding; stop when it returns false. Object keys are scanned before
 * their values. `sealedCredential` at the top level is exempt (age ciphertext of the credential).
 * Paths are built only for findings: the walk runs on every event a consumer parses.
 */
function walk(value: unknown, basePath: string, visit: (f: SecretLikeFinding) => boolean): void {
  const seen = new WeakSet<object>();
  const root: Frame = { v: value, parent: undefined, seg: '' };
  const stack: Frame[] = [root];
  while (stack.length > 0) {
    const f = stack.pop() as Frame;
    const v = f.v;
    if (typeof v === 'string') {
      if (!anySecretLike(v)) continue;
      const path = pathOf(f, basePath);
      for (const { kind, index } of scanSecretLike(v)) if (!visit({ kind, path: path || '(root)', index })) return;
      continue;
    }
    if (!v || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    const first = stack.length;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], parent: f, seg: i });
    } else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (f === root && k === 'sealedCredential') continue;
        const child: Frame = { v: o[k], parent: f, seg: k };
        if (anySecretLike(k)) {
          const childPath = pathOf(child, basePath);
          for (const { kind, index } of scanSecretLike(k)) if (!visit({ kind, path: childPath, index })) return;
        }
        stack.push(child);
      }
    }
    // children were pushed in document order; the first must be popped first
    for (let i = first, j = stack.length - 1; i < j; i++, j--) {
      const t = stack[i] as Frame;
      stack[i] = stack[j] as Frame;
      stack[j] = t;
    }
  }
}

/** The first secret-like string in `value` (kind, field path, offset), or undefined. */
export function detectSecretLike(value: unknown, path = ''): SecretLikeFinding | undefined {
  let found: SecretLikeFinding | undefined;
  walk(value, path, (f) => {
    found = f;
    return false;
  });
  return found;
}

/** Every secret-like string in `value`, up to `limit` findings (for log and event audits in tests). */
export function detectAllSecretLike(value: unknown, limit = 100): SecretLikeFinding[] {
  const out: SecretLikeFinding[] = [];
  walk(value, '', (f) => {
    out.push(f);
    return out.length < limit;
  });
  return out;
}

/** Field path of the first string in `value` shaped like a secret, or undefined. */
export function findSecretLike(value: unknown, path = ''): string | undefined {
  return detectSecretLike(value, path)?.path;
}
