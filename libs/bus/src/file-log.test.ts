// Property: whatever happens to the tail of a partition file, reopening keeps exactly the records
// before the first damaged byte, byte for byte, and the log accepts appends afterwards; and every
// batch is written synchronised.
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { FilePartitionLog, type FileStoreStats } from './file-partition-log';

const logger = createLogger({ name: 'bus-test', level: 'silent' });
const stats = (): FileStoreStats => ({ fsyncs: 0, appends: 0, lastWriteOk: true });

async function withFile<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-bus-prop-'));
  try {
    return await fn(join(dir, '0.log'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(log: FilePartitionLog): Promise<Buffer[]> {
  return log.read(0, log.end);
}

describe('FilePartitionLog recovery', () => {
  const payloads = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 30 });

  it('a truncated file keeps exactly the records that were complete before the cut', async () => {
    await fc.assert(
      fc.asyncProperty(payloads, fc.double({ min: 0, max: 1, noNaN: true }), async (records, where) =>
        withFile(async (path) => {
          const log = await FilePartitionLog.open(path, 'always', stats(), logger);
          const ends: number[] = [];
          for (const r of records) {
            await log.append(Buffer.from(r));
            ends.push((await stat(path)).size);
          }
          await log.close();
          const cut = Math.floor(where * ends[ends.length - 1]!);
          await truncate(path, cut);
          const reopened = await FilePartitionLog.open(path, 'always', stats(), logger);
          const kept = await readAll(reopened);
          const complete = ends.filter((e) => e <= cut).length;
          expect(kept.map((b) => Buffer.from(b).toString('hex'))).toEqual(records.slice(0, complete).map((r) => Buffer.from(r).toString('hex')));
          await reopened.append(Buffer.from('after'));
          expect((await reopened.read(complete, 1))[0]?.toString()).toBe('after');
          await reopened.close();
        }),
      ),
      { numRuns: 40 },
    );
  });

  it('a flipped byte ends the log right before the damaged record, keeping every record before it', async () => {
    await fc.assert(
      fc.asyncProperty(payloads, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), async (records, where) =>
        withFile(async (path) => {
          const log = await FilePartitionLog.open(path, 'always', stats(), logger);
          const ends: number[] = [];
          for (const r of records) {
            await log.append(Buffer.from(r));
            ends.push((await stat(path)).size);
          }
          await log.close();
          const bytes = await readFile(path);
          const at = Math.floor(where * bytes.length);
          bytes[at] = bytes[at]! ^ 0x5a;
          await writeFile(path, bytes);
          const reopened = await FilePartitionLog.open(path, 'always', stats(), logger);
          const kept = (await readAll(reopened)).map((b) => Buffer.from(b).toString('hex'));
          const damaged = ends.findIndex((e) => e > at); // index of the record holding the flipped byte
          // the CRC (or the length check) catches the flip: the log ends right before that record
          expect(kept).toEqual(records.slice(0, damaged).map((r) => Buffer.from(r).toString('hex')));
          await reopened.close();
        }),
      ),
      { numRuns: 40 },
    );
  });

  it('a batch appended in chunks (more buffers than one pwritev takes) is stored whole, in order, and survives a reopen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 3, maxLength: 4 }), { minLength: 260, maxLength: 420 }), async (records) =>
        withFile(async (path) => {
          const s = stats();
          const log = await FilePartitionLog.open(path, 'always', s, logger);
          // Issued in one turn: one group-committed batch of 300+ records, ~1000+ buffers
          const offsets = await Promise.all(records.map((chunks) => log.append(chunks.map((c) => Buffer.from(c)))));
          expect(offsets).toEqual(records.map((_, i) => i));
          expect(s.fsyncs).toBe(1);
          await log.close();
          const reopened = await FilePartitionLog.open(path, 'always', stats(), logger);
          const kept = (await readAll(reopened)).map((b) => Buffer.from(b).toString('hex'));
          expect(kept).toEqual(records.map((chunks) => Buffer.concat(chunks.map((c) => Buffer.from(c))).toString('hex')));
          await reopened.close();
        }),
      ),
      { numRuns: 10 },
    );
  });
});

describe('FilePartitionLog durability', () => {
  // An append resolves (and so the intake answers 202) only once its batch is on disk. There is no
  // fdatasync call to count: the partition file is opened O_DSYNC, so the batch's one write returns
  // only when its data is durable. Removing the flag (without an fdatasync) must fail here.
  it.runIf(process.platform === 'linux')('writes every batch synchronised: the partition file is open with O_DSYNC', async () => {
    await withFile(async (path) => {
      const log = await FilePartitionLog.open(path, 'always', stats(), logger);
      try {
        await log.append(Buffer.from('{"x":1}'));
        const fds = await readdir('/proc/self/fd');
        const targets = await Promise.all(fds.map(async (fd) => [fd, await readlink(`/proc/self/fd/${fd}`).catch(() => '')] as const));
        const fd = targets.find(([, target]) => target === path)?.[0];
        expect(fd).toBeDefined();
        const flags = /^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
        expect(Number.parseInt(flags!, 8) & fsConstants.O_DSYNC).toBe(fsConstants.O_DSYNC);
      } finally {
        await log.close();
      }
    });
  });
});
