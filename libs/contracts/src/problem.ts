// The problem shape every parser in this lib returns: what is wrong, where (field path and line/column).

export interface Problem {
  /** Field path, e.g. `spec.ttl` or `targets.orders-db.scopes.write.tier`; `(document)` for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the source text, when known. */
  line?: number;
  /** 1-based column in the source text, when known. */
  column?: number;
}

export type ParseResult<T> = { ok: true; value: T; problems: [] } | { ok: false; problems: Problem[] };

/** `['spec', 'items', 0, 'name']` -> `spec.items[0].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(document)';
}
