// The allow-list grammar for a postgres scope's `grant` text. The text is parsed into a small
// tree and the GRANT statement is rendered from that tree with quoted identifiers, so nothing
// the policy author wrote reaches the server verbatim. Anything outside the grammar (`;`,
// comments, ALL PRIVILEGES, role membership, SUPERUSER, TO/WITH GRANT OPTION) is a problem.
// Tables and sequences must name their schema: an unqualified name would be resolved by the
// server's search path, where pg_catalog comes first (`SELECT ON pg_authid` read password hashes).
//
//   grant   := privs ON object
//   privs   := PRIV { , PRIV }
//   object  := ALL (TABLES|SEQUENCES|FUNCTIONS|ROUTINES|PROCEDURES) IN SCHEMA ident { , ident }
//            | [TABLE] qname { , qname } | SEQUENCE qname { , qname }
//            | SCHEMA ident { , ident } | DATABASE ident
//   qname   := ident . ident           ident := [A-Za-z_][A-Za-z0-9_$]* | "quoted, no double quote"
import pg from 'pg';

export type ObjectKind = 'tables-in-schema' | 'sequences-in-schema' | 'functions-in-schema' | 'routines-in-schema' | 'procedures-in-schema' | 'table' | 'sequence' | 'schema' | 'database';

export interface QualifiedName {
  /** Always set for tables and sequences (the grammar requires it); unset for schema/database names. */
  schema?: string;
  name: string;
}

export interface ParsedGrant {
  privileges: string[];
  kind: ObjectKind;
  names: QualifiedName[];
}

export type GrantParse = { ok: true; grant: ParsedGrant } | { ok: false; error: string };

export const MAX_GRANT_LENGTH = 1000;
const MAX_NAMES = 50;

const TABLE_PRIVS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];
const ALLOWED: Record<ObjectKind, string[]> = {
  'tables-in-schema': TABLE_PRIVS,
  table: TABLE_PRIVS,
  'sequences-in-schema': ['USAGE', 'SELECT', 'UPDATE'],
  sequence: ['USAGE', 'SELECT', 'UPDATE'],
  'functions-in-schema': ['EXECUTE'],
  'routines-in-schema': ['EXECUTE'],
  'procedures-in-schema': ['EXECUTE'],
  schema: ['USAGE', 'CREATE'],
  database: ['CONNECT', 'TEMPORARY', 'TEMP'],
};
const ALL_PRIVS = new Set(Object.values(ALLOWED).flat());
const IN_SCHEMA_KINDS: Record<string, ObjectKind> = {
  TABLES: 'tables-in-schema',
  SEQUENCES: 'sequences-in-schema',
  FUNCTIONS: 'functions-in-schema',
  ROUTINES: 'routines-in-schema',
  PROCEDURES: 'procedures-in-schema',
};

type Token = { t: 'word'; v: string } | { t: 'quoted'; v: string } | { t: ',' } | { t: '.' };

