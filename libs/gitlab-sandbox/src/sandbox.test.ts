// Round-trips through @gitbeaker/rest, unchanged, against the sandbox on a free port.
import { createHash } from 'node:crypto';
import { Gitlab } from '@gitbeaker/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SEED, startHookReceiver, type HookReceiver } from './testing';
import { startSandbox, type Sandbox } from './sandbox';

const P = 'ops/elevations';
let sandbox: Sandbox;
let receiver: HookReceiver;

const client = (token: string) => new Gitlab({ host: sandbox.url, token });
const oauth = (token: string) => new Gitlab({ host: sandbox.url, oauthToken: token });

/** The HTTP status and GitLab error text of a failed gitbeaker call. */
async function failure(p: Promise<unknown>): Promise<{ status: number; description: string }> {
  try {
    await p;
  } catch (err) {
    const cause = (err as { cause?: { response?: Response; description?: string } }).cause;
    return { status: cause?.response?.status ?? -1, description: cause?.description ?? '' };
  }
  throw new Error('expected the call to fail');
}

beforeEach(async () => {
  receiver = await startHookReceiver();
  sandbox = await startSandbox({ seed: DEMO_SEED });
  sandbox.addHook(P, { url: receiver.url, token: 'hook-secret-token', merge_requests_events: true, note_events: true });
});

afterEach(async () => {
  await sandbox.close();
  await receiver.close();
});

async function openMr(title = 'Elevate orders-db write', file = 'elevations/orders.yaml'): Promise<{ iid: number; sha: string }> {
  const dave = client('dave-token-0001');
  await dave.Branches.create(P, 'req-1', 'main');
  await dave.Commits.create(P, 'req-1', 'request orders-db write', [{ action: 'create', filePath: file, content: 'spec: {}\n' }]);
  const mr = await dave.MergeRequests.create(P, 'req-1', 'main', title, { description: 'why' });
  return { iid: mr.iid as number, sha: mr.sha as string };
}

describe('users and tokens', () => {
  it('answers GET /user for PRIVATE-TOKEN and Bearer tokens, 401 without a valid one', async () => {
    expect((await client('alice-token-0001').Users.showCurrentUser()).username).toBe('alice');
    expect((await oauth('bob-token-00001').Users.showCurrentUser()).username).toBe('bob');
    const bad = await failure(client('not-a-token').Users.showCurrentUser());
    expect(bad).toEqual({ status: 401, description: '401 Unauthorized' });
    const res = await fetch(`${sandbox.apiUrl}/user`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ message: '401 Unauthorized' });
  });

  it('finds users by username and flags bots', async () => {
    const api = client('alice-token-0001');
    const [agent] = await api.Users.all({ username: 'deploy-agent' });
    expect(agent?.username).toBe('deploy-agent');
    expect((await api.Users.show(agent?.id as number)).bot).toBe(true);
    expect((await api.Users.show(1)).bot).toBe(false);
    expect(await api.Users.all({ username: 'nobody' })).toEqual([]);
  });
});

describe('blocked users', () => {
  it('are listed with state blocked and their tokens stop working', async () => {
    sandbox.user('dave').state = 'blocked';
    const [dave] = await client('alice-token-0001').Users.all({ username: 'dave' });
    expect(dave?.state).toBe('blocked');
    expect(await failure(client('dave-token-0001').Users.showCurrentUser())).toEqual({ status: 401, description: '401 Unauthorized' });
  });
});

