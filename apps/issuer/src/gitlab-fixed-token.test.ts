// A fixed GITLAB_TOKEN that GitLab refuses is final (JIT_ERR_GITLAB_FORBIDDEN), as the apps wire it:
// only a token read from GITLAB_TOKEN_FILE makes a 401 a rotation's gap, retried. Every app used to
// hand the client openGitlabToken(...).current, a function even without a file, so a revoked or wrong
// fixed token was retried with a misleading "rotation in progress" (hostile review 5).
import { afterEach, describe, expect, it } from 'vitest';
import { createGitlabClient } from '@jit/gitlab';
import { gitlabClientToken, openGitlabToken } from '@jit/service';

const refuse = async () => new Response(JSON.stringify({ message: '401 Unauthorized' }), { status: 401, headers: { 'content-type': 'application/json' } });

describe('a GitLab token GitLab refuses (401)', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('is final when it is a fixed GITLAB_TOKEN', async () => {
    const token = openGitlabToken({ token: 'glpat-fixed-token-000000' });
    close = () => token.close();
    const client = createGitlabClient({ url: 'http://127.0.0.1:1', token: gitlabClientToken(token), fetch: refuse as never, retry: { maxAttempts: 1 } });
    const err = await client.projects.show(1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_GITLAB_FORBIDDEN' });
    expect((err as { retriable?: boolean }).retriable).not.toBe(true);
  });
});
