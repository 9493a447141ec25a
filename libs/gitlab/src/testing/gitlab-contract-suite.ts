// What jit uses from GitLab, as one vitest suite run against both GitLab doubles (FakeGitlab and the
// GitLab sandbox) through the GitlabClient facade jit itself calls, so the doubles cannot drift apart
// or away from GitLab: projects and files, an MR's changes, commits and diff versions, approvals and
// approval rules (and the Free tier's answer to them), commit statuses, notes, users and groups,
// merge, issues and push events. The expectations are GitLab's documented behaviour; where a double
// disagrees, the double is fixed, not the suite.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isApprovalRulesUnsupported, type GitlabClient } from '../types';

/** The world every double is seeded with before the suite runs. */
export const GITLAB_CONTRACT_WORLD = {
  bot: 'jit-bot',
  users: [
    { username: 'jit-bot', bot: true },
    { username: 'dev', email: 'dev@example.com' },
    { username: 'carol' },
    { username: 'dave' },
    /** Maintainer of both projects: may merge into the protected default branch. */
    { username: 'maint' },
  ],
  // jit's bot must see a private group to read its members (GitLab answers 404 to others)
  groups: [{ path: 'platform', members: ['carol', 'dave', 'jit-bot'] }],
  projects: [
    { path: 'sec/premium', tier: 'premium', files: { 'policy.yaml': 'tiers: {}\n', 'README.md': 'elevations\n' } },
    { path: 'sec/free', tier: 'free', files: { 'policy.yaml': 'tiers: {}\n' } },
  ],
  /** Access levels on both projects (GitLab's numbers). */
  access: { 'jit-bot': 40, maint: 40, dev: 30, carol: 30, dave: 30 },
} as const satisfies GitlabContractWorld;

export interface GitlabContractWorld {
  bot: string;
  users: ReadonlyArray<{ username: string; bot?: boolean; email?: string }>;
  groups: ReadonlyArray<{ path: string; members: readonly string[] }>;
  projects: ReadonlyArray<{ path: string; tier: 'premium' | 'free'; files: Readonly<Record<string, string>> }>;
  access: Readonly<Record<string, number>>;
}

export interface GitlabContractHarness {
  /** jit's GitLab client acting as `username` (its token, on the sandbox). */
  client(username: string): GitlabClient;
  /** The commit statuses the double holds for `sha` in the project, oldest first (jit only writes them). */
  statuses(projectPath: string, sha: string): Array<{ name: string; state: string; description?: string }>;
  close?(): Promise<void>;
}

const SHA = /^[0-9a-f]{40}$/;
const isoTime = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

