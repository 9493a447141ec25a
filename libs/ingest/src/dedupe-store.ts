// Delivery ids already published, kept for a bounded window (time and count) so a GitLab retry
// is acknowledged instead of published twice — across restarts too. Durable form: an append-only
// file of `<epoch-ms> <id>` lines under the data dir, compacted (rewritten with the live ids, then
// renamed over) on open and whenever the dead lines outnumber the live ones.
import { writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DedupeStoreFailed, InvalidConfig } from './errors';

export interface DedupeStoreOptions {
  /** Directory for the log file; omit for a memory-only store (dedupe does not survive a restart). */
  dir?: string;
  /** Default `ingest-dedupe.log`. */
  fileName?: string;
  /** How long an id is remembered. Default 24 h (GitLab retries for far less). */
  windowMs?: number;
  /** At most this many ids are remembered (oldest forgotten first). Default 100 000. */
  maxIds?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Delivery ids are printable ASCII without spaces (UUIDs, `msg_…`, `sha256:…`). */
export const DELIVERY_ID_RE = /^[\x21-\x7e]{1,200}$/;

export class DedupeStore {
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxIds: number;
  private readonly now: () => number;
  private readonly path: string | undefined;
  private file: FileHandle | undefined;
  private linesInFile = 0;
  private pending: string[] = [];
  private scheduled = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** Lines skipped at open (a torn last line after a crash, foreign junk). */
  skippedLines = 0;

  private constructor(options: DedupeStoreOptions) {
    this.windowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.maxIds = options.maxIds ?? 100_000;
    this.now = options.now ?? Date.now;
    this.path = options.dir ? join(options.dir, options.fileName ?? 'ingest-dedupe.log') : undefined;
    if (!(this.windowMs > 0) || !Number.isInteger(this.maxIds) || this.maxIds < 1) {
      throw InvalidConfig('dedupe windowMs must be > 0 and maxIds a positive integer');
    }
  }

  /** Loads the remembered ids from `dir` (if given) and compacts the file. */
  static async open(options: DedupeStoreOptions = {}): Promise<DedupeStore> {
    const store = new DedupeStore(options);
    if (options.dir) {
      try {
        await mkdir(options.dir, { recursive: true });
        await store.load();
        await store.rewrite();
      } catch (cause) {
        throw DedupeStoreFailed(`cannot open ${store.path}`, { cause });
      }
    }
    return store;
  }

  get durable(): boolean {
    return this.path !== undefined;
  }

  get size(): number {
    this.evict();
    return this.seen.size;
  }

  has(id: string): boolean {
    const at = this.seen.get(id);
    return at !== undefined && at > this.now() - this.windowMs;
  }

  /** Remembers `id`; resolves once the line is written (not fsynced: a process crash keeps it, a power cut may not). */
  add(id: string): Promise<void> {
    if (!DELIVERY_ID_RE.test(id)) return Promise.reject(DedupeStoreFailed('refusing an id with spaces or control characters'));
    const at = this.now();
    this.seen.delete(id);
    this.seen.set(id, at);
    this.evict();
    if (!this.path || this.closed) return Promise.resolve();
    this.pending.push(`${at} ${id}\n`);
    if (!this.scheduled) {
      this.scheduled = true;
      this.queue = this.queue.catch(() => undefined).then(() => this.writePending());
    }
    return this.queue;
  }

  /** Waits for pending writes and closes the file. Further adds stay in memory only. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }

  private evict(): void {
    const oldest = this.now() - this.windowMs;
    for (const [id, at] of this.seen) {
      if (at > oldest && this.seen.size <= this.maxIds) break;
      this.seen.delete(id);
    }
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path!, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const space = line.indexOf(' ');
      const at = Number(line.slice(0, space));
      const id = line.slice(space + 1);
      if (space <= 0 || !Number.isSafeInteger(at) || !DELIVERY_ID_RE.test(id)) {
        this.skippedLines++;
        continue;
      }
      this.seen.delete(id);
      this.seen.set(id, at);
    }
    this.evict();
  }

  /** Writes the live ids to a temp file and renames it over the log (atomic on POSIX). */
  private async rewrite(): Promise<void> {
    const path = this.path!;
    const tmp = `${path}.tmp`;
    await this.file?.close();
    this.file = undefined;
    this.evict();
    const out = await open(tmp, 'w');
    try {
      let body = '';
      for (const [id, at] of this.seen) body += `${at} ${id}\n`;
      await out.writeFile(body);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, path);
    this.linesInFile = this.seen.size;
    this.file = await open(path, 'a');
  }

  private async writePending(): Promise<void> {
    this.scheduled = false;
    const lines = this.pending;
    this.pending = [];
    if (!this.file) throw DedupeStoreFailed('store is closed');
    // Written synchronously: a few hundred bytes into the page cache cost less than the thread-pool
    // round trip of an asynchronous write (one per batch of accepted deliveries). Not fsynced, as before.
    const bytes = Buffer.from(lines.join(''), 'utf8');
    for (let off = 0; off < bytes.length;) off += writeSync(this.file.fd, bytes, off);
    this.linesInFile += lines.length;
    if (this.linesInFile > 2 * this.seen.size + 1000) await this.rewrite();
  }
}
