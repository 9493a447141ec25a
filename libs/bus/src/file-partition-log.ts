// One partition of the embedded bus on disk: an append-only file of records framed as
// [u32 length][u32 crc32][payload], group-committed (one synchronised write per batch: O_DSYNC),
// its torn or corrupt tail cut off on open (and kept aside as <p>.log.corrupt-<ms>).
import { constants as fsConstants } from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { Logger } from '@jit/observability';
import { LogCorrupt, StorageFailed } from './errors';
import type { PartitionLog } from './log-store';

const HEADER_BYTES = 8;
/** A length above this is damage, not a record (events are capped far lower). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;
/** Buffers per pwritev call (Linux IOV_MAX is 1024). */
const MAX_IOVECS = 1024;

export type FsyncPolicy = 'always' | { batchMs: number };

export interface FileStoreStats {
  /** Synchronised writes on partition logs (one per group-committed batch). */
  fsyncs: number;
  /** Records appended. */
  appends: number;
  /** False after a failed write until the next successful one (drives isReady). */
  lastWriteOk: boolean;
}

/**
 * A record's frame as chunks: the 8-byte header, then the payload's own chunks, which are written with
 * one pwritev and never copied (an event is several KB; copying it twice per append was measurable).
 */
export function frameChunks(payload: Buffer | readonly Buffer[]): { chunks: Buffer[]; length: number } {
  const parts = Buffer.isBuffer(payload) ? [payload] : payload;
  let length = 0;
  let crc = 0;
  for (const part of parts) {
    length += part.length;
    crc = crc32(part, crc);
  }
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  header.writeUInt32BE(crc, 4);
  return { chunks: [header, ...parts], length: HEADER_BYTES + length };
}

/** The framed record as one buffer (as it lies in the file). */
export function frameRecord(payload: Buffer | readonly Buffer[]): Buffer {
  const { chunks, length } = frameChunks(payload);
  return Buffer.concat(chunks, length);
}

interface Pending {
  chunks: Buffer[];
  /** Bytes of the framed record. */
  length: number;
  resolve: (offset: number) => void;
  reject: (err: unknown) => void;
}