describe('groups and projects', () => {
  it('lists direct and inherited members through parent groups', async () => {
    const root = client('root-token-0001');
    sandbox.state.ensureGroup('platform/leads');
    sandbox.addGroupMember('platform/leads', 'dave', 40);
    const direct = await root.GroupMembers.all('platform/leads');
    expect(direct.map((m) => m.username)).toEqual(['dave']);
    const all = await root.GroupMembers.all('platform/leads', { includeInherited: true });
    expect(all.map((m) => m.username).sort()).toEqual(['alice', 'bob', 'dave']);
  });

  it('looks projects up by URL-encoded path and by id; hides private projects from non-members', async () => {
    const api = client('alice-token-0001');
    const byPath = await api.Projects.show(P);
    expect(byPath.path_with_namespace).toBe(P);
    expect(byPath.default_branch).toBe('main');
    expect(byPath.web_url).toBe(`${sandbox.url}/${P}`);
    expect((await api.Projects.show(byPath.id)).id).toBe(byPath.id);
    sandbox.addUser({ username: 'eve', token: 'eve-token-00001' });
    expect((await failure(client('eve-token-00001').Projects.show(P))).status).toBe(404);
  });

  it('serves public projects to anonymous readers and internal ones to any signed-in user', async () => {
    const pub = sandbox.state.addProject({ path: 'oss/public-repo', visibility: 'public', files: { 'README.md': 'hi\n' } });
    const internal = sandbox.state.addProject({ path: 'oss/internal-repo', visibility: 'internal' });
    expect((await fetch(`${sandbox.apiUrl}/projects/${pub.id}`)).status).toBe(200);
    expect(await (await fetch(`${sandbox.apiUrl}/projects/oss%2Fpublic-repo/repository/files/README.md/raw`)).text()).toBe('hi\n');
    expect((await fetch(`${sandbox.apiUrl}/projects/${internal.id}`)).status).toBe(404);
    expect((await client('dave-token-0001').Projects.show(internal.id)).visibility).toBe('internal');
    // Reading is not writing: anonymous and outside users still cannot act.
    expect((await fetch(`${sandbox.apiUrl}/projects/${pub.id}/repository/branches`, { method: 'POST' })).status).toBe(401);
    expect((await failure(client('dave-token-0001').Branches.create(pub.id, 'x', 'main'))).status).toBe(403);
  });

  it('lists protected branches with their access levels', async () => {
    const api = client('alice-token-0001');
    const [main] = await api.ProtectedBranches.all(P);
    expect(main).toMatchObject({ name: 'main', merge_access_levels: [expect.objectContaining({ access_level: 40 })] });
    expect((await api.ProtectedBranches.show(P, 'main')).name).toBe('main');
    expect((await failure(api.ProtectedBranches.show(P, 'nope'))).status).toBe(404);
  });

  it('paginates with x-total, x-next-page and link headers that gitbeaker follows', async () => {
    const api = client('dave-token-0001');
    for (let i = 0; i < 5; i++) await api.Branches.create(P, `b-${i}`, 'main');
    const page = await api.Branches.all(P, { perPage: 2, page: 1, showExpanded: true, maxPages: 1 });
    expect(page.paginationInfo.total).toBe(6);
    expect(page.paginationInfo.next).toBe(2);
    expect(page.paginationInfo.totalPages).toBe(3);
    const all = await api.Branches.all(P, { perPage: 2 });
    expect(all.map((b) => b.name).sort()).toEqual(['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'main']);
  });
});

describe('repository', () => {
  it('commits create/update/move/delete with git-compatible ids and serves files and raw content', async () => {
    const api = client('dave-token-0001');
    await api.Branches.create(P, 'work', 'main');
    const c1 = await api.Commits.create(P, 'work', 'add', [
      { action: 'create', filePath: 'elevations/a.yaml', content: 'a: 1\n' },
      { action: 'update', filePath: 'README.md', content: '# changed\n' },
    ]);
    expect(c1.id).toMatch(/^[0-9a-f]{40}$/);
    const c2 = await api.Commits.create(P, 'work', 'move and delete', [
      { action: 'move', filePath: 'elevations/b.yaml', previousPath: 'elevations/a.yaml' },
      { action: 'delete', filePath: 'policy.yaml' },
    ]);
    expect(c2.parent_ids).toEqual([c1.id]);
    const shown = await api.Commits.show(P, c2.id);
    expect(shown.message).toBe('move and delete');
    const file = await api.RepositoryFiles.show(P, 'elevations/b.yaml', 'work');
    expect(Buffer.from(file.content, 'base64').toString()).toBe('a: 1\n');
    expect(file.last_commit_id).toBe(c2.id); // the move created this path
    expect(file.commit_id).toBe(c2.id);
    expect((await api.RepositoryFiles.show(P, 'README.md', 'work')).last_commit_id).toBe(c1.id);
    expect(file.blob_id).toMatch(/^[0-9a-f]{40}$/);
    expect(file.content_sha256).toBe(createHash('sha256').update('a: 1\n').digest('hex'));
    expect(await api.RepositoryFiles.showRaw(P, 'elevations/b.yaml', 'work')).toBe('a: 1\n');
    expect((await failure(api.RepositoryFiles.show(P, 'policy.yaml', 'work'))).status).toBe(404);
    expect((await api.RepositoryFiles.show(P, 'policy.yaml', 'main')).file_path).toBe('policy.yaml');
    const branch = await api.Branches.show(P, 'work');
    expect(branch.commit.id).toBe(c2.id);
    expect((await failure(api.Commits.show(P, 'f'.repeat(40)))).status).toBe(404);
  });

  it('lists the repository tree, one level or recursive', async () => {
    const api = client('dave-token-0001');
    await api.Commits.create(P, 'feature', 'add', [{ action: 'create', filePath: 'elevations/x/y.yaml', content: 'y' }], { startBranch: 'main' });
    const top = await api.Repositories.allRepositoryTrees(P, { ref: 'feature' });
    expect(top.map((e) => `${e.type}:${e.path}`)).toEqual(['tree:elevations', 'blob:README.md', 'blob:policy.yaml']);
    const deep = await api.Repositories.allRepositoryTrees(P, { ref: 'feature', path: 'elevations', recursive: true });
    expect(deep.map((e) => `${e.type}:${e.path}`)).toEqual(['tree:elevations/x', 'blob:elevations/x/y.yaml']);
    expect((await failure(api.Repositories.allRepositoryTrees(P, { ref: 'feature', path: 'nope' }))).status).toBe(404);
  });

  it('handles branch names with slashes and files in nested paths through URL encoding', async () => {
    const api = client('dave-token-0001');
    await api.Branches.create(P, 'feature/deep/x', 'main');
    await api.Commits.create(P, 'feature/deep/x', 'nested', [{ action: 'create', filePath: 'a/b/c d.yaml', content: 'x: 1\n' }]);
    expect((await api.Branches.show(P, 'feature/deep/x')).name).toBe('feature/deep/x');
    expect(await api.RepositoryFiles.showRaw(P, 'a/b/c d.yaml', 'feature/deep/x')).toBe('x: 1\n');
    await api.Branches.remove(P, 'feature/deep/x');
    expect((await failure(api.Branches.show(P, 'feature/deep/x'))).status).toBe(404);
  });

  it('refuses bad actions with GitLab errors and loses nothing', async () => {
    const api = client('dave-token-0001');
    await api.Branches.create(P, 'work', 'main');
    const before = (await api.Branches.show(P, 'work')).commit.id;
    const dup = await failure(api.Commits.create(P, 'work', 'dup', [{ action: 'create', filePath: 'README.md', content: 'x' }]));
    expect(dup).toEqual({ status: 400, description: 'A file with this name already exists' });
    const escape = await failure(api.Commits.create(P, 'work', 'x', [{ action: 'create', filePath: '../etc/passwd', content: 'x' }]));
    expect(escape.status).toBe(400);
    const weird = await failure(api.Commits.create(P, 'work', 'x', [{ action: 'explode' as 'create', filePath: 'a', content: 'x' }]));
    expect(weird.status).toBe(400);
    expect((await api.Branches.show(P, 'work')).commit.id).toBe(before);
    const protectedPush = await failure(api.Commits.create(P, 'main', 'x', [{ action: 'create', filePath: 'z', content: 'x' }]));
    expect(protectedPush.status).toBe(403);
  });

  it('records commit statuses and lists them for the commit', async () => {
    const api = client('alice-token-0001');
    const head = (await api.Branches.show(P, 'main')).commit.id;
    await api.Commits.editStatus(P, head, 'pending', { name: 'jit/approval-gate', description: 'checking', targetUrl: 'https://jit.example/e/1' });
    await api.Commits.editStatus(P, head, 'success', { name: 'jit/approval-gate', description: 'approved' });
    const statuses = await api.Commits.allStatuses(P, head);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ name: 'jit/approval-gate', status: 'success', description: 'approved', sha: head });
    const bad = await failure(api.Commits.editStatus(P, head, 'exploded' as 'success'));
    expect(bad.status).toBe(400);
  });

  it('answers a repeated status as GitLab does: an open status refuses the same state again, a finished one is retried by a new status', async () => {
    // Ci::CreateCommitStatusService and its spec: only a pending or running status of that name is
    // updated; "pending" twice is a 400 naming the state machine's event; a finished status posted
    // again (success after success, success after failed) becomes a new status, the newest listed.
    const api = client('alice-token-0001');
    const head = (await api.Branches.show(P, 'main')).commit.id;
    await api.Commits.editStatus(P, head, 'pending', { name: 'ci' });
    expect(await failure(api.Commits.editStatus(P, head, 'pending', { name: 'ci' }))).toEqual({
      status: 400,
      description: 'Cannot transition status via :enqueue from :pending (Reason(s): Status cannot transition via "enqueue")',
    });
    await api.Commits.editStatus(P, head, 'running', { name: 'ci' });
    expect((await failure(api.Commits.editStatus(P, head, 'running', { name: 'ci' }))).description).toMatch(/^Cannot transition status via :run from :running/);
    await api.Commits.editStatus(P, head, 'success', { name: 'ci', description: 'first' });
    await api.Commits.editStatus(P, head, 'success', { name: 'ci', description: 'again' });
    await api.Commits.editStatus(P, head, 'failed', { name: 'ci', description: 'then failed' });
    const latest = await api.Commits.allStatuses(P, head, { name: 'ci' });
    expect(latest.map((s) => [s.status, s.description])).toEqual([['failed', 'then failed']]);
    const all = await api.Commits.allStatuses(P, head, { name: 'ci', all: true });
    expect(all.map((s) => s.status)).toEqual(['success', 'success', 'failed']);
  });
});

