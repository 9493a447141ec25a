// The GitLab token rotated under load, against the sandbox over HTTP: the token comes from a file
// (GITLAB_TOKEN_FILE, a kubelet-style secret volume) through openGitlabToken, as every app opens it.
// With calls in flight from several workers, a new token is created for the bot, the volume is
// rotated, and once jit has read it the old token is revoked: no call fails, the calls after the
// revocation can only have used the new token, and no token reaches the log. And GitLab's own
// rotation order (the old token revoked at once, the volume synced later): a call in that gap is
// refused retriably, and the first call after the sync succeeds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JitError } from '@jit/errors';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { openGitlabToken } from '@jit/service';
import { atomicSecretDir } from '@jit/service/testing';
import { waitFor } from '@jit/testing';
import { createGitlabClient } from './gitlab-client';

const OLD = 'glpat-first-token-0123456789';
const NEW = 'glpat-second-token-987654321';
const GAP_OLD = 'glpat-gap-old-token-0123456789';
const GAP_NEW = 'glpat-gap-new-token-9876543210';
let sandbox: Sandbox;
const dir = mkdtempSync(join(tmpdir(), 'gl-rotation-'));

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: 'jit-bot', token: OLD, bot: true },
        { username: 'jit-bot-2', token: GAP_OLD, bot: true },
        { username: 'dev', token: 'dev-tok-0123456789' },
      ],
      projects: [{ path: 'ops/elevations', members: [{ username: 'jit-bot', access_level: 40 }, { username: 'jit-bot-2', access_level: 40 }, 'dev'] }],
    },
  });
});
afterAll(async () => {
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GITLAB_TOKEN_FILE rotated under load', () => {
  it('the next call uses the new token; none fails while the old one is revoked', async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 'gl-rotation', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const vol = atomicSecretDir(join(dir, 'gitlab'), { token: `${OLD}\n` });
    const token = openGitlabToken({ token: OLD, tokenFile: vol.path('token') }, logger);
    const gitlab = createGitlabClient({ url: sandbox.url, token: token.current, logger, retry: { maxAttempts: 1 } });
    const dev = createGitlabClient({ url: sandbox.url, token: 'dev-tok-0123456789' });
    const project = await gitlab.projects.show('ops/elevations');
    await dev.branches.create(project.id, 'req-1', 'main');
    await dev.commits.create(project.id, 'req-1', 'request', [{ action: 'create', filePath: 'elevations/a.yaml', content: 'spec: {}\n' }]);
    const mr = await dev.mergeRequests.create(project.id, { sourceBranch: 'req-1', targetBranch: 'main', title: 'req' });

    let ok = 0;
    let afterRevoke = 0;
    let revoked = false;
    const failures: unknown[] = [];
    let stop = false;
    // Which token generation each worker's call in flight started under: the old token is revoked
    // only once no call that could carry it is still in flight (what "wait for the rotation, then
    // revoke" means for an operator).
    let generation = 0;
    const startedUnder: number[] = [];
    const worker = async (i: number) => {
      while (!stop) {
        startedUnder[i] = generation;
        const wasRevoked = revoked;
        try {
          await gitlab.notes.create(project.id, mr.iid, `status ${ok}`);
          await gitlab.mergeRequests.show(project.id, mr.iid);
          ok++;
          if (wasRevoked) afterRevoke++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, i) => worker(i));
    await waitFor(() => ok >= 30, { what: '30 calls before the rotation', timeoutMs: 30_000 });

    // GitLab: a second token for the bot; the secret volume rotated; jit reads it; the old token revoked.
    const bot = sandbox.state.users.find((u) => u.username === 'jit-bot')!;
    bot.tokens.add(NEW);
    const rotated = new Promise<string>((resolve) => token.onChange(resolve));
    vol.write({ token: NEW });
    expect(await rotated).toBe(NEW);
    generation = 1;
    await waitFor(() => startedUnder.every((g) => g === 1), { what: 'calls started before the rotation to finish', timeoutMs: 30_000 });
    bot.tokens.delete(OLD);
    revoked = true;
    await waitFor(() => afterRevoke >= 30, { what: '30 calls after the old token was revoked', timeoutMs: 30_000 });
    stop = true;
    await Promise.all(workers);
    token.close();

    expect(failures).toEqual([]);
    await expect(createGitlabClient({ url: sandbox.url, token: OLD, retry: { maxAttempts: 1 } }).projects.show(project.id)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_FORBIDDEN' });
    const log = lines.join('');
    expect(log).toContain('GITLAB_TOKEN rotated');
    expect(log).not.toContain(OLD);
    expect(log).not.toContain(NEW);
  });
});

describe('GITLAB_TOKEN_FILE in the gap of a rotation (GitLab revoked the old token, the volume not synced yet)', () => {
  it('a call in the gap is refused retriably; the first call after the sync succeeds with the new token', async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: 'gl-rotation-gap', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const vol = atomicSecretDir(join(dir, 'gitlab-gap'), { token: `${GAP_OLD}\n` });
    const token = openGitlabToken({ token: GAP_OLD, tokenFile: vol.path('token') }, logger);
    try {
      const gitlab = createGitlabClient({ url: sandbox.url, token: token.current, logger, retry: { maxAttempts: 1 } });
      const project = await gitlab.projects.show('ops/elevations');

      // GitLab's rotate: a new token, the old one revoked at once; the mounted secret still holds the old one.
      const bot = sandbox.state.users.find((u) => u.username === 'jit-bot-2')!;
      bot.tokens.add(GAP_NEW);
      bot.tokens.delete(GAP_OLD);
      const inGap = await gitlab.projects.show(project.id).then(
        () => undefined,
        (e: unknown) => e as JitError,
      );
      expect(inGap).toMatchObject({ code: 'JIT_ERR_GITLAB_CREDENTIAL_REFUSED', retriable: true });
      expect(lines.join('')).toContain('GitLab refused the token read from its file; retried');

      const rotated = new Promise<string>((resolve) => token.onChange(resolve));
      vol.write({ token: GAP_NEW });
      expect(await rotated).toBe(GAP_NEW);
      expect((await gitlab.projects.show(project.id)).id).toBe(project.id);
      // A fixed token refused the same way stays final.
      await expect(createGitlabClient({ url: sandbox.url, token: GAP_OLD, retry: { maxAttempts: 1 } }).projects.show(project.id)).rejects.toMatchObject({
        code: 'JIT_ERR_GITLAB_FORBIDDEN',
        retriable: false,
      });
      const seen = JSON.stringify({ lines, m: inGap?.message, d: inGap?.details });
      expect(seen).not.toContain(GAP_OLD);
      expect(seen).not.toContain(GAP_NEW);
    } finally {
      token.close();
    }
  });
});
