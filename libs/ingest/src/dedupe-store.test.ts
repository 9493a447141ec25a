import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DedupeStore } from './dedupe-store';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dedupe-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DedupeStore', () => {
  it('remembers ids across close and reopen', async () => {
    const a = await DedupeStore.open({ dir });
    await Promise.all([a.add('one'), a.add('two'), a.add('three')]);
    await a.close();
    const b = await DedupeStore.open({ dir });
    expect(['one', 'two', 'three', 'four'].map((id) => b.has(id))).toEqual([true, true, true, false]);
    await b.close();
  });

  it('forgets ids older than the window, in memory and on reopen', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const a = await DedupeStore.open({ dir, windowMs: 1000, now: clock });
    await a.add('old');
    now += 600;
    await a.add('new');
    now += 600;
    expect(a.has('old')).toBe(false);
    expect(a.has('new')).toBe(true);
    await a.close();
    const b = await DedupeStore.open({ dir, windowMs: 1000, now: clock });
    expect(b.size).toBe(1);
    expect(await readFile(join(dir, 'ingest-dedupe.log'), 'utf8')).toBe(`${1_000_600} new\n`);
    await b.close();
  });

  it('keeps at most maxIds, forgetting the oldest', async () => {
    const s = await DedupeStore.open({ dir, maxIds: 3 });
    for (const id of ['a', 'b', 'c', 'd']) await s.add(id);
    expect(['a', 'b', 'c', 'd'].map((id) => s.has(id))).toEqual([false, true, true, true]);
    await s.close();
  });

  it('compacts the file once dead lines dominate', async () => {
    const s = await DedupeStore.open({ dir, maxIds: 10 });
    for (let i = 0; i < 1100; i++) await s.add(`id-${i}`);
    await s.close();
    const lines = (await readFile(join(dir, 'ingest-dedupe.log'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBeLessThan(1100);
    const reopened = await DedupeStore.open({ dir, maxIds: 10 });
    expect(reopened.size).toBe(10);
    expect(reopened.has('id-1099')).toBe(true);
    expect(reopened.has('id-1000')).toBe(false);
    await reopened.close();
  });

  it('skips a torn last line and junk instead of failing to start', async () => {
    const now = Date.now();
    await writeFile(join(dir, 'ingest-dedupe.log'), `${now} good\nnot-a-number x\n${now} has space\n\u0000\u0001\n${now} torn-line-witho`);
    const s = await DedupeStore.open({ dir });
    expect(s.has('good')).toBe(true);
    expect(s.has('torn-line-witho')).toBe(true);
    expect(s.skippedLines).toBe(3);
    await s.close();
  });

  it('refuses ids that would corrupt the line format', async () => {
    const s = await DedupeStore.open({ dir });
    await expect(s.add('a b')).rejects.toThrow(/JIT_ERR_INGEST_DEDUPE_STORE|spaces/);
    await expect(s.add('a\nb')).rejects.toThrow();
    await expect(s.add('')).rejects.toThrow();
    await s.close();
  });

  it('fails clearly when the data dir cannot be used', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await expect(DedupeStore.open({ dir: join(file, 'sub') })).rejects.toMatchObject({ code: 'JIT_ERR_INGEST_DEDUPE_STORE' });
  });

  it('works memory-only without a dir', async () => {
    const s = await DedupeStore.open();
    await s.add('x');
    expect(s.has('x')).toBe(true);
    expect(s.durable).toBe(false);
    await s.close();
  });
});