describe('project events (pushes)', () => {
  it("lists every push as GitLab's Event with push_data, whoever's name the commit carries, webhooks or not; filters as GitLab's", async () => {
    await openMr(); // dave: a new branch, then a commit onto it
    const sha = sandbox.pushCommit({
      project: P,
      branch: 'req-1',
      author: 'alice',
      message: 'tweak\n\nbody',
      identity: { authorName: 'dave', authorEmail: 'dave@example.com' },
      files: { 'elevations/orders.yaml': 'spec: {x: 1}\n' },
    });
    const api = client('alice-token-0001');
    const events = (await api.Events.all({ projectId: P, action: 'pushed' })) as Array<Record<string, any>>;
    expect(events.map((e) => [e.action_name, e.author_username, e.push_data.ref])).toEqual([
      ['pushed to', 'alice', 'req-1'],
      ['pushed to', 'dave', 'req-1'],
      ['pushed new', 'dave', 'req-1'],
    ]);
    const newest = events[0]!;
    expect(newest).toMatchObject({
      project_id: sandbox.project(P).id,
      target_id: null,
      target_type: null,
      author_id: sandbox.user('alice').id,
      author: { username: 'alice', state: 'active' },
      push_data: { commit_count: 1, action: 'pushed', ref_type: 'branch', commit_to: sha, ref: 'req-1', commit_title: 'tweak' },
    });
    expect(newest.push_data.commit_from).toBe(events[1]!.push_data.commit_to);
    expect(events[2]!.push_data).toMatchObject({ action: 'created', commit_from: null });
    expect(Number.isNaN(Date.parse(newest.created_at))).toBe(false);
    // only pushes are kept: any other action or a target type lists nothing; `after` is exclusive by day
    expect(await api.Events.all({ projectId: P, action: 'commented' })).toEqual([]);
    expect(await api.Events.all({ projectId: P, targetType: 'merge_request' })).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(await api.Events.all({ projectId: P, action: 'pushed', after: today })).toEqual([]);
    expect(await api.Events.all({ projectId: P, action: 'pushed', after: yesterday })).toHaveLength(3);
    expect(((await api.Events.all({ projectId: P, sort: 'asc' })) as Array<Record<string, any>>)[0]!.action_name).toBe('pushed new');
    expect((await failure(api.Events.all({ projectId: P, after: 'soon' }))).status).toBe(400);
    expect((await failure(api.Events.all({ projectId: P, action: 'frobbed' as 'pushed' }))).status).toBe(400);
  });
});

