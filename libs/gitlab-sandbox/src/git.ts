// An in-memory git object store: blobs, trees and commits hashed exactly as git hashes
// them (sha1 over "<type> <size>\0<content>"), so ids are real, content-derived and stable.
import { createHash } from 'node:crypto';

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
}

export interface Commit {
  id: string;
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  message: string;
  /** path -> blob id: the whole file tree at this commit, flattened. */
  files: Map<string, string>;
}

function hashObject(type: string, content: Buffer): string {
  const header = Buffer.from(`${type} ${content.length}\0`);
  return createHash('sha1').update(header).update(content).digest('hex');
}

function formatSignature(s: Signature): string {
  return `${s.name} <${s.email}> ${s.time} +0000`;
}

export class ObjectStore {
  private readonly blobs = new Map<string, Buffer>();
  private readonly commits = new Map<string, Commit>();
  /** Commits are immutable, so merge bases can be cached forever. */
  private readonly bases = new Map<string, string | undefined>();

  putBlob(content: Buffer | string): string {
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const id = hashObject('blob', buf);
    this.blobs.set(id, buf);
    return id;
  }

  blob(id: string): Buffer | undefined {
    return this.blobs.get(id);
  }

  commit(id: string): Commit | undefined {
    return this.commits.get(id);
  }

  /** Resolve a full or abbreviated (>= 7 hex chars) commit id. */
  findCommit(ref: string): Commit | undefined {
    const exact = this.commits.get(ref);
    if (exact) return exact;
    if (!/^[0-9a-f]{7,39}$/.test(ref)) return undefined;
    const matches = [...this.commits.keys()].filter((k) => k.startsWith(ref));
    return matches.length === 1 ? this.commits.get(matches[0] as string) : undefined;
  }

  /** Hash the nested trees for a flattened file map; returns the id of the tree at `prefix` ('' = root, else 'dir/'). */
  writeTree(files: Map<string, string>, prefix = ''): string {
    const entries = new Map<string, { mode: string; id: string }>();
    const subdirs = new Map<string, Map<string, string>>();
    for (const [path, id] of files) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash === -1) entries.set(rest, { mode: '100644', id });
      else {
        const dir = rest.slice(0, slash);
        if (!subdirs.has(dir)) subdirs.set(dir, new Map());
        (subdirs.get(dir) as Map<string, string>).set(path, id);
      }
    }
    for (const [dir, sub] of subdirs) entries.set(dir, { mode: '40000', id: this.writeTree(sub, `${prefix}${dir}/`) });
    // git sorts tree entries by the bytes of their name, directories as if it ended in '/'.
    const sortKey = (name: string, mode: string) => Buffer.from(mode === '40000' ? `${name}/` : name, 'utf8');
    const sorted = [...entries.entries()].sort(([a, ea], [b, eb]) => Buffer.compare(sortKey(a, ea.mode), sortKey(b, eb.mode)));
    const parts: Buffer[] = [];
    for (const [name, e] of sorted) {
      parts.push(Buffer.from(`${e.mode} ${name}\0`), Buffer.from(e.id, 'hex'));
    }
    return hashObject('tree', Buffer.concat(parts));
  }

  writeCommit(input: { files: Map<string, string>; parents: string[]; author: Signature; committer?: Signature; message: string }): Commit {
    const tree = this.writeTree(input.files);
    const committer = input.committer ?? input.author;
    const lines = [`tree ${tree}`, ...input.parents.map((p) => `parent ${p}`)];
    lines.push(`author ${formatSignature(input.author)}`, `committer ${formatSignature(committer)}`, '', input.message);
    const id = hashObject('commit', Buffer.from(lines.join('\n'), 'utf8'));
    const commit: Commit = {
      id,
      tree,
      parents: [...input.parents],
      author: input.author,
      committer,
      message: input.message,
      files: new Map(input.files),
    };
    this.commits.set(id, commit);
    return commit;
  }

  /** All ancestors of a commit (itself included), nearest first (breadth-first). */
  ancestors(id: string): string[] {
    const seen = new Set<string>();
    const queue = [id];
    const out: string[] = [];
    for (let i = 0; i < queue.length; i++) {
      const cur = queue[i] as string;
      if (seen.has(cur)) continue;
      seen.add(cur);
      out.push(cur);
      const c = this.commits.get(cur);
      if (c) queue.push(...c.parents);
    }
    return out;
  }

  isAncestor(ancestor: string, of: string): boolean {
    return this.ancestors(of).includes(ancestor);
  }

  /** The best common ancestor: the first of a's ancestors (nearest first) that b also reaches. */
  mergeBase(a: string, b: string): string | undefined {
    const key = `${a}:${b}`;
    if (this.bases.has(key)) return this.bases.get(key);
    const reachB = new Set(this.ancestors(b));
    const base = this.ancestors(a).find((c) => reachB.has(c));
    this.bases.set(key, base);
    return base;
  }

  /** Commits reachable from `head` but not from `base`, newest first. */
  commitsBetween(base: string | undefined, head: string): Commit[] {
    const exclude = new Set(base ? this.ancestors(base) : []);
    return this.ancestors(head)
      .filter((c) => !exclude.has(c))
      .map((c) => this.commits.get(c) as Commit);
  }
}
