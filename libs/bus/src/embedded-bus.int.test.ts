// Crash safety of the embedded bus with a real process: SIGKILL while publishing.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@jit/observability';
import { createEmbeddedBus } from './embedded-bus';

const ROOT = resolve(import.meta.dirname, '../../..');
const logger = createLogger({ name: 'bus-test', level: 'silent' });

describe('embedded bus under kill -9', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('keeps every acknowledged event and a readable log after SIGKILL mid-publish, three times over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-bus-kill-'));
    dirs.push(dir);
    const acked = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/publish-loop.ts'), dir, `r${round}-`], {
        cwd: ROOT,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.base.json') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
      let ready = false;
      let roundAcks = 0;
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'ready') ready = true;
        else if (/^\d+$/.test(line)) {
          acked.add(`r${round}-${line}`);
          roundAcks++;
        }
      });
      await vi.waitFor(() => expect(ready).toBe(true), { timeout: 60_000, interval: 20 });
      // While the child holds the directory, nobody else may open it.
      await expect(createEmbeddedBus({ dir, logger })).rejects.toMatchObject({
        code: 'JIT_ERR_BUS_LOCKED',
        message: expect.stringContaining(String(child.pid)),
      });
      await vi.waitFor(() => expect(roundAcks).toBeGreaterThan(500), { timeout: 60_000, interval: 5 });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const bus = await createEmbeddedBus({ dir, logger });
      const ids: string[] = [];
      await bus.replay('crash', (m) => void ids.push(m.event.id));
      const present = new Set(ids);
      const missing = [...acked].filter((id) => !present.has(id));
      expect(missing).toEqual([]);
      expect(ids.length).toBe(present.size); // no event twice
      // the log still takes writes and reads them back
      await bus.publish('crash', 'k0', { specversion: '1.0', id: `after-${round}`, source: 't', type: 't' });
      const after: string[] = [];
      await bus.replay('crash', (m) => void after.push(m.event.id), { partitions: [0, 1] });
      expect(after).toContain(`after-${round}`);
      await bus.close();
    }
  });
});