describe('merge requests', () => {
  it('creates, shows, lists with filters, edits, closes and reopens', async () => {
    const { iid, sha } = await openMr();
    const api = client('dave-token-0001');
    const mr = await api.MergeRequests.show(P, iid);
    expect(mr).toMatchObject({ iid, state: 'opened', sha, source_branch: 'req-1', target_branch: 'main', detailed_merge_status: 'not_approved' });
    expect(mr.diff_refs).toMatchObject({ head_sha: sha });
    expect((await api.MergeRequests.all({ projectId: P, state: 'opened', sourceBranch: 'req-1' })).map((m) => m.iid)).toEqual([iid]);
    expect(await api.MergeRequests.all({ projectId: P, state: 'merged' })).toEqual([]);
    expect((await api.MergeRequests.all({ projectId: P, authorUsername: 'dave' })).length).toBe(1);
    const edited = await api.MergeRequests.edit(P, iid, { title: 'Draft: new title', labels: 'elevation,db' });
    expect(edited).toMatchObject({ title: 'Draft: new title', draft: true, labels: ['elevation', 'db'], detailed_merge_status: 'draft_status' });
    expect((await api.MergeRequests.edit(P, iid, { stateEvent: 'close' })).state).toBe('closed');
    expect((await api.MergeRequests.edit(P, iid, { stateEvent: 'reopen' })).state).toBe('opened');
    const dup = await failure(api.MergeRequests.create(P, 'req-1', 'main', 'again'));
    expect(dup.status).toBe(409);
    expect((await failure(api.MergeRequests.show(P, 999))).status).toBe(404);
  });

  it('filters the MR list by updated_after/updated_before, orders by updated_at, refuses bad filters', async () => {
    let clock = Date.parse('2026-03-01T10:00:00Z');
    const timed = await startSandbox({ seed: DEMO_SEED, now: () => new Date(clock) });
    try {
      const dave = new Gitlab({ host: timed.url, token: 'dave-token-0001' });
      const iids: number[] = [];
      for (const n of [1, 2, 3]) {
        await dave.Branches.create(P, `r-${n}`, 'main');
        await dave.Commits.create(P, `r-${n}`, 'req', [{ action: 'create', filePath: `elevations/r-${n}.yaml`, content: `n: ${n}\n` }]);
        iids.push((await dave.MergeRequests.create(P, `r-${n}`, 'main', `r-${n}`)).iid as number);
        clock += 60_000;
      }
      // The first MR moves last: a new push updates it.
      await dave.Commits.create(P, 'r-1', 'again', [{ action: 'update', filePath: 'elevations/r-1.yaml', content: 'n: 11\n' }]);
      const list = (q: Record<string, unknown>) => dave.MergeRequests.all({ projectId: P, ...q } as never).then((l) => l.map((m) => m.iid));
      expect(await list({ orderBy: 'updated_at', sort: 'asc' })).toEqual([iids[1], iids[2], iids[0]]);
      expect(await list({ orderBy: 'updated_at', sort: 'desc' })).toEqual([iids[0], iids[2], iids[1]]);
      expect(await list({ sort: 'asc' })).toEqual(iids);
      expect(await list({ updatedAfter: '2026-03-01T10:02:00Z', orderBy: 'updated_at', sort: 'asc' })).toEqual([iids[2], iids[0]]);
      expect(await list({ updatedBefore: '2026-03-01T10:01:00Z', sort: 'asc' })).toEqual([iids[1]]);
      expect(await list({ updatedAfter: '2026-03-01T10:02:00Z', perPage: 1, sort: 'asc', orderBy: 'updated_at' })).toEqual([iids[2], iids[0]]);
      for (const [q, error] of [
        ['updated_after=yesterday', 'updated_after is invalid'],
        ['order_by=iid', 'order_by does not have a valid value'],
        ['sort=sideways', 'sort does not have a valid value'],
      ] as const) {
        const res = await fetch(`${timed.apiUrl}/projects/${encodeURIComponent(P)}/merge_requests?${q}`, { headers: { 'private-token': 'dave-token-0001' } });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error });
      }
    } finally {
      await timed.close();
    }
  });

  it('serves diffs and changes with unified diff text', async () => {
    const { iid } = await openMr();
    const api = client('dave-token-0001');
    const diffs = await api.MergeRequests.allDiffs(P, iid);
    expect(diffs).toEqual([expect.objectContaining({ new_path: 'elevations/orders.yaml', new_file: true, deleted_file: false, diff: '@@ -0,0 +1 @@\n+spec: {}\n' })]);
    const changes = await api.MergeRequests.showChanges(P, iid);
    expect(changes.changes).toHaveLength(1);
  });

  it('merges with a two-parent merge commit on the target once approved (premium)', async () => {
    const { iid, sha } = await openMr();
    const alice = client('alice-token-0001');
    const notYet = await failure(alice.MergeRequests.merge(P, iid));
    expect(notYet).toEqual({ status: 405, description: '405 Method Not Allowed' });
    await alice.MergeRequestApprovals.approve(P, iid, { sha });
    const wrongSha = await failure(alice.MergeRequests.merge(P, iid, { sha: 'a'.repeat(40) }));
    expect(wrongSha).toEqual({ status: 409, description: 'SHA does not match HEAD of source branch' });
    const oldMain = (await alice.Branches.show(P, 'main')).commit.id;
    const merged = await alice.MergeRequests.merge(P, iid, { sha });
    expect(merged.state).toBe('merged');
    const mc = await alice.Commits.show(P, merged.merge_commit_sha as string);
    expect(mc.parent_ids).toEqual([oldMain, sha]);
    expect((await alice.Branches.show(P, 'main')).commit.id).toBe(merged.merge_commit_sha);
    expect(await alice.RepositoryFiles.showRaw(P, 'elevations/orders.yaml', 'main')).toBe('spec: {}\n');
    const again = await failure(alice.MergeRequests.merge(P, iid));
    expect(again.status).toBe(405);
  });

  it('refuses a merge by a user without merge rights on the protected target (401)', async () => {
    const { iid, sha } = await openMr();
    await client('alice-token-0001').MergeRequestApprovals.approve(P, iid, { sha });
    expect(await failure(client('dave-token-0001').MergeRequests.merge(P, iid))).toEqual({ status: 401, description: '401 Unauthorized' });
  });

  it('reports conflicts and refuses to merge them', async () => {
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    await alice.Commits.create(P, 'main', 'conflicting', [{ action: 'create', filePath: 'elevations/orders.yaml', content: 'other\n' }]);
    const mr = await alice.MergeRequests.show(P, iid);
    expect(mr).toMatchObject({ has_conflicts: true, detailed_merge_status: 'conflict', merge_status: 'cannot_be_merged' });
    await alice.MergeRequestApprovals.approve(P, iid);
    expect((await failure(alice.MergeRequests.merge(P, iid))).status).toBe(405);
  });
});