export function runGitlabContractSuite(name: string, open: (world: GitlabContractWorld) => Promise<GitlabContractHarness>): void {
  describe(`GitLab contract: ${name}`, () => {
    let harness: GitlabContractHarness;
    let seq = 0;
    const branch = (prefix: string) => `${prefix}-${++seq}`;
    const as = (username: string) => harness.client(username);
    const bot = () => as(GITLAB_CONTRACT_WORLD.bot);

    beforeAll(async () => {
      harness = await open(GITLAB_CONTRACT_WORLD);
    });
    afterAll(async () => {
      await harness?.close?.();
    });

    /** dev opens an MR from a new branch with `files` committed on it (one commit per entry of `commits`). */
    async function openMr(project: string, commits: Array<Record<string, string | null>>, title = 'request') {
      const dev = as('dev');
      const p = await dev.projects.show(project);
      const source = branch('req');
      await dev.branches.create(p.id, source, p.defaultBranch);
      const ids: string[] = [];
      const present = new Set(Object.keys(GITLAB_CONTRACT_WORLD.projects.find((x) => x.path === project)!.files));
      for (const files of commits) {
        const actions = Object.entries(files).map(([filePath, content]) => {
          const action = content === null ? ('delete' as const) : present.has(filePath) ? ('update' as const) : ('create' as const);
          if (content === null) present.delete(filePath);
          else present.add(filePath);
          return content === null ? { action, filePath } : { action, filePath, content };
        });
        ids.push((await dev.commits.create(p.id, source, `commit ${ids.length + 1}`, actions)).id);
      }
      const mr = await dev.mergeRequests.create(p.id, { sourceBranch: source, targetBranch: p.defaultBranch, title, description: 'why' });
      return { project: p, mr, commits: ids, source };
    }

    it('shows a project by its path and by its id', async () => {
      const byPath = await bot().projects.show('sec/premium');
      expect(byPath).toMatchObject({ id: expect.any(Number), defaultBranch: 'main', pathWithNamespace: 'sec/premium' });
      expect(await bot().projects.show(byPath.id)).toMatchObject({ id: byPath.id, pathWithNamespace: 'sec/premium' });
      await expect(bot().projects.show('sec/nowhere')).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND', retriable: false });
    });

    it('shows a file as its exact bytes at a branch or a commit, with its git blob id; a missing file is not found', async () => {
      const bytes = 'spec:\n  note: "caf\u00e9"\n';
      const { project, commits, source } = await openMr('sec/premium', [{ 'elevations/bytes.yaml': bytes }]);
      for (const ref of [commits[0]!, source]) {
        const file = await bot().files.show(project.id, 'elevations/bytes.yaml', ref);
        expect(Buffer.from(file.content).toString('utf8')).toBe(bytes);
        expect(file).toMatchObject({ path: 'elevations/bytes.yaml', commitId: commits[0], size: Buffer.byteLength(bytes) });
        expect(file.blobId).toBe(gitBlobId(bytes));
      }
      expect(Buffer.from((await bot().files.show(project.id, 'policy.yaml', 'main')).content).toString('utf8')).toBe('tiers: {}\n');
      await expect(bot().files.show(project.id, 'elevations/none.yaml', 'main')).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND' });
    });

    it('opens an MR: shown and listed with its author, branches, head sha, times, and no merge yet', async () => {
      const { project, mr, commits, source } = await openMr('sec/premium', [{ 'elevations/open.yaml': 'a: 1\n' }], 'open me');
      expect(mr).toMatchObject({
        iid: expect.any(Number),
        projectId: project.id,
        title: 'open me',
        description: 'why',
        state: 'opened',
        sourceBranch: source,
        targetBranch: 'main',
        sha: commits[0],
        mergeCommitSha: null,
        author: { username: 'dev' },
        createdAt: isoTime,
        updatedAt: isoTime,
        mergedAt: null,
        mergedBy: null,
      });
      expect(await bot().mergeRequests.show(project.id, mr.iid)).toEqual(mr);
      const listed = await bot().mergeRequests.all(project.id, { state: 'opened' });
      expect(listed.map((m) => m.iid)).toContain(mr.iid);
      expect((await bot().mergeRequests.all(project.id, { state: 'merged' })).map((m) => m.iid)).not.toContain(mr.iid);
      await expect(bot().mergeRequests.show(project.id, 99_999)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND' });
    });

    it("lists an MR's changes against its target: new, changed and deleted files", async () => {
      const { project, mr } = await openMr('sec/premium', [{ 'elevations/new.yaml': 'n: 1\n', 'policy.yaml': 'tiers: { x: 1 }\n', 'README.md': null }]);
      const diffs = await bot().mergeRequests.diffs(project.id, mr.iid);
      const byPath = Object.fromEntries(diffs.map((d) => [d.newPath, d]));
      expect(Object.keys(byPath).sort()).toEqual(['README.md', 'elevations/new.yaml', 'policy.yaml']);
      expect(byPath['elevations/new.yaml']).toMatchObject({ oldPath: 'elevations/new.yaml', newFile: true, deletedFile: false, renamedFile: false });
      expect(byPath['policy.yaml']).toMatchObject({ oldPath: 'policy.yaml', newFile: false, deletedFile: false, renamedFile: false });
      expect(byPath['README.md']).toMatchObject({ oldPath: 'README.md', newFile: false, deletedFile: true });
    });

    it("lists an MR's commits (every commit on its branch) and one diff version per head, newest first", async () => {
      const { project, mr, commits, source } = await openMr('sec/premium', [{ 'elevations/c.yaml': 'c: 1\n' }, { 'elevations/c.yaml': 'c: 2\n' }]);
      const listed = await bot().mergeRequests.commits(project.id, mr.iid);
      expect(listed.map((c) => c.id).sort()).toEqual([...commits].sort());
      for (const c of listed) expect(c).toMatchObject({ authorName: expect.any(String), authorEmail: expect.any(String), committerEmail: expect.any(String) });
      const before = await bot().mergeRequests.versions(project.id, mr.iid);
      expect(before[0]).toMatchObject({ id: expect.any(Number), headCommitSha: commits[1], createdAt: isoTime });
      const third = (await as('dev').commits.create(project.id, source, 'more', [{ action: 'create', filePath: 'elevations/d.yaml', content: 'd\n' }])).id;
      const after = await bot().mergeRequests.versions(project.id, mr.iid);
      expect(after).toHaveLength(before.length + 1);
      expect(after[0]!.headCommitSha).toBe(third);
      expect(after[0]!.id).not.toBe(before[0]!.id);
      expect((await bot().mergeRequests.show(project.id, mr.iid)).sha).toBe(third);
    });

    it('writes approval rules, reads them back and edits them; approvals and the approval state follow who approved', async () => {
      const { project, mr } = await openMr('sec/premium', [{ 'elevations/rule.yaml': 'r: 1\n' }]);
      const carol = (await bot().users.byUsername('carol'))!;
      const dave = (await bot().users.byUsername('dave'))!;
      const rule = await bot().approvalRules.create(project.id, mr.iid, { name: 'jit:reversible-write', approvalsRequired: 1, userIds: [carol.id] });
      if (isApprovalRulesUnsupported(rule)) throw new Error('a premium project answers approval rules');
      expect(rule).toMatchObject({ id: expect.any(Number), name: 'jit:reversible-write', approvalsRequired: 1, userIds: [carol.id], usernames: ['carol'] });
      expect(await bot().approvalRules.all(project.id, mr.iid)).toEqual([expect.objectContaining({ id: rule.id, name: 'jit:reversible-write', userIds: [carol.id] })]);
      const edited = await bot().approvalRules.edit(project.id, mr.iid, rule.id, { name: 'jit:reversible-write', approvalsRequired: 2, userIds: [carol.id, dave.id] });
      expect(edited).toMatchObject({ id: rule.id, approvalsRequired: 2 });
      if (isApprovalRulesUnsupported(edited)) throw new Error('unreachable');
      expect([...edited.userIds].sort()).toEqual([carol.id, dave.id].sort());

      expect(await bot().mergeRequests.approvals(project.id, mr.iid)).toMatchObject({ approvalsRequired: 2, approvalsLeft: 2, approvedBy: [] });
      await as('carol').mergeRequests.approve(project.id, mr.iid);
      const one = await bot().mergeRequests.approvals(project.id, mr.iid);
      expect(one).toMatchObject({ approvalsRequired: 2, approvalsLeft: 1 });
      expect(one.approvedBy).toEqual([{ userId: carol.id, username: 'carol', approvedAt: isoTime }]);
      const state = await bot().mergeRequests.approvalState(project.id, mr.iid);
      if (isApprovalRulesUnsupported(state)) throw new Error('a premium project answers the approval state');
      expect(state.rules).toEqual([expect.objectContaining({ id: rule.id, name: 'jit:reversible-write', approved: false, approvalsRequired: 2, approvedBy: ['carol'] })]);
      await as('dave').mergeRequests.approve(project.id, mr.iid);
      const both = await bot().mergeRequests.approvalState(project.id, mr.iid);
      expect(isApprovalRulesUnsupported(both) ? undefined : both.rules[0]).toMatchObject({ approved: true });
      await as('carol').mergeRequests.unapprove(project.id, mr.iid);
      expect((await bot().mergeRequests.approvals(project.id, mr.iid)).approvedBy.map((a) => a.username)).toEqual(['dave']);
    });

    it('reads and edits the project approval settings', async () => {
      const { id } = await bot().projects.show('sec/premium');
      const edited = await bot().approvalSettings.edit(id, { mergeRequestsAuthorApproval: false, mergeRequestsDisableCommittersApproval: true, resetApprovalsOnPush: true });
      expect(edited).toMatchObject({ mergeRequestsAuthorApproval: false, mergeRequestsDisableCommittersApproval: true, resetApprovalsOnPush: true });
      expect(await bot().approvalSettings.show(id)).toMatchObject({ mergeRequestsAuthorApproval: false, mergeRequestsDisableCommittersApproval: true, resetApprovalsOnPush: true });
    });

    it('answers approval rules, settings and state on a Free project as unsupported, not as an error; approvals still list who approved', async () => {
      const { project, mr } = await openMr('sec/free', [{ 'elevations/free.yaml': 'f: 1\n' }]);
      expect(isApprovalRulesUnsupported(await bot().approvalRules.all(project.id, mr.iid))).toBe(true);
      expect(isApprovalRulesUnsupported(await bot().approvalRules.create(project.id, mr.iid, { name: 'jit:x', approvalsRequired: 1, userIds: [] }))).toBe(true);
      expect(isApprovalRulesUnsupported(await bot().approvalSettings.show(project.id))).toBe(true);
      expect(isApprovalRulesUnsupported(await bot().approvalSettings.edit(project.id, { resetApprovalsOnPush: true }))).toBe(true);
      expect(isApprovalRulesUnsupported(await bot().mergeRequests.approvalState(project.id, mr.iid))).toBe(true);
      await as('carol').mergeRequests.approve(project.id, mr.iid);
      expect((await bot().mergeRequests.approvals(project.id, mr.iid)).approvedBy.map((a) => a.username)).toEqual(['carol']);
    });

    it("sets a commit status on the MR's head", async () => {
      const { project, mr } = await openMr('sec/premium', [{ 'elevations/status.yaml': 's: 1\n' }]);
      await bot().commitStatuses.create(project.id, mr.sha, { state: 'pending', name: 'jit/approval-gate', description: 'waiting for approvals' });
      await bot().commitStatuses.create(project.id, mr.sha, { state: 'success', name: 'jit/approval-gate', description: 'approved' });
      expect(harness.statuses('sec/premium', mr.sha).at(-1)).toMatchObject({ name: 'jit/approval-gate', state: 'success', description: 'approved' });
    });

    it('writes, lists (oldest first) and edits notes as their author', async () => {
      const { project, mr } = await openMr('sec/premium', [{ 'elevations/note.yaml': 'n: 1\n' }]);
      const first = await bot().notes.create(project.id, mr.iid, 'first');
      expect(first).toMatchObject({ id: expect.any(Number), body: 'first', authorUsername: 'jit-bot', system: false, createdAt: isoTime });
      await as('carol').notes.create(project.id, mr.iid, 'second');
      const edited = await bot().notes.edit(project.id, mr.iid, first.id, 'first, edited');
      expect(edited).toMatchObject({ id: first.id, body: 'first, edited', authorUsername: 'jit-bot' });
      const mine = (await bot().notes.all(project.id, mr.iid)).filter((n) => !n.system);
      expect(mine.map((n) => [n.body, n.authorUsername])).toEqual([
        ['first, edited', 'jit-bot'],
        ['second', 'carol'],
      ]);
    });

    it("finds users by id and by username (bot flag included), the token's own user, and a group's members", async () => {
      const carol = await bot().users.byUsername('carol');
      expect(carol).toMatchObject({ id: expect.any(Number), username: 'carol', bot: false });
      expect(await bot().users.show(carol!.id)).toMatchObject({ id: carol!.id, username: 'carol', bot: false, state: 'active' });
      expect((await bot().users.byUsername('jit-bot'))?.bot).toBe(true);
      expect(await bot().users.byUsername('nobody-here')).toBeUndefined();
      expect(await as('dave').users.current()).toMatchObject({ username: 'dave', bot: false });
      expect((await bot().users.current()).bot).toBe(true);
      await expect(bot().users.show(987_654)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND' });
      expect((await bot().groupMembers.all('platform')).map((u) => u.username).sort()).toEqual(['carol', 'dave', 'jit-bot']);
      await expect(bot().groupMembers.all('no-such-group')).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND' });
    });

    it('merges: the MR is merged by its merger with a merge commit, the default branch holds the change, and its changes stay listed', async () => {
      const { project, mr } = await openMr('sec/premium', [{ 'elevations/merge.yaml': 'm: 1\n' }]);
      const carol = (await bot().users.byUsername('carol'))!;
      await bot().approvalRules.create(project.id, mr.iid, { name: 'jit:reversible-write', approvalsRequired: 1, userIds: [carol.id] });
      await as('carol').mergeRequests.approve(project.id, mr.iid);
      const merged = await as('maint').mergeRequests.merge(project.id, mr.iid);
      expect(merged).toMatchObject({ iid: mr.iid, state: 'merged', mergeCommitSha: expect.stringMatching(SHA), mergedAt: isoTime, mergedBy: { username: 'maint' } });
      expect(await bot().mergeRequests.show(project.id, mr.iid)).toMatchObject({ state: 'merged', mergeCommitSha: merged.mergeCommitSha });
      const onMain = await bot().files.show(project.id, 'elevations/merge.yaml', 'main');
      expect(Buffer.from(onMain.content).toString('utf8')).toBe('m: 1\n');
      expect(onMain.commitId).toBe(merged.mergeCommitSha);
      expect(Buffer.from((await bot().files.show(project.id, 'elevations/merge.yaml', merged.mergeCommitSha!)).content).toString('utf8')).toBe('m: 1\n');
      expect((await bot().mergeRequests.diffs(project.id, mr.iid)).map((d) => d.newPath)).toEqual(['elevations/merge.yaml']);
      expect((await bot().mergeRequests.all(project.id, { state: 'merged' })).map((m) => m.iid)).toContain(mr.iid);
      await expect(as('maint').mergeRequests.merge(project.id, mr.iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED', retriable: false });
    });

    it('records pushes with the user who pushed, newest first', async () => {
      const { project, commits, source } = await openMr('sec/premium', [{ 'elevations/push.yaml': 'p: 1\n' }]);
      const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const mine = (await bot().events.pushes(project.id, { after: day })).filter((e) => e.ref === source);
      expect(mine.map((e) => [e.authorUsername, e.action, e.refType, e.commitTo])).toEqual([
        ['dev', 'pushed', 'branch', commits[0]],
        ['dev', 'created', 'branch', expect.stringMatching(SHA)],
      ]);
      expect(mine[0]).toMatchObject({ commitFrom: mine[1]!.commitTo, commitCount: 1, createdAt: isoTime });
    });

    it('creates issues and lists them by label, newest first', async () => {
      const { id } = await bot().projects.show('sec/premium');
      const carol = (await bot().users.byUsername('carol'))!;
      const first = await bot().issues.create(id, { title: 'Review break-glass 1', description: 'x', assigneeIds: [carol.id], labels: ['jit', 'break-glass'] });
      expect(first).toMatchObject({ id: expect.any(Number), iid: expect.any(Number) });
      await bot().issues.create(id, { title: 'Unrelated', labels: ['other'] });
      const second = await bot().issues.create(id, { title: 'Review break-glass 2', labels: ['jit', 'break-glass'] });
      const listed = await bot().issues.all(id, { labels: ['jit', 'break-glass'] });
      expect(listed.map((i) => [i.iid, i.title, i.authorUsername])).toEqual([
        [second.iid, 'Review break-glass 2', 'jit-bot'],
        [first.iid, 'Review break-glass 1', 'jit-bot'],
      ]);
    });
  });
}

/** git's blob id: sha1("blob <size>\0<bytes>"). */
function gitBlobId(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}
