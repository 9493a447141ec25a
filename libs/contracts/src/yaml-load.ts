// Loads untrusted YAML (request and policy files) with limits against hostile input: size, alias
// expansion, nesting depth, duplicate keys, prototype keys, non-JSON types. Parsing is the `yaml`
// package's; this module only walks its AST to enforce the limits and to locate every problem.
import { Lexer, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { formatPath, type Problem } from './problem';

export interface YamlLimits {
  /** Max UTF-8 bytes of the text. */
  maxBytes: number;
  /** Max alias expansions (yaml's `maxAliasCount`; guards against "billion laughs"). */
  maxAliasCount: number;
  /** Max nesting depth of maps and sequences. */
  maxDepth: number;
  /** Max number of nodes in the document. */
  maxNodes: number;
}

export const REQUEST_YAML_LIMITS: YamlLimits = { maxBytes: 64 * 1024, maxAliasCount: 16, maxDepth: 16, maxNodes: 5_000 };
export const POLICY_YAML_LIMITS: YamlLimits = {
  maxBytes: 1024 * 1024,
  maxAliasCount: 100,
  maxDepth: 32,
  maxNodes: 200_000,
};

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const JSON_TAGS = new Set([
  'tag:yaml.org,2002:str',
  'tag:yaml.org,2002:int',
  'tag:yaml.org,2002:float',
  'tag:yaml.org,2002:bool',
  'tag:yaml.org,2002:null',
  'tag:yaml.org,2002:map',
  'tag:yaml.org,2002:seq',
]);
const MAX_PROBLEMS = 100;

/** A loaded document: its plain-JSON value and a way to point at any field's line/column. */
export interface LoadedYaml {
  value: unknown;
  /** Line/column of the deepest existing node on `path` (the field, else its closest parent). */
  locate(path: readonly PropertyKey[]): { line: number; column: number } | undefined;
  /** Line/column of the key that names `path` (falls back to locate). */
  locateKey(path: readonly PropertyKey[]): { line: number; column: number } | undefined;
}

export type LoadYamlResult = { ok: true; loaded: LoadedYaml; problems: [] } | { ok: false; problems: Problem[] };

/** Parse `text` as one YAML document of plain JSON types within `limits`. Never throws. */
export function loadYaml(text: string, limits: YamlLimits): LoadYamlResult {
  if (typeof text !== 'string') return fail([{ path: '(document)', message: 'expected YAML text (a string)' }]);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes) {
    return fail([{ path: '(document)', message: `file is ${bytes} bytes; the limit is ${limits.maxBytes} bytes — split or shorten it` }]);
  }
  // Flow collections (`[[[[…`) are nested by the composer recursively: refuse deep ones before composing.
  if (flowDepthExceeds(text, limits.maxDepth)) {
    return fail([{ path: '(document)', message: `nested deeper than ${limits.maxDepth} levels` }]);
  }
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
      schema: 'core',
      version: '1.2',
      merge: false,
    });
  } catch (err) {
    return fail([{ path: '(document)', message: `not parseable as YAML: ${(err as Error).message}` }]);
  }
  const pos = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col };
  };

  const problems: Problem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    if (e.code === 'RESOURCE_EXHAUSTION') {
      return fail([{ path: '(document)', message: `nested deeper than ${limits.maxDepth} levels`, ...pos(e.pos[0]) }]);
    }
    problems.push({ path: '(document)', message: yamlMessage(e.code, e.message), ...pos(e.pos[0]) });
  }
  if (problems.length > 0) return fail(problems);

  // Walk the AST: enforce depth/node/key/type limits and remember where each path lives.
  const where = new Map<string, number>();
  const keyWhere = new Map<string, number>();
  let nodes = 0;
  let aborted = false;
  const walk = (node: unknown, path: PropertyKey[], depth: number): void => {
    if (aborted || problems.length >= MAX_PROBLEMS) return;
    if (++nodes > limits.maxNodes) {
      problems.push({ path: formatPath(path), message: `more than ${limits.maxNodes} YAML nodes`, ...pos(rangeStart(node)) });
      aborted = true;
      return;
    }
    const start = rangeStart(node);
    // A scalar is located at its value; a map or list at its key (set by the parent), else its first item.
    if (start !== undefined && (isScalar(node) || !where.has(pathKey(path)))) where.set(pathKey(path), start);
    const n = node as Node | null;
    if (n && typeof n === 'object' && 'tag' in n && n.tag && !JSON_TAGS.has(n.tag)) {
      problems.push({
        path: formatPath(path),
        message: `tag ${n.tag} is not allowed; use plain strings, numbers, booleans, maps and lists`,
        ...pos(start),
      });
      return;
    }
    if (n === null || isAlias(n)) return;
    if (isScalar(n)) {
      const v = n.value;
      if (typeof v === 'number' && !Number.isFinite(v)) {
        problems.push({ path: formatPath(path), message: 'must be a finite number', ...pos(start) });
      } else if (!(v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
        problems.push({ path: formatPath(path), message: `unsupported value type ${typeof v}`, ...pos(start) });
      }
      return;
    }
    if (isMap(n) || isSeq(n)) {
      if (depth >= limits.maxDepth) {
        problems.push({
          path: formatPath(path),
          message: `nested deeper than ${limits.maxDepth} levels`,
          ...pos(start),
        });
        aborted = true;
        return;
      }
      if (isSeq(n)) {
        n.items.forEach((item, i) => walk(item, [...path, i], depth + 1));
        return;
      }
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const kStart = rangeStart(k);
        if (!isScalar(k) || typeof k.value !== 'string') {
          const shown = isScalar(k) ? String(k.value).slice(0, 64) : '(complex key)';
          problems.push({
            path: formatPath([...path, shown]),
            message: 'map keys must be plain strings (quote it)',
            ...pos(kStart),
          });
          continue;
        }
        const key = k.value;
        if (FORBIDDEN_KEYS.has(key)) {
          problems.push({ path: formatPath([...path, key]), message: `key ${key} is not allowed`, ...pos(kStart) });
          continue;
        }
        if (kStart !== undefined) {
          where.set(pathKey([...path, key]), kStart);
          keyWhere.set(pathKey([...path, key]), kStart);
        }
        if (pair.value === null) continue; // `key:` with no value -> null, located at the key
        walk(pair.value, [...path, key], depth + 1);
      }
      return;
    }
    problems.push({ path: formatPath(path), message: 'unsupported YAML node', ...pos(start) });
  };
  walk(doc.contents, [], 0);
  if (problems.length > 0) return fail(problems);

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    const msg = (err as Error).message;
    return fail([
      {
        path: '(document)',
        message: /alias/i.test(msg) ? `too many alias expansions (limit ${limits.maxAliasCount}); write the values out` : `cannot convert YAML: ${msg}`,
      },
    ]);
  }
  const locate = (path: readonly PropertyKey[]) => {
    for (let i = path.length; i >= 0; i--) {
      const off = where.get(pathKey(path.slice(0, i)));
      if (off !== undefined) return { line: lineCounter.linePos(off).line, column: lineCounter.linePos(off).col };
    }
    return undefined;
  };
  const locateKey = (path: readonly PropertyKey[]) => {
    const off = keyWhere.get(pathKey(path));
    if (off === undefined) return locate(path);
    const lp = lineCounter.linePos(off);
    return { line: lp.line, column: lp.col };
  };
  return { ok: true, loaded: { value, locate, locateKey }, problems: [] };
}

function flowDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > maxDepth) return true;
    } else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
  }
  return false;
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as { range?: [number, number, number] } | null)?.range;
  return r ? r[0] : undefined;
}

function pathKey(path: readonly PropertyKey[]): string {
  return JSON.stringify(path.map((p) => (typeof p === 'number' ? p : String(p))));
}

function yamlMessage(code: string, message: string): string {
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear once in a map';
  if (code === 'TAG_RESOLVE_FAILED') return `${message}; custom tags are not allowed`;
  return message;
}

function fail(problems: Problem[]): { ok: false; problems: Problem[] } {
  return { ok: false, problems: problems.slice(0, MAX_PROBLEMS) };
}