describe('approvals', () => {
  it('approve/unapprove, GET approvals and approval_state with rules', async () => {
    const { iid, sha } = await openMr();
    const alice = client('alice-token-0001');
    let approvals = await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(approvals).toMatchObject({ approved: false, approvals_required: 1, approvals_left: 1, approved_by: [], has_approval_rules: true, user_can_approve: true });
    expect(approvals.approval_rules_left).toEqual([expect.objectContaining({ name: 'platform' })]);
    const wrong = await failure(alice.MergeRequestApprovals.approve(P, iid, { sha: 'b'.repeat(40) }));
    expect(wrong).toEqual({ status: 409, description: `SHA does not match HEAD of source branch: ${sha}` });
    await alice.MergeRequestApprovals.approve(P, iid, { sha });
    approvals = await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(approvals).toMatchObject({ approved: true, approvals_left: 0, user_has_approved: true, user_can_approve: false, approval_rules_left: [] });
    expect((approvals.approved_by as { user: { username: string } }[]).map((a) => a.user.username)).toEqual(['alice']);
    const twice = await failure(alice.MergeRequestApprovals.approve(P, iid));
    expect(twice.status).toBe(401);
    const st = await alice.MergeRequestApprovals.showApprovalState(P, iid);
    expect(st.rules).toEqual([expect.objectContaining({ name: 'platform', approved: true, approvals_required: 1 })]);
    expect((st.rules[0]?.approved_by as { username: string }[]).map((u) => u.username)).toEqual(['alice']);
    await alice.MergeRequestApprovals.unapprove(P, iid);
    expect((await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid })).approvals_left).toBe(1);
    expect((await failure(alice.MergeRequestApprovals.unapprove(P, iid))).status).toBe(404);
  });

  it('counts only eligible approvers towards a rule', async () => {
    const { iid } = await openMr();
    sandbox.addUser({ username: 'mallory', token: 'mallory-token-1' });
    sandbox.addProjectMember(P, 'mallory', 30);
    await client('mallory-token-1').MergeRequestApprovals.approve(P, iid);
    const a = await client('alice-token-0001').MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(a).toMatchObject({ approvals_left: 1, approved: false });
    expect((await client('alice-token-0001').MergeRequests.show(P, iid)).detailed_merge_status).toBe('not_approved');
  });

  it('MR approval rules CRUD', async () => {
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    const bob = await sandbox.user('bob');
    const rule = await alice.MergeRequestApprovals.createApprovalRule(P, 'destructive', 2, { mergerequestIId: iid, userIds: [bob.id, 1] });
    expect(rule).toMatchObject({ name: 'destructive', approvals_required: 2, rule_type: 'regular' });
    expect((rule.users as { username: string }[]).map((u) => u.username).sort()).toEqual(['alice', 'bob']);
    const edited = await alice.MergeRequestApprovals.editApprovalRule(P, rule.id, 'destructive', 1, { mergerequestIId: iid });
    expect(edited.approvals_required).toBe(1);
    expect((await alice.MergeRequestApprovals.allApprovalRules(P, { mergerequestIId: iid })).map((r) => r.name)).toEqual(['platform', 'destructive']);
    await alice.MergeRequestApprovals.removeApprovalRule(P, rule.id, { mergerequestIId: iid });
    expect((await alice.MergeRequestApprovals.allApprovalRules(P, { mergerequestIId: iid })).map((r) => r.name)).toEqual(['platform']);
    expect((await failure(alice.MergeRequestApprovals.removeApprovalRule(P, 9999, { mergerequestIId: iid }))).status).toBe(404);
    const missing = await failure(alice.MergeRequestApprovals.createApprovalRule(P, '', 1, { mergerequestIId: iid }));
    expect(missing).toEqual({ status: 400, description: 'name is missing' });
  });

  it('refuses the author approving when author approval is off, with GitLab 401', async () => {
    const { iid } = await openMr();
    const dave = client('dave-token-0001');
    expect(await failure(dave.MergeRequestApprovals.approve(P, iid))).toEqual({ status: 401, description: '401 Unauthorized' });
    await client('alice-token-0001').MergeRequestApprovals.editConfiguration(P, { mergeRequestsAuthorApproval: true });
    await dave.MergeRequestApprovals.approve(P, iid);
    expect((await dave.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid })).user_has_approved).toBe(true);
  });

  it('refuses committers when committer approval is disabled', async () => {
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    await alice.MergeRequestApprovals.editConfiguration(P, { mergeRequestsDisableCommittersApproval: true });
    await alice.Commits.create(P, 'req-1', 'alice commits too', [{ action: 'create', filePath: 'x.txt', content: 'x' }]);
    expect((await failure(alice.MergeRequestApprovals.approve(P, iid))).status).toBe(401);
    await client('bob-token-00001').MergeRequestApprovals.approve(P, iid);
  });

  it('removes approvals on push when reset_approvals_on_push is on, keeps them when off', async () => {
    const { iid, sha } = await openMr();
    const alice = client('alice-token-0001');
    await alice.MergeRequestApprovals.approve(P, iid, { sha });
    sandbox.pushCommit({ project: P, branch: 'req-1', author: 'dave', files: { 'elevations/orders.yaml': 'spec: {changed: true}\n' } });
    let a = await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(a).toMatchObject({ approved_by: [], approvals_left: 1 });
    await alice.MergeRequestApprovals.approve(P, iid);
    sandbox.setApprovalSettings(P, { reset_approvals_on_push: false });
    sandbox.pushCommit({ project: P, branch: 'req-1', author: 'dave', files: { 'elevations/orders.yaml': 'spec: {again: true}\n' } });
    a = await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(a.approvals_left).toBe(0);
  });

  it('free tier: approvals recorded but block nothing; Premium-only endpoints answer 403', async () => {
    sandbox.setProjectTier(P, 'free');
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    const dave = client('dave-token-0001');
    expect((await alice.MergeRequests.show(P, iid)).detailed_merge_status).toBe('mergeable');
    await dave.MergeRequestApprovals.approve(P, iid); // the author may approve on Free
    const a = await alice.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: iid });
    expect(a).toMatchObject({ approvals_required: 0, approvals_left: 0, approved: true });
    for (const call of [
      () => alice.MergeRequestApprovals.allApprovalRules(P, { mergerequestIId: iid }),
      () => alice.MergeRequestApprovals.createApprovalRule(P, 'x', 1, { mergerequestIId: iid }),
      () => alice.MergeRequestApprovals.showApprovalState(P, iid),
      () => alice.MergeRequestApprovals.showConfiguration(P),
      () => alice.MergeRequestApprovals.editConfiguration(P, { resetApprovalsOnPush: true }),
    ])
      expect(await failure(call())).toEqual({ status: 403, description: '403 Forbidden' });
    await dave.MergeRequestApprovals.unapprove(P, iid);
    expect((await alice.MergeRequests.merge(P, iid)).state).toBe('merged');
  });

  it('project approval settings round-trip', async () => {
    const alice = client('alice-token-0001');
    const s = await alice.MergeRequestApprovals.editConfiguration(P, { resetApprovalsOnPush: false, disableOverridingApproversPerMergeRequest: true });
    expect(s).toMatchObject({ reset_approvals_on_push: false, disable_overriding_approvers_per_merge_request: true, merge_requests_author_approval: false });
    expect(await alice.MergeRequestApprovals.showConfiguration(P)).toMatchObject({ reset_approvals_on_push: false });
    const { iid } = await openMr();
    expect((await failure(alice.MergeRequestApprovals.createApprovalRule(P, 'x', 1, { mergerequestIId: iid }))).status).toBe(403);
    expect((await failure(client('dave-token-0001').MergeRequestApprovals.editConfiguration(P, { resetApprovalsOnPush: true }))).status).toBe(403);
  });
});

