// Sandbox mode with the user's own seed: the elevations project need not be `ops/elevations`.
// The seed's only project is used; with several, the one marked `elevations: true` or the one
// JIT_ELEVATIONS_PROJECT names (alone, no GITLAB_URL); a restart keeps the project jit chose.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const DEMO_REPO = join(import.meta.dirname, '../../../deploy/sandbox/demo-repo');

/** The demo seed with its project at `path`, plus `extra` YAML appended to the project list. */
async function seedDir(path: string, extra = ''): Promise<{ dir: string; seed: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-sandbox-project-'));
  dirs.push(dir);
  const demo = await readFile(new URL('../../../deploy/sandbox/demo-seed.yaml', import.meta.url), 'utf8');
  const text = demo.replace('  - path: ops/elevations\n', `  - path: ${path}\n`).replaceAll('files_from: demo-repo', `files_from: ${DEMO_REPO}`);
  expect(text).toContain(`path: ${path}`);
  const seed = join(dir, 'seed.yaml');
  await writeFile(seed, text + extra);
  return { dir: join(dir, 'data'), seed };
}

async function start(dataDir: string, seed: string, extra: Record<string, string> = {}): Promise<JitProcess> {
  const port = await freePort();
  const config = parseConfig({
    JIT_DATA_DIR: dataDir,
    JIT_PORT: String(port),
    JIT_OPS_PORT: '0',
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SANDBOX_SEED: seed,
    JIT_SWEEP_INTERVAL_MS: '0',
    JIT_NO_DEMO_DB: '1',
    ...extra,
  });
  const jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'error' }) });
  running.push(jit);
  return jit;
}

async function stop(jit: JitProcess): Promise<void> {
  await jit.close();
  running.splice(running.indexOf(jit), 1);
}

const OTHER = '  - { path: team/wiki, default_branch: main, members: [{ username: alice, access_level: 40 }] }\n';

describe('the sandbox elevations project', () => {
  it('is the seed’s only project, whatever its path', async () => {
    const { dir, seed } = await seedDir('team/access');
    const jit = await start(dir, seed);
    expect(jit.gitlab.project).toBe('team/access');
    expect(jit.sandbox!.project('team/access').hooks).toHaveLength(1);
    // the policy is read from that project: the catalog answers from it
    const url = await jit.listen();
    const deadline = Date.now() + 60_000;
    let res = await fetch(`${url}/v1/catalog`, { headers: { authorization: 'Bearer alice-token-0001' } });
    while (res.status === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      res = await fetch(`${url}/v1/catalog`, { headers: { authorization: 'Bearer alice-token-0001' } });
    }
    expect(res.status).toBe(200);
    expect(((await res.json()) as { entries: Array<{ target: string }> }).entries.map((e) => e.target)).toContain('demo-db');
  });

  it('with several projects: the one the seed marks, or the one JIT_ELEVATIONS_PROJECT names; else a clear refusal', async () => {
    const marked = await seedDir('team/access', OTHER.replace(' }\n', ', elevations: true }\n'));
    const m = await start(marked.dir, marked.seed);
    expect(m.gitlab.project).toBe('team/wiki');
    await stop(m);

    const plain = await seedDir('team/access', OTHER);
    const err = (await start(plain.dir, plain.seed).catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('JIT_ERR_SERVICE_CONFIG_INVALID');
    expect(err.message).toMatch(/JIT_ELEVATIONS_PROJECT: the sandbox has several projects and none is marked.*team\/access, team\/wiki/);

    const named = await seedDir('team/access', OTHER);
    const n = await start(named.dir, named.seed, { JIT_ELEVATIONS_PROJECT: 'team/access' });
    expect(n.gitlab.project).toBe('team/access');
    await stop(n);
    // restarted without the setting: the project carrying jit's hook stays jit's project
    const again = await start(named.dir, named.seed);
    expect(again.gitlab.project).toBe('team/access');
    await stop(again);

    const wrong = await start(named.dir, named.seed, { JIT_ELEVATIONS_PROJECT: 'ops/elevations' }).catch((e: unknown) => e);
    expect((wrong as Error).message).toMatch(/JIT_ELEVATIONS_PROJECT: the sandbox has no project ops\/elevations/);
  });
});
