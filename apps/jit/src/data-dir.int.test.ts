// The all-in-one on the data dirs a new user hands it: a private one (0700, as `mktemp -d` makes,
// the common case as root in a container) starts with its demo database; one jit cannot use stops
// start-up with JIT_ERR_JIT_DATA_DIR naming why.
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { buildJit, type JitProcess } from './server';

const running: JitProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const j of running.splice(0)) await j.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function privateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-data-dir-')); // mode 0700
  dirs.push(dir);
  return dir;
}

async function build(dataDir: string, extra: Record<string, string> = {}): Promise<JitProcess> {
  const config = parseConfig({
    JIT_DATA_DIR: dataDir,
    JIT_PORT: String(await freePort()),
    JIT_OPS_PORT: '0',
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SWEEP_INTERVAL_MS: '0',
    ...extra,
  });
  const jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'error' }) });
  running.push(jit);
  return jit;
}

describe('the data dir', () => {
  it('starts the all-in-one with its demo database on a fresh 0700 directory', async () => {
    const dir = await privateDir();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const jit = await build(dir);
    await jit.listen();
    const client = new pg.Client({ connectionString: jit.demoDatabase!.readonlyUrl });
    await client.connect();
    try {
      const rows = await client.query('SELECT count(*)::int AS n FROM orders');
      expect(rows.rows[0]).toEqual({ n: 3 });
    } finally {
      await client.end();
    }
    // nobody but the postgres group (search only) gains anything on the data dir
    expect((await stat(dir)).mode & 0o707).toBe(0o700);
  }, 180_000);

  it('refuses a data dir that is a file, naming it and why', async () => {
    const file = join(await privateDir(), 'not-a-dir');
    await writeFile(file, 'x');
    await expect(build(file, { JIT_NO_DEMO_DB: '1' })).rejects.toMatchObject({
      code: 'JIT_ERR_JIT_DATA_DIR',
      message: expect.stringMatching(new RegExp(`^JIT_DATA_DIR ${file} cannot be used: it .*is a file, not a directory`)),
    });
  });

  it.runIf(userInfo().uid === 0)(
    'as root, refuses a data dir the demo database cannot reach, naming the directory in the way',
    async () => {
      const outer = await privateDir(); // 0700, not jit's: it is left as it is
      const dataDir = join(outer, 'jit');
      await mkdir(dataDir);
      await expect(build(dataDir)).rejects.toMatchObject({
        code: 'JIT_ERR_JIT_DATA_DIR',
        message: expect.stringContaining(`cannot reach ${outer} (mode 0700)`),
      });
      expect((await stat(outer)).mode & 0o777).toBe(0o700);
    },
    60_000,
  );
});
