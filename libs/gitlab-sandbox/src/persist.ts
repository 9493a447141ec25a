// Sandbox persistence: the whole sandbox state (users and their tokens, groups, projects, the git
// object store and branches, merge requests with approvals, rules and notes, issues, statuses,
// labels, hooks and their secrets, id/iid counters) as one JSON file, written atomically and
// debounced, and read back strictly: a file this module cannot fully trust is an error naming
// the file, never a silent re-seed that would lose the state.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@jit/observability';
import { SandboxStateCorrupt, SandboxStateTooLarge, SandboxStateUnwritable, SandboxStateVersion } from './errors';
import { STATE_FORMAT, STATE_FORMAT_VERSION, countersOf, describeIssues, fileSchema, integrityProblem } from './persist-format';
import { validateSeed } from './seed';
import { SandboxState, type StateOptions } from './state';

/** A demo sandbox's state is kilobytes; anything near this is not a file the sandbox wrote. */
export const DEFAULT_STATE_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_DEBOUNCE_MS = 200;
export const DEFAULT_MAX_WAIT_MS = 1000;

/** Maps and Sets become arrays (Dates already serialise themselves as ISO strings). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()];
  if (value instanceof Set) return [...value];
  return value;
}

/** The whole sandbox state as the JSON text of a version-1 state file. */
export function snapshotState(state: SandboxState): string {
  const blobs = state.store['blobs'];
  const commits = state.store['commits'];
  return JSON.stringify(
    {
      format: STATE_FORMAT,
      version: STATE_FORMAT_VERSION,
      savedAt: state.now().toISOString(),
      counters: countersOf(state),
      objects: { blobs: [...blobs].map(([blobId, content]) => [blobId, content.toString('base64')]), commits: [...commits.values()] },
      users: state.users,
      groups: state.groups,
      projects: state.projects,
      ci: state.ci,
    },
    replacer,
  );
}

/**
 * Rebuild a SandboxState from a state file's text. Throws JIT_ERR_SANDBOX_STATE_CORRUPT or
 * JIT_ERR_SANDBOX_STATE_VERSION naming `file`; never returns a partial state.
 */
export function restoreState(textIn: string, opts: StateOptions, file = '(state)'): SandboxState {
  let raw: unknown;
  try {
    raw = JSON.parse(textIn);
  } catch {
    throw SandboxStateCorrupt(file, 'it is not valid JSON (truncated or edited?)');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || (raw as { format?: unknown }).format !== STATE_FORMAT)
    throw SandboxStateCorrupt(file, `it is not a sandbox state file (no "format": "${STATE_FORMAT}")`);
  const version = (raw as { version?: unknown }).version;
  if (version !== STATE_FORMAT_VERSION) {
    if (typeof version === 'number' && Number.isSafeInteger(version)) throw SandboxStateVersion(file, String(version));
    throw SandboxStateCorrupt(file, '"version" is missing or not an integer');
  }

  const state = new SandboxState(validateSeed({}), opts);
  const counters = countersOf(state);
  const parsed = fileSchema(Object.keys(counters)).safeParse(raw);
  if (!parsed.success) throw SandboxStateCorrupt(file, describeIssues(parsed.error));
  const doc = parsed.data;

  // The object store re-hashes everything it is given: a blob or commit whose id does not match
  // its content is corruption, caught here rather than as a wrong diff later.
  for (const [blobId, b64] of doc.objects.blobs) if (state.store.putBlob(Buffer.from(b64, 'base64')) !== blobId) throw SandboxStateCorrupt(file, `blob ${blobId} does not match its content`);
  const commitIds = new Set(doc.objects.commits.map((c) => c.id));
  for (const c of doc.objects.commits) {
    for (const blobId of c.files.values()) if (!state.store.blob(blobId)) throw SandboxStateCorrupt(file, `commit ${c.id} names a missing blob`);
    for (const p of c.parents) if (!commitIds.has(p)) throw SandboxStateCorrupt(file, `commit ${c.id} names a missing parent`);
    const rebuilt = state.store.writeCommit({ files: c.files, parents: c.parents, author: c.author, committer: c.committer, message: c.message });
    if (rebuilt.id !== c.id || rebuilt.tree !== c.tree) throw SandboxStateCorrupt(file, `commit ${c.id} does not match its content`);
  }
  const problem = integrityProblem(doc, commitIds);
  if (problem) throw SandboxStateCorrupt(file, problem);

  state.users.push(...doc.users);
  state.groups.push(...doc.groups);
  state.projects.push(...doc.projects);
  Object.assign(counters, doc.counters);
  state.ci = doc.ci;
  return state;
}

