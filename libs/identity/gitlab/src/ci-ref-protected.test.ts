// Issue 12's leftover: a JIT_OIDC_ALLOWED_PROJECTS rule with a ref glob let in any job whose ref
// matched, so a developer who pushed an unprotected branch named to match (`release-evil` for
// `release-*`) got a token jit accepted. A ref glob now needs the ref protected (GitLab's
// `ref_protected` claim), unless the rule says `:unprotected`. ID tokens issued by the GitLab
// sandbox exactly as GitLab CI does (RS256, its published keys, ref_protected from its protected
// branches), verified by the real resolver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { issueCiIdToken, startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { envSchemas, type CiProjectRule } from '@jit/service';
import { createCallerResolver } from './caller-resolver';

const AUD = 'https://jit.example.com';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: {
      users: [
        { username: 'dev', token: 'dev-token-000001' },
        { username: 'lead', token: 'lead-token-00001' },
      ],
      projects: [
        {
          path: 'apps/deploy',
          files: { 'README.md': 'deploy\n' },
          members: [
            { username: 'dev', access_level: 30 },
            { username: 'lead', access_level: 40 },
          ],
          protected_branches: ['main', 'release-1'],
        },
      ],
    },
  });
  // a maintainer cuts the protected release branch; a developer pushes an unprotected one named to match
  sandbox.pushCommit({ project: 'apps/deploy', branch: 'release-1', startBranch: 'main', author: 'lead', files: { 'v.txt': '1\n' } });
  sandbox.pushCommit({ project: 'apps/deploy', branch: 'release-evil', startBranch: 'main', author: 'dev', files: { 'v.txt': 'evil\n' } });
});
afterAll(() => sandbox?.close());

const rules = (setting: string): CiProjectRule[] => envSchemas.ciProjects().parse(setting);
const resolver = (setting: string) => {
  return createCallerResolver({
    gitlabUrl: sandbox.url,
    audience: AUD,
    allowedProjects: rules(setting),
    userById: async (id) => ({ username: sandbox.state.users.find((u) => u.id === id)!.username, state: 'active' }),
    cacheTtlMs: 0,
  });
};
const token = (user: string, ref: string) => issueCiIdToken(sandbox, { user, project: 'apps/deploy', ref, aud: AUD });
const verdict = async (setting: string, user: string, ref: string) =>
  resolver(setting)
    .resolve(`Bearer ${await token(user, ref)}`)
    .then((c) => `ok ${c.username}@${c.ci?.ref}${c.ci?.refProtected ? ' (protected)' : ''}`)
    .catch((e: JitError) => e.code);

describe('JIT_OIDC_ALLOWED_PROJECTS ref globs and protected refs', () => {
  it('a ref glob lets in the protected branch it matches, not an unprotected one named to match', async () => {
    expect(await verdict('apps/deploy@release-*', 'lead', 'release-1')).toBe('ok lead@release-1 (protected)');
    expect(await verdict('apps/deploy@release-*', 'dev', 'release-evil')).toBe('JIT_ERR_AUTH_ID_TOKEN_PROJECT');
    expect(await verdict('apps/deploy@main', 'lead', 'main')).toBe('ok lead@main (protected)');
  });

  it('`:unprotected` waives it for that rule only; a rule with no ref takes any ref, as before', async () => {
    expect(await verdict('apps/deploy@release-*:unprotected', 'dev', 'release-evil')).toBe('ok dev@release-evil');
    expect(await verdict('apps/deploy@main, apps/deploy@release-*', 'dev', 'release-evil')).toBe('JIT_ERR_AUTH_ID_TOKEN_PROJECT');
    expect(await verdict('apps/deploy', 'dev', 'release-evil')).toBe('ok dev@release-evil');
  });
});
