// The embedded bus's on-disk storage: a directory with one folder per topic (meta.json and one
// append-only file per partition, see file-partition-log), the consumer offsets saved atomically,
// and a pid lock file so only one process opens a directory (see dir-files).
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@jit/observability';
import { releaseLock, syncDir, takeLock, writeAtomic } from './dir-files';
import { LogCorrupt, StorageFailed } from './errors';
import { FilePartitionLog, type FileStoreStats, type FsyncPolicy } from './file-partition-log';
import type { LogStore, OffsetsDoc, TopicLog } from './log-store';

interface TopicMeta {
  partitions: number;
  retentionMs: number;
}

class FileTopic implements TopicLog {
  constructor(
    readonly partitions: FilePartitionLog[],
    readonly retentionMs: number,
  ) {}
}

export class FileLogStore implements LogStore {
  private readonly topics = new Map<string, FileTopic>();
  readonly stats: FileStoreStats = { fsyncs: 0, appends: 0, lastWriteOk: true };
  private broken = false;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly fsync: FsyncPolicy,
    private readonly logger: Logger,
  ) {}

  static async open(dir: string, fsync: FsyncPolicy, logger: Logger): Promise<FileLogStore> {
    const root = resolve(dir);
    await mkdir(join(root, 'topics'), { recursive: true, mode: 0o700 });
    await takeLock(root, logger);
    const store = new FileLogStore(root, fsync, logger);
    try {
      await store.loadTopics();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private async loadTopics(): Promise<void> {
    for (const name of await readdir(join(this.dir, 'topics'))) {
      const metaPath = join(this.dir, 'topics', name, 'meta.json');
      let text: string;
      try {
        text = await readFile(metaPath, 'utf8');
      } catch (err) {
        // A crash between creating the directory and writing meta.json: the topic never existed.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      let meta: TopicMeta;
      try {
        meta = JSON.parse(text) as TopicMeta;
      } catch (err) {
        throw LogCorrupt(`${metaPath} is not JSON`, { cause: err });
      }
      if (!Number.isInteger(meta.partitions) || meta.partitions < 1 || !Number.isInteger(meta.retentionMs)) {
        throw LogCorrupt(`${metaPath} has no valid partitions/retentionMs`);
      }
      await this.openTopic(name, meta);
    }
  }

  private async openTopic(name: string, meta: TopicMeta): Promise<FileTopic> {
    const partitions: FilePartitionLog[] = [];
    for (let p = 0; p < meta.partitions; p++) {
      partitions.push(await FilePartitionLog.open(join(this.dir, 'topics', name, `${p}.log`), this.fsync, this.stats, this.logger));
    }
    const topic = new FileTopic(partitions, meta.retentionMs);
    this.topics.set(name, topic);
    return topic;
  }

  topic(name: string): TopicLog | undefined {
    return this.topics.get(name);
  }

  async createTopic(name: string, partitions: number, retentionMs: number): Promise<TopicLog> {
    const existing = this.topics.get(name);
    if (existing) return existing;
    const topicDir = join(this.dir, 'topics', name);
    try {
      await mkdir(topicDir, { recursive: true, mode: 0o700 });
      await syncDir(join(this.dir, 'topics'));
      const topic = await this.openTopic(name, { partitions, retentionMs });
      await writeAtomic(join(topicDir, 'meta.json'), JSON.stringify({ partitions, retentionMs }));
      return topic;
    } catch (err) {
      if (err instanceof Error && 'code' in err && String(err.code).startsWith('JIT_ERR_')) throw err;
      throw StorageFailed(`creating topic ${name}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }

  async loadOffsets(): Promise<OffsetsDoc> {
    const path = join(this.dir, 'offsets.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    try {
      const doc = JSON.parse(text) as unknown;
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not an object');
      return doc as OffsetsDoc;
    } catch (err) {
      throw LogCorrupt(`${path} is not a JSON object`, { cause: err });
    }
  }

  async saveOffsets(doc: OffsetsDoc): Promise<void> {
    if (this.closed) return;
    await writeAtomic(join(this.dir, 'offsets.json'), JSON.stringify(doc));
  }

  healthy(): boolean {
    return !this.broken && !this.closed && this.stats.lastWriteOk;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const results = await Promise.allSettled([...this.topics.values()].flatMap((t) => t.partitions.map((p) => p.close())));
    this.closed = true;
    if (results.some((r) => r.status === 'rejected')) this.broken = true;
    await releaseLock(this.dir);
  }
}