function describeChar(ch: string): string {
  return /^[\x21-\x7e]$/.test(ch) ? `"${ch}"` : `U+${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}

function tokenize(text: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
    } else if (ch === ',' || ch === '.') {
      out.push({ t: ch });
      i++;
    } else if (ch === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return `unterminated quoted identifier at ${i}`;
      const v = text.slice(i + 1, end);
      if (v.length === 0 || v.length > 63 || [...v].some((c) => c < ' ' || c === '\x7f')) return `quoted identifier at ${i} must be 1-63 printable characters`;
      if (text[end + 1] === '"') return `quoted identifier at ${i} contains a double quote, which is not allowed`;
      out.push({ t: 'quoted', v });
      i = end + 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(text.slice(i, i + 200)) as RegExpExecArray;
      if (m[0].length > 63) return `identifier at ${i} is longer than 63 characters`;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    } else {
      const what = ch === ';' ? 'a ";" (one statement only)' : ch === '-' || ch === '/' ? `${describeChar(ch)} (comments are not allowed)` : describeChar(ch);
      return `unexpected character ${what} at ${i}`;
    }
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  peekWord(): string | undefined {
    const tok = this.tokens[this.i];
    return tok?.t === 'word' ? tok.v.toUpperCase() : undefined;
  }
  next(): Token | undefined {
    return this.tokens[this.i++];
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  comma(): boolean {
    if (this.tokens[this.i]?.t === ',') {
      this.i++;
      return true;
    }
    return false;
  }
  expectWord(word: string): string | undefined {
    if (this.peekWord() === word) {
      this.i++;
      return undefined;
    }
    return `expected ${word}${this.here()}`;
  }
  here(): string {
    const tok = this.tokens[this.i];
    if (!tok) return ' at the end';
    return tok.t === 'word' ? ` before "${tok.v.slice(0, 20)}"` : tok.t === 'quoted' ? ' before a quoted identifier' : ` before "${tok.t}"`;
  }
  ident(): { v: string } | string {
    const tok = this.next();
    if (tok?.t === 'word') return { v: tok.v.toLowerCase() };
    if (tok?.t === 'quoted') return { v: tok.v };
    this.i--;
    return `expected a name${this.here()}`;
  }
  qname(): QualifiedName | string {
    const first = this.ident();
    if (typeof first === 'string') return first;
    if (this.tokens[this.i]?.t === '.') {
      this.i++;
      const second = this.ident();
      if (typeof second === 'string') return second;
      return { schema: first.v, name: second.v };
    }
    return { name: first.v };
  }
}

/** Schemas PostgreSQL keeps its own catalogues in (pg_catalog, pg_toast, pg_temp_N, information_schema). */
export function isSystemSchema(name: string): boolean {
  return name === 'information_schema' || name.startsWith('pg_');
}

/** Parse one grant text; never throws. */
export function parseGrant(text: unknown): GrantParse {
  if (typeof text !== 'string') return { ok: false, error: 'must be a string such as "INSERT, UPDATE ON ALL TABLES IN SCHEMA public"' };
  if (text.length > MAX_GRANT_LENGTH) return { ok: false, error: `is longer than ${MAX_GRANT_LENGTH} characters` };
  const tokens = tokenize(text);
  if (typeof tokens === 'string') return { ok: false, error: tokens };
  const p = new Parser(tokens);
  const privileges: string[] = [];
  do {
    const w = p.peekWord();
    if (w === 'ALL') return { ok: false, error: 'ALL [PRIVILEGES] is not allowed; name the privileges (e.g. SELECT, INSERT)' };
    if (!w || !ALL_PRIVS.has(w)) {
      return { ok: false, error: w === undefined ? `expected a privilege${p.here()}` : `"${w.slice(0, 20)}" is not a grantable privilege here (allowed: ${[...ALL_PRIVS].join(', ')})` };
    }
    p.next();
    if (!privileges.includes(w)) privileges.push(w);
  } while (p.comma());
  const on = p.expectWord('ON');
  if (on) return { ok: false, error: on };

  let kind: ObjectKind;
  const names: QualifiedName[] = [];
  const w = p.peekWord();
  if (w === 'ALL') {
    p.next();
    const what = p.peekWord();
    const k = what ? IN_SCHEMA_KINDS[what] : undefined;
    if (!k) return { ok: false, error: `expected TABLES, SEQUENCES, FUNCTIONS, ROUTINES or PROCEDURES after ALL${p.here()}` };
    p.next();
    const err = p.expectWord('IN') ?? p.expectWord('SCHEMA');
    if (err) return { ok: false, error: err };
    kind = k;
    do {
      const id = p.ident();
      if (typeof id === 'string') return { ok: false, error: id };
      names.push({ name: id.v });
    } while (p.comma());
  } else if (w === 'SCHEMA' || w === 'DATABASE') {
    p.next();
    kind = w === 'SCHEMA' ? 'schema' : 'database';
    do {
      const id = p.ident();
      if (typeof id === 'string') return { ok: false, error: id };
      names.push({ name: id.v });
    } while (kind === 'schema' && p.comma());
  } else {
    kind = 'table';
    if (w === 'TABLE' || w === 'SEQUENCE') {
      p.next();
      if (w === 'SEQUENCE') kind = 'sequence';
    } else if (w !== undefined && !/^[A-Z_][A-Z0-9_$]*$/.test(w)) {
      return { ok: false, error: `unexpected "${w.slice(0, 20)}" after ON` };
    }
    do {
      const q = p.qname();
      if (typeof q === 'string') return { ok: false, error: q };
      names.push(q);
    } while (p.comma());
  }
  if (!p.done()) {
    const rest = p.peekWord();
    const why = rest === 'TO' || rest === 'WITH' || rest === 'GRANTED' ? ' (jit names the grantee itself; no TO, WITH GRANT OPTION or GRANTED BY)' : '';
    return { ok: false, error: `unexpected text${p.here()}${why}` };
  }
  if (names.length > MAX_NAMES) return { ok: false, error: `names more than ${MAX_NAMES} objects` };
  for (const n of names) {
    const schema = kind === 'schema' || kind.endsWith('-in-schema') ? n.name : n.schema;
    if ((kind === 'table' || kind === 'sequence') && n.schema === undefined) {
      return { ok: false, error: `"${n.name}" names no schema; write it as <schema>.${n.name} (unqualified names resolve through pg_catalog first)` };
    }
    if (schema !== undefined && isSystemSchema(schema)) return { ok: false, error: `grants on the system schema "${schema}" are not allowed` };
  }
  const bad = privileges.filter((x) => !ALLOWED[kind].includes(x));
  if (bad.length) return { ok: false, error: `${bad.join(', ')} cannot be granted on ${kind.replace(/-/g, ' ')} (allowed: ${ALLOWED[kind].join(', ')})` };
  return { ok: true, grant: { privileges, kind, names } };
}

const q = (s: string): string => pg.escapeIdentifier(s);
const qn = (n: QualifiedName): string => (n.schema === undefined ? q(n.name) : `${q(n.schema)}.${q(n.name)}`);

/** The GRANT statement for `role`, built only from the parsed tree. */
export function renderGrant(g: ParsedGrant, role: string): string {
  const list = g.names.map(qn).join(', ');
  const object =
    g.kind === 'table'
      ? `TABLE ${list}`
      : g.kind === 'sequence'
        ? `SEQUENCE ${list}`
        : g.kind === 'schema'
          ? `SCHEMA ${list}`
          : g.kind === 'database'
            ? `DATABASE ${list}`
            : `ALL ${g.kind.split('-')[0]?.toUpperCase()} IN SCHEMA ${list}`;
  return `GRANT ${g.privileges.join(', ')} ON ${object} TO ${q(role)}`;
}

/** Schemas the grant's objects live in, so the role can also be given USAGE on them. */
export function schemasOf(g: ParsedGrant): string[] {
  if (g.kind === 'schema' || g.kind === 'database') return [];
  const out = new Set<string>();
  for (const n of g.names) {
    const s = g.kind.endsWith('-in-schema') ? n.name : n.schema;
    if (s !== undefined) out.add(s);
  }
  return [...out];
}