export class FilePartitionLog implements PartitionLog {
  private readonly positions: number[] = [];
  private size = 0;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly fsync: FsyncPolicy,
    private readonly stats: FileStoreStats,
  ) {}

  static async open(path: string, fsync: FsyncPolicy, stats: FileStoreStats, logger: Logger): Promise<FilePartitionLog> {
    // O_DSYNC: a write returns once its data (and the size change) is on disk, as write + fdatasync
    // would, in one system call and one thread-pool round trip instead of two per batch.
    const fh = await open(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_DSYNC, 0o600);
    const log = new FilePartitionLog(path, fh, fsync, stats);
    try {
      await log.recover(logger);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return log;
  }

  get end(): number {
    return this.positions.length;
  }

  /** Scans every frame; the first one that is torn or fails its CRC ends the log. */
  private async recover(logger: Logger): Promise<void> {
    const { size: fileSize } = await this.fh.stat();
    let window = Buffer.alloc(0);
    let windowStart = 0;
    const bytesAt = async (pos: number, n: number): Promise<Buffer | undefined> => {
      if (pos + n > fileSize) return undefined;
      if (pos < windowStart || pos + n > windowStart + window.length) {
        const len = Math.min(Math.max(n, SCAN_CHUNK_BYTES), fileSize - pos);
        window = Buffer.allocUnsafe(len);
        const { bytesRead } = await this.fh.read(window, 0, len, pos);
        window = window.subarray(0, bytesRead);
        windowStart = pos;
        if (bytesRead < n) return undefined;
      }
      return window.subarray(pos - windowStart, pos - windowStart + n);
    };
    let pos = 0;
    let problem: string | undefined;
    while (pos < fileSize) {
      const header = await bytesAt(pos, HEADER_BYTES);
      if (!header) {
        problem = 'torn header';
        break;
      }
      const length = header.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) {
        problem = 'impossible length';
        break;
      }
      const payload = await bytesAt(pos + HEADER_BYTES, length);
      if (!payload) {
        problem = 'torn payload';
        break;
      }
      if (crc32(payload) !== header.readUInt32BE(4)) {
        problem = 'checksum mismatch';
        break;
      }
      this.positions.push(pos);
      pos += HEADER_BYTES + length;
    }
    this.size = pos;
    if (problem) {
      // Only the tail after the last good record goes; it is kept beside the log for forensics.
      const dropped = fileSize - pos;
      const aside = `${this.path}.corrupt-${Date.now()}`;
      const tail = Buffer.allocUnsafe(dropped);
      await this.fh.read(tail, 0, dropped, pos);
      await writeFile(aside, tail, { mode: 0o600 });
      await this.fh.truncate(pos);
      await this.fh.datasync();
      logger.warn(
        { file: this.path, problem, keptRecords: this.positions.length, droppedBytes: dropped, savedTo: aside },
        'embedded bus log had a damaged tail (torn write or corruption); truncated after the last good record',
      );
    }
  }

  append(payload: Buffer | readonly Buffer[]): Promise<number> {
    if (this.closed) return Promise.reject(StorageFailed('log file closed'));
    const { chunks, length } = frameChunks(payload);
    return new Promise((resolve, reject) => {
      this.pending.push({ chunks, length, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.timer = undefined;
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    };
    // setImmediate lets every publish made in this turn join the batch (group commit).
    if (this.fsync === 'always' || this.fsync.batchMs <= 0) setImmediate(run);
    else this.timer = setTimeout(run, this.fsync.batchMs);
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const total = batch.reduce((n, p) => n + p.length, 0);
    let chunks = batch.flatMap((p) => p.chunks);
    // One synchronised write per batch: a batch of more buffers than one pwritev takes is copied into one.
    if (chunks.length > MAX_IOVECS) chunks = [Buffer.concat(chunks, total)];
    try {
      const { bytesWritten } = await this.fh.writev(chunks, this.size);
      if (bytesWritten < total) {
        // A short vectored write (rare: disk nearly full, signals): finish it contiguously. Every
        // write is synchronised (O_DSYNC), so the batch is durable once the last one returns.
        const rest = Buffer.concat(chunks, total).subarray(bytesWritten);
        for (let off = 0; off < rest.length;) {
          const r = await this.fh.write(rest, off, rest.length - off, this.size + bytesWritten + off);
          if (r.bytesWritten === 0) throw StorageFailed('write made no progress');
          off += r.bytesWritten;
        }
      }
      this.stats.fsyncs++;
      this.stats.lastWriteOk = true;
    } catch (err) {
      // Nothing in this batch was acknowledged: cut any partial write so the next batch starts clean.
      this.stats.lastWriteOk = false;
      await this.fh.truncate(this.size).catch(() => undefined);
      const failure = StorageFailed((err as NodeJS.ErrnoException).code ?? 'write failed', { cause: err });
      for (const p of batch) p.reject(failure);
      return;
    }
    let pos = this.size;
    for (const p of batch) {
      this.positions.push(pos);
      pos += p.length;
    }
    const first = this.positions.length - batch.length;
    this.size = pos;
    this.stats.appends += batch.length;
    batch.forEach((p, i) => p.resolve(first + i));
  }

  async read(from: number, max: number): Promise<Buffer[]> {
    const end = this.positions.length;
    if (from >= end || max <= 0) return [];
    const last = Math.min(end, from + max);
    const start = this.positions[from]!;
    const stop = last < end ? this.positions[last]! : this.size;
    const buf = Buffer.allocUnsafe(stop - start);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, start);
    if (bytesRead !== buf.length) throw LogCorrupt(`${this.path} is shorter than its index`);
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const length = buf.readUInt32BE(pos);
      const payload = buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length);
      if (payload.length !== length || crc32(payload) !== buf.readUInt32BE(pos + 4)) {
        throw LogCorrupt(`${this.path} record ${from + out.length} changed on disk`);
      }
      out.push(payload);
      pos += HEADER_BYTES + length;
    }
    return out;
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.scheduled = false;
    }
    while (this.flushing || this.pending.length > 0) {
      if (this.flushing) await this.flushing;
      else await (this.flushing = this.flush().finally(() => (this.flushing = undefined)));
    }
    this.closed = true;
    await this.fh.close();
  }
}