describe('notes, labels, issues, hooks', () => {
  it('creates, edits, lists and deletes MR notes', async () => {
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    const note = await alice.MergeRequestNotes.create(P, iid, 'looks fine');
    expect(note).toMatchObject({ body: 'looks fine', noteable_type: 'MergeRequest', noteable_iid: iid });
    expect((await alice.MergeRequestNotes.edit(P, iid, note.id, { body: 'looks good' })).body).toBe('looks good');
    expect((await alice.MergeRequestNotes.all(P, iid)).map((n) => n.body)).toEqual(['looks good']);
    expect((await failure(client('dave-token-0001').MergeRequestNotes.remove(P, iid, note.id))).status).toBe(403);
    await alice.MergeRequestNotes.remove(P, iid, note.id);
    expect(await alice.MergeRequestNotes.all(P, iid)).toEqual([]);
    expect((await failure(alice.MergeRequestNotes.create(P, iid, ''))).status).toBe(400);
  });

  it('labels and issues (break-glass reviews)', async () => {
    const alice = client('alice-token-0001');
    await alice.ProjectLabels.create(P, 'break-glass', '#ff0000');
    expect((await failure(alice.ProjectLabels.create(P, 'break-glass', '#ff0000'))).status).toBe(409);
    const issue = await alice.Issues.create(P, 'Review break-glass !1', { labels: 'break-glass', description: 'within 24h' });
    expect(issue).toMatchObject({ iid: 1, state: 'opened', labels: ['break-glass'] });
    expect((await alice.Issues.all({ projectId: P, labels: 'break-glass' })).map((i) => i.iid)).toEqual([1]);
    expect((await alice.ProjectLabels.all(P)).map((l) => l.name)).toEqual(['break-glass']);
  });

  it('project hooks: create (tokens never echoed), list, delete', async () => {
    const alice = client('alice-token-0001');
    const hook = await alice.ProjectHooks.add(P, 'http://127.0.0.1:1/x', { token: 'tok-123456', mergeRequestsEvents: true, noteEvents: true });
    expect(hook).toMatchObject({ url: 'http://127.0.0.1:1/x', merge_requests_events: true, note_events: true, token_present: true, signing_token_present: false });
    expect(JSON.stringify(hook)).not.toContain('tok-123456');
    const signingToken = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    // gitbeaker 43 predates signing tokens; it passes unknown options through (camelCase -> snake_case).
    const signingOpts = (t: string) => ({ token: undefined, signingToken: t });
    const signed = await alice.ProjectHooks.add(P, 'http://127.0.0.1:1/y', signingOpts(signingToken));
    expect(signed.signing_token_present).toBe(true);
    expect(JSON.stringify(signed)).not.toContain(signingToken.slice(6));
    expect((await failure(alice.ProjectHooks.add(P, 'http://127.0.0.1:1/z', signingOpts(`whsec_${Buffer.alloc(16).toString('base64')}`)))).status).toBe(400);
    await alice.ProjectHooks.remove(P, signed.id);
    expect((await alice.ProjectHooks.all(P)).length).toBe(2);
    await alice.ProjectHooks.remove(P, hook.id);
    expect((await alice.ProjectHooks.all(P)).length).toBe(1);
    expect((await failure(client('dave-token-0001').ProjectHooks.all(P))).status).toBe(403);
    expect((await failure(alice.ProjectHooks.add(P, 'ftp://x'))).status).toBe(400);
  });
});

