import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy } from '@jit/contracts';
import { loadSeedFile } from '@jit/gitlab-sandbox';
import { openCredential, sealCredential } from '@jit/issuer';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_SEED_FILE } from './sandbox-gitlab';
import { provisionSandboxIdentities, sandboxIdentities } from './sandbox-identities';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('sandbox identities', () => {
  it('the demo seed policy gets a generated key per listed user; each identity (0600) opens what is sealed to its key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-identities-'));
    dirs.push(dir);
    const seed = await loadSeedFile(DEMO_SEED_FILE);
    const files = await provisionSandboxIdentities(seed, dir);
    expect(Object.keys(files).sort()).toEqual(['alice', 'bob', 'carol', 'dave', 'deploy-agent']);
    const text = seed.projects[0]!.files['policy.yaml']!;
    expect(text).not.toContain('[sandbox-generated]');
    const parsed = parsePolicy(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    for (const [user, file] of Object.entries(files)) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const id = await readFile(file, 'utf8');
      const recipient = /# recipient: (age1\S+)/.exec(id)![1]!;
      expect(parsed.policy.recipients[user]).toEqual([recipient]);
      const sealed = await sealCredential({ PASSWORD: `for-${user}` }, recipient);
      expect(
        await openCredential(
          sealed,
          id.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!,
        ),
      ).toEqual({ PASSWORD: `for-${user}` });
    }
    expect((await stat(join(dir, 'identities'))).mode & 0o777).toBe(0o700);
    expect(await sandboxIdentities(dir)).toEqual(files);
    // every user has a key of their own
    expect(new Set(Object.values(parsed.policy.recipients).flat()).size).toBe(5);
  });
});
