// GitLab's user `state` has more values than active and blocked: an admin (or the dormant-user
// policy) can deactivate a user. The sandbox models `deactivated`; jit refuses such a user like a
// blocked one — their GitLab token (GitLab answers 401 for it) and their CI ID token issued before
// (GET /users/:id says `deactivated`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { createGitlabClient } from '@jit/gitlab';
import { issueCiIdToken, startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createCallerResolver } from './caller-resolver';

const AUD = 'https://jit.example.com';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: {
      users: [
        { username: 'jit-bot', token: 'jit-bot-token-0001', bot: true },
        { username: 'erin', token: 'erin-token-00001' },
        { username: 'fred', token: 'fred-token-00001', state: 'deactivated' },
      ],
      projects: [
        {
          path: 'apps/deploy',
          files: { 'README.md': 'x\n' },
          members: [
            { username: 'erin', access_level: 40 },
            { username: 'jit-bot', access_level: 40 },
          ],
        },
      ],
    },
  });
});
afterAll(() => sandbox?.close());

const resolver = () => {
  const bot = createGitlabClient({ url: sandbox.url, token: 'jit-bot-token-0001' });
  return createCallerResolver({ gitlabUrl: sandbox.url, audience: AUD, allowedProjects: [{ project: 'apps/deploy' }], userById: (id) => bot.users.show(id), cacheTtlMs: 0 });
};
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: JitError) => e.code,
  );

describe('a deactivated GitLab user', () => {
  it('is refused with their GitLab token, like a blocked one', async () => {
    expect(await code(resolver().resolve('Bearer erin-token-00001'))).toBe('ok');
    expect(await code(resolver().resolve('Bearer fred-token-00001'))).toBe('JIT_ERR_AUTH_TOKEN_REFUSED');
  });

  it('is refused with a CI ID token issued before the deactivation; GitLab shows the state', async () => {
    const token = await issueCiIdToken(sandbox, { user: 'erin', project: 'apps/deploy', aud: AUD });
    expect(await code(resolver().resolve(`Bearer ${token}`))).toBe('ok');
    sandbox.state.userByUsername('erin')!.state = 'deactivated';
    const bot = createGitlabClient({ url: sandbox.url, token: 'jit-bot-token-0001' });
    expect((await bot.users.show(sandbox.state.userByUsername('erin')!.id)).state).toBe('deactivated');
    expect(await code(resolver().resolve(`Bearer ${token}`))).toBe('JIT_ERR_AUTH_ID_TOKEN_INVALID');
    // and GitLab runs no new job for them
    await expect(issueCiIdToken(sandbox, { user: 'erin', project: 'apps/deploy', aud: AUD })).rejects.toThrow(/is deactivated/);
  });
});
