// The admin API tests and the demo drive the sandbox with (pushes, users, tiers, hooks).
import { Gitlab } from '@gitbeaker/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SEED } from './testing';
import { startSandbox, type Sandbox } from './sandbox';

const P = 'ops/elevations';
let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startSandbox({ seed: DEMO_SEED, now: () => new Date('2030-01-02T03:04:05Z') });
});

afterEach(async () => {
  await sandbox.close();
});

describe('admin API', () => {
  it('pushCommit creates a branch from the default branch, updates and deletes files', async () => {
    const first = sandbox.pushCommit({ project: P, branch: 'feature', author: 'dave', files: { 'elevations/a.yaml': 'a\n' } });
    const second = sandbox.pushCommit({ project: P, branch: 'feature', author: 'dave', files: { 'elevations/a.yaml': 'b\n', 'README.md': null } });
    const api = new Gitlab({ host: sandbox.url, token: 'dave-token-0001' });
    const c = await api.Commits.show(P, second);
    expect(c.parent_ids).toEqual([first]);
    expect(c.author_email).toBe('dave@example.com');
    expect(c.authored_date).toBe('2030-01-02T03:04:05.000Z');
    expect(await api.RepositoryFiles.showRaw(P, 'elevations/a.yaml', 'feature')).toBe('b\n');
    expect((await api.Branches.show(P, 'feature')).commit.id).toBe(second);
    // A push to a protected branch by a developer is refused, as GitLab would.
    expect(() => sandbox.pushCommit({ project: P, branch: 'main', author: 'dave', files: { x: 'x' } })).toThrow(/JIT_ERR_SANDBOX_BAD_ARGUMENT|403/);
  });

  it("a push keeps the dates its git wrote; the MR diff versions date each head by GitLab's clock, newest first", async () => {
    sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/v.yaml': 'v1\n' } });
    const dave = new Gitlab({ host: sandbox.url, token: 'dave-token-0001' });
    const mr = await dave.MergeRequests.create(P, 'req', 'main', 'v');
    const backdated = sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/v.yaml': 'v2\n' }, committedAt: new Date('2029-06-01T00:00:00Z') });
    const c = await dave.Commits.show(P, backdated);
    expect(c.committed_date).toBe('2029-06-01T00:00:00.000Z');
    expect(c.authored_date).toBe('2029-06-01T00:00:00.000Z');
    const versions = await dave.MergeRequests.allDiffVersions(P, mr.iid);
    expect(versions.map((v) => [v.head_commit_sha, v.created_at])).toEqual([
      [backdated, '2030-01-02T03:04:05.000Z'],
      [c.parent_ids?.[0], '2030-01-02T03:04:05.000Z'],
    ]);
    expect(versions[0]).toMatchObject({ merge_request_id: mr.id, state: 'collected' });
  });

  it('addUser gives a working token; duplicates are refused without echoing the token', async () => {
    const u = sandbox.addUser({ username: 'newbie', token: 'newbie-token-123', bot: true });
    expect(u.id).toBeGreaterThan(0);
    const me = await new Gitlab({ host: sandbox.url, token: 'newbie-token-123' }).Users.showCurrentUser();
    expect(me).toMatchObject({ username: 'newbie', bot: true });
    expect(() => sandbox.addUser({ username: 'newbie' })).toThrow(/taken/);
    let message = '';
    try {
      sandbox.addUser({ username: 'other', token: 'newbie-token-123' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('already belongs');
    expect(message).not.toContain('newbie-token-123');
  });

  it('memberships, tiers and settings take effect on the API', async () => {
    sandbox.addUser({ username: 'zed', token: 'zed-token-00001' });
    const zed = new Gitlab({ host: sandbox.url, token: 'zed-token-00001' });
    await expect(zed.Projects.show(P)).rejects.toThrow();
    sandbox.addGroupMember('platform', 'zed'); // not the project's namespace: still hidden
    await expect(zed.Projects.show(P)).rejects.toThrow(/404/);
    sandbox.addGroupMember('ops', 'zed', 20); // inherited reporter access
    expect((await zed.Projects.show(P)).path_with_namespace).toBe(P);
    sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/z.yaml': 'z\n' } });
    const mr = await new Gitlab({ host: sandbox.url, token: 'dave-token-0001' }).MergeRequests.create(P, 'req', 'main', 'z');
    await expect(zed.MergeRequestApprovals.approve(P, mr.iid)).rejects.toThrow(/403 Forbidden/); // reporters may not approve
    sandbox.setApprovalSettings(P, { merge_requests_author_approval: true });
    const alice = new Gitlab({ host: sandbox.url, token: 'alice-token-0001' });
    expect(await alice.MergeRequestApprovals.showConfiguration(P)).toMatchObject({ merge_requests_author_approval: true });
    sandbox.setProjectTier(P, 'free');
    await expect(alice.MergeRequestApprovals.showConfiguration(P)).rejects.toThrow(/403/);
  });

  it('refuses unknown projects, users, groups and tiers with catalogue errors', () => {
    expect(() => sandbox.project('nope/nope')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SANDBOX_NOT_FOUND' }));
    expect(() => sandbox.user('ghost')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SANDBOX_NOT_FOUND' }));
    expect(() => sandbox.addGroupMember('ghosts', 'alice')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SANDBOX_NOT_FOUND' }));
    expect(() => sandbox.setProjectTier(P, 'gold' as 'free')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SANDBOX_BAD_ARGUMENT' }));
  });

  it('deletes branches as GitLab does: not the default, not a protected one', async () => {
    const api = new Gitlab({ host: sandbox.url, token: 'alice-token-0001' });
    await api.Branches.create(P, 'tmp', 'main');
    await api.Branches.remove(P, 'tmp');
    await expect(api.Branches.show(P, 'tmp')).rejects.toThrow();
    await expect(api.Branches.remove(P, 'main')).rejects.toThrow(/default branch/);
  });
});

describe('GitLab admin endpoints (for a sandbox running out of process)', () => {
  it('an admin creates a user, a personal access token and memberships; others get 403', async () => {
    const root = new Gitlab({ host: sandbox.url, token: 'root-token-0001' });
    const user = await root.Users.create({ username: 'remote', email: 'remote@example.com', name: 'Remote User', password: 'not-used-123' });
    expect(user).toMatchObject({ username: 'remote', bot: false });
    const pat = await root.Users.createPersonalAccessToken(user.id, 'e2e', ['api']);
    expect(pat.token).toMatch(/^glpat-/);
    const remote = new Gitlab({ host: sandbox.url, token: pat.token });
    expect((await remote.Users.showCurrentUser()).username).toBe('remote');
    await expect(remote.Projects.show(P)).rejects.toThrow(/404/);
    await root.ProjectMembers.add(P, 30, { userId: user.id });
    expect((await remote.Projects.show(P)).path_with_namespace).toBe(P);
    await root.GroupMembers.add('platform', 30, { userId: user.id });
    expect((await root.GroupMembers.all('platform')).map((m) => m.username)).toContain('remote');
    await expect(root.ProjectMembers.add(P, 30, { userId: user.id })).rejects.toThrow(/Member already exists/);
    await expect(root.Users.create({ username: 'remote', email: 'x@example.com', name: 'x' })).rejects.toThrow(/already been taken/);
    const dave = new Gitlab({ host: sandbox.url, token: 'dave-token-0001' });
    await expect(dave.Users.create({ username: 'x2', email: 'x2@example.com', name: 'x' })).rejects.toThrow(/403/);
    await expect(dave.Users.createPersonalAccessToken(user.id, 'steal', ['api'])).rejects.toThrow(/403/);
    await expect(dave.ProjectMembers.add(P, 50, { userId: user.id })).rejects.toThrow(/403/);
  });
});