// ------------------------------------------------------------------ the file

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The state file's text, or undefined when there is none. Refuses oversized and non-UTF-8 files. */
export async function readStateFile(file: string, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw SandboxStateCorrupt(file, `it cannot be opened (${errCode(err)})`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw SandboxStateCorrupt(file, 'it is not a regular file');
    if (st.size > maxBytes) throw SandboxStateTooLarge(file, st.size, maxBytes);
    // Read at most one byte past the limit: a file that grew after stat() is refused too.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    if (length > maxBytes) throw SandboxStateTooLarge(file, length, maxBytes);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length));
    } catch {
      throw SandboxStateCorrupt(file, 'it is not UTF-8 text');
    }
  } finally {
    await fh.close();
  }
}

/** Write `content` to `file` atomically: temp file (mode 0600) + fsync + rename + directory fsync. */
export async function writeStateFile(file: string, content: string, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<void> {
  const bytes = Buffer.byteLength(content, 'utf8');
  // Never write what the next start would refuse to read.
  if (bytes > maxBytes) throw SandboxStateTooLarge(file, bytes, maxBytes);
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw SandboxStateUnwritable(file, errCode(err), { cause: err });
  }
  // The rename is durable only once the directory entry is: fsync the directory (best effort,
  // some filesystems refuse fsync on a directory).
  const d = await open(dir, 'r').catch(() => undefined);
  if (d)
    await d
      .sync()
      .catch(() => undefined)
      .finally(() => d.close());
}

/** Load the sandbox state from `file`, or undefined when the file does not exist. */
export async function loadStateFile(file: string, opts: StateOptions, maxBytes = DEFAULT_STATE_MAX_BYTES): Promise<SandboxState | undefined> {
  const content = await readStateFile(file, maxBytes);
  return content === undefined ? undefined : restoreState(content, opts, file);
}

// ------------------------------------------------------------------ debounced saving

export interface StateSaverOptions {
  file: string;
  /** The state to write, serialised when the write happens (so it is always the latest). */
  serialize: () => string;
  /** Write this long after the last change (default 200 ms)… */
  debounceMs?: number;
  /** …but never later than this after the first unsaved change, however busy (default 1 s). */
  maxWaitMs?: number;
  maxBytes?: number;
  logger?: Logger;
}

export interface StateSaver {
  readonly file: string;
  /** Completed writes so far. */
  readonly writes: number;
  /** Whether a change has not reached the file yet. */
  readonly dirty: boolean;
  /** Note a change; the file is written after the debounce. */
  changed(): void;
  /** Write now if anything changed (waits for a write in progress first). */
  flush(): Promise<void>;
  /** Final flush; later changes are ignored. */
  close(): Promise<void>;
}

export function createStateSaver(options: StateSaverOptions): StateSaver {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const maxWaitMs = Math.max(options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS, debounceMs);
  let dirty = false;
  let closed = false;
  let writes = 0;
  let debounce: NodeJS.Timeout | undefined;
  let maxWait: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const clearTimers = () => {
    clearTimeout(debounce);
    clearTimeout(maxWait);
    debounce = maxWait = undefined;
  };
  const writeIfDirty = async () => {
    if (!dirty) return;
    dirty = false;
    try {
      await writeStateFile(options.file, options.serialize(), options.maxBytes);
      writes++;
    } catch (err) {
      dirty = true; // the next change, flush or close tries again
      throw err;
    }
  };
  const flush = (): Promise<void> => {
    clearTimers();
    const next = chain.then(writeIfDirty);
    chain = next.catch(() => undefined);
    return next;
  };
  const fire = () => {
    flush().catch((err: Error & { code?: string }) => options.logger?.error({ code: err.code, err: err.message }, 'sandbox state not saved'));
  };

  return {
    file: options.file,
    get writes() {
      return writes;
    },
    get dirty() {
      return dirty;
    },
    changed() {
      if (closed) return;
      dirty = true;
      clearTimeout(debounce);
      debounce = setTimeout(fire, debounceMs);
      debounce.unref();
      if (!maxWait) {
        maxWait = setTimeout(fire, maxWaitMs);
        maxWait.unref();
      }
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}