describe('webhooks', () => {
  it('delivers MR and note events in order with GitLab headers', async () => {
    const { iid, sha } = await openMr();
    const alice = client('alice-token-0001');
    await alice.MergeRequestNotes.create(P, iid, 'on it');
    await alice.MergeRequestApprovals.approve(P, iid, { sha });
    await alice.MergeRequests.merge(P, iid);
    await sandbox.idle();
    const got = receiver.received.map((r) => `${r.headers['x-gitlab-event']}:${r.json.object_attributes.action}`);
    expect(got).toEqual(['Merge Request Hook:open', 'Note Hook:create', 'Merge Request Hook:approved', 'Merge Request Hook:merge']);
    const first = receiver.received[0] as (typeof receiver.received)[number];
    expect(first.headers).toMatchObject({
      'content-type': 'application/json',
      'x-gitlab-token': 'hook-secret-token',
      'x-gitlab-instance': sandbox.url,
      'user-agent': 'GitLab/19.0.0-ee',
    });
    for (const h of ['x-gitlab-event-uuid', 'x-gitlab-webhook-uuid', 'idempotency-key']) expect(first.headers[h]).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.headers['webhook-signature']).toBeUndefined();
    // No assignees or reviewers on this MR: GitLab leaves the keys out.
    expect(first.json).not.toHaveProperty('assignees');
    expect(first.json).not.toHaveProperty('reviewers');
    const merge = receiver.received[3]?.json;
    expect(merge.object_attributes.merge_commit_sha).toMatch(/^[0-9a-f]{40}$/);
    expect(merge.object_attributes.state).toBe('merged');
  });

  it('sends update with oldrev only when code changed', async () => {
    const { iid, sha } = await openMr();
    await client('dave-token-0001').MergeRequests.edit(P, iid, { title: 'retitled' });
    const newSha = sandbox.pushCommit({ project: P, branch: 'req-1', author: 'dave', files: { 'elevations/orders.yaml': 'spec: {x: 1}\n' } });
    await sandbox.idle();
    const [, edit, push] = receiver.received.map((r) => r.json);
    expect(edit.object_attributes.action).toBe('update');
    expect(edit.object_attributes).not.toHaveProperty('oldrev');
    expect(edit.changes.title).toEqual({ previous: 'Elevate orders-db write', current: 'retitled' });
    expect(push.object_attributes.action).toBe('update');
    expect(push.object_attributes.oldrev).toBe(sha);
    expect(push.object_attributes.last_commit.id).toBe(newSha);
  });

  it('free tier: every approval is "approved"; only the removal that leaves none is "unapproved"', async () => {
    sandbox.setProjectTier(P, 'free');
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    const bob = client('bob-token-00001');
    await alice.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.unapprove(P, iid);
    await alice.MergeRequestApprovals.unapprove(P, iid);
    await sandbox.idle();
    expect(receiver.received.map((r) => r.json.object_attributes.action)).toEqual(['open', 'approved', 'approved', 'unapproval', 'unapproved']);
  });

  it('sends approval (partial) then approved on premium, and unapproved/unapproval', async () => {
    const { iid } = await openMr();
    const alice = client('alice-token-0001');
    const bob = client('bob-token-00001');
    await alice.MergeRequestApprovals.createApprovalRule(P, 'two', 2, { mergerequestIId: iid, usernames: ['alice', 'bob'] });
    await alice.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.unapprove(P, iid);
    await alice.MergeRequestApprovals.unapprove(P, iid);
    await alice.MergeRequests.edit(P, iid, { stateEvent: 'close' });
    await alice.MergeRequests.edit(P, iid, { stateEvent: 'reopen' });
    await sandbox.idle();
    expect(receiver.received.map((r) => r.json.object_attributes.action)).toEqual(['open', 'approval', 'approved', 'unapproved', 'unapproval', 'close', 'reopen']);
  });
});
