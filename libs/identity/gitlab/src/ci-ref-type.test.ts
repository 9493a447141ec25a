// A JIT_OIDC_ALLOWED_PROJECTS rule `group/deploy@main` means the protected branch main. The check
// once compared only the ref's name and `ref_protected`, never `ref_type` (hostile review 4): a job on
// a protected TAG named `main` (GitLab lets a protected-tag rule such as `*` allow Developers to
// create tags; a tag can point at any commit, e.g. one on an unprotected branch) was let in as if it
// ran on the protected branch. Tags are named by their full ref: `@refs/tags/v*`.
import { describe, expect, it } from 'vitest';
import { envSchemas } from '@jit/service';
import { createCiJobCheck } from './ci-job-checks';

const checkOf = (rules: string) => createCiJobCheck({ allowedProjects: envSchemas.ciProjects().parse(rules), userById: async () => ({ username: 'dev', state: 'active' }), cacheTtlMs: 0 });
const check = checkOf('apps/deploy@main');
const caller = (refType: string | undefined, ref = 'main') => ({
  username: 'dev',
  userId: 7,
  bot: false,
  via: 'ci-id-token' as const,
  ci: { projectPath: 'apps/deploy', ref, ...(refType ? { refType } : {}), refProtected: true },
});

describe('a ref glob names branches, not tags of the same name', () => {
  it('the protected branch main is let in (control)', async () => {
    await expect(check(caller('branch'))).resolves.toBeUndefined();
  });
  it('a job on a protected tag named main is refused by `apps/deploy@main`', async () => {
    await expect(check(caller('tag'))).rejects.toMatchObject({ code: 'JIT_ERR_AUTH_ID_TOKEN_PROJECT' });
  });
  it('a token that does not say whether its ref is a branch or a tag matches no ref glob', async () => {
    await expect(check(caller(undefined))).rejects.toMatchObject({ code: 'JIT_ERR_AUTH_ID_TOKEN_PROJECT' });
  });
  it('tags are named by their full ref: `@refs/tags/v*` lets in a protected tag v1.2, not a branch v1.2', async () => {
    const tags = checkOf('apps/deploy@refs/tags/v*');
    await expect(tags(caller('tag', 'v1.2'))).resolves.toBeUndefined();
    await expect(tags(caller('branch', 'v1.2'))).rejects.toMatchObject({ code: 'JIT_ERR_AUTH_ID_TOKEN_PROJECT' });
    await expect(checkOf('apps/deploy@refs/heads/main')(caller('branch'))).resolves.toBeUndefined();
  });
});
