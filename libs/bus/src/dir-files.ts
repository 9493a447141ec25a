// The embedded bus directory's small files: writes that a crash leaves old or new (file, then
// directory synchronised), and the pid LOCK that lets only one process (and one open in this
// process) use a directory; a lock whose pid is gone is taken over.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@jit/observability';
import { DirectoryLocked } from './errors';

/** Writes a file so that a crash leaves either the old or the new content. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(resolve(path, '..'));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Directories open in this process: a second open here is refused like one from another process. */
const openDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function takeLock(dir: string, logger: Logger): Promise<void> {
  const lockPath = join(dir, 'LOCK');
  if (openDirs.has(dir)) throw DirectoryLocked(dir, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockPath, 'wx', 0o600);
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      openDirs.add(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(lockPath, 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw DirectoryLocked(dir, pid);
    logger.warn({ dir, stalePid: Number.isNaN(pid) ? null : pid }, 'taking over a stale embedded bus lock');
    await unlink(lockPath).catch(() => undefined);
  }
  throw DirectoryLocked(dir, -1);
}

/** Removes the LOCK of a directory this process opened. */
export async function releaseLock(dir: string): Promise<void> {
  await unlink(join(dir, 'LOCK')).catch(() => undefined);
  openDirs.delete(dir);
}
