// The facade on the wire: gitbeaker + our requester against the GitLab sandbox (REST v4 over HTTP).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createGitlabClient } from './gitlab-client';
import { noteMarker, upsertMarkedNote } from './marked-note';
import { isApprovalRulesUnsupported } from './types';

const tok = (u: string) => `${u}-tok-0123456789`;
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: 'jit-bot', token: tok('jit-bot'), bot: true },
        { username: 'dev', token: tok('dev'), email: 'dev@example.com' },
        { username: 'carol', token: tok('carol') },
        { username: 'maint', token: tok('maint') },
      ],
      groups: [{ path: 'platform', members: ['carol', { username: 'jit-bot', access_level: 20 }] }],
      projects: [
        {
          path: 'sec/premium',
          tier: 'premium',
          files: { 'policy.yaml': 'tiers: {}\n' },
          members: [{ username: 'jit-bot', access_level: 40 }, { username: 'maint', access_level: 40 }, 'dev', 'carol'],
        },
        { path: 'sec/free', tier: 'free', members: [{ username: 'jit-bot', access_level: 40 }, 'dev', 'carol'] },
      ],
    },
  });
});
afterAll(async () => {
  await sandbox?.close();
});

const client = (u: string) => createGitlabClient({ url: sandbox.url, token: tok(u), retry: { maxAttempts: 3, baseDelayMs: 5 } });

describe('createGitlabClient against the GitLab sandbox', () => {
  it("reads a project's pushes from GitLab's events API: the authenticated pusher, not the commit's author line", async () => {
    await client('dev').branches.create('sec/free', 'events-1', 'main');
    const { id } = await client('dev').commits.create('sec/free', 'events-1', 'one', [{ action: 'create', filePath: 'a.txt', content: 'a' }]);
    const second = sandbox.pushCommit({ project: 'sec/free', branch: 'events-1', author: 'carol', identity: { authorName: 'dev', authorEmail: 'dev@example.com' }, files: { 'a.txt': 'b' } });
    const pid = (await client('jit-bot').projects.show('sec/free')).id;
    const pushes = await client('jit-bot').events.pushes(pid, { after: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10) });
    expect(pushes.filter((p) => p.ref === 'events-1').map((p) => [p.authorUsername, p.action, p.commitFrom, p.commitTo])).toEqual([
      ['carol', 'pushed', id, second],
      ['dev', 'pushed', expect.stringMatching(/^[0-9a-f]{40}$/), id],
      ['dev', 'created', null, expect.stringMatching(/^[0-9a-f]{40}$/)],
    ]);
    expect(await client('jit-bot').events.pushes(pid, { after: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10) })).toEqual([]);
  });

  it('drives a request MR end to end: branch, commit, MR, rule, approval, status, note, merge, issue', async () => {
    const bot = client('jit-bot');
    const dev = client('dev');
    const project = await bot.projects.show('sec/premium');
    expect(project.defaultBranch).toBe('main');
    await dev.branches.create(project.id, 'req-1', 'main');
    const bytes = 'spec:\n  ttl: 30m\n  note: "caf\u00e9"\n';
    const commit = await dev.commits.create(project.id, 'req-1', 'request', [{ action: 'create', filePath: 'elevations/a.yaml', content: bytes }]);
    expect(commit.id).toMatch(/^[0-9a-f]{40}$/);
    const mr = await dev.mergeRequests.create(project.id, { sourceBranch: 'req-1', targetBranch: 'main', title: 'req' });
    expect(mr).toMatchObject({ state: 'opened', author: { username: 'dev' }, sha: commit.id });
    expect(await bot.mergeRequests.diffs(project.id, mr.iid)).toEqual([expect.objectContaining({ newPath: 'elevations/a.yaml', newFile: true })]);
    const file = await bot.files.show(project.id, 'elevations/a.yaml', mr.sha);
    expect(Buffer.from(file.content).toString('utf8')).toBe(bytes);
    expect(file.blobId).toMatch(/^[0-9a-f]{40}$/);

    const carol = await bot.users.byUsername('carol');
    expect(carol).toMatchObject({ username: 'carol', bot: false });
    expect((await bot.users.byUsername('jit-bot'))?.bot).toBe(true);
    expect(await bot.users.byUsername('nobody-here')).toBeUndefined();
    expect((await bot.groupMembers.all('platform')).map((u) => u.username).sort()).toEqual(['carol', 'jit-bot']);

    const rule = await bot.approvalRules.create(project.id, mr.iid, { name: 'jit:reversible-write', approvalsRequired: 1, userIds: [carol!.id] });
    expect(isApprovalRulesUnsupported(rule)).toBe(false);
    const settings = await bot.approvalSettings.edit(project.id, {
      mergeRequestsAuthorApproval: false,
      mergeRequestsDisableCommittersApproval: true,
      resetApprovalsOnPush: true,
    });
    expect(settings).toMatchObject({ mergeRequestsAuthorApproval: false, resetApprovalsOnPush: true });
    await expect(dev.mergeRequests.approve(project.id, mr.iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_FORBIDDEN' });
    await client('carol').mergeRequests.approve(project.id, mr.iid);
    const approvals = await bot.mergeRequests.approvals(project.id, mr.iid);
    expect(approvals.approvedBy).toEqual([expect.objectContaining({ username: 'carol', approvedAt: expect.any(String) })]);
    await bot.commitStatuses.create(project.id, mr.sha, { state: 'success', name: 'jit/policy', description: 'ok' });

    const marker = noteMarker('it');
    expect((await upsertMarkedNote(bot, project.id, mr.iid, marker, 'first', 'jit-bot')).action).toBe('created');
    expect((await upsertMarkedNote(bot, project.id, mr.iid, marker, 'second', 'jit-bot')).action).toBe('edited');
    expect((await bot.notes.all(project.id, mr.iid)).filter((n) => n.body.startsWith(marker))).toHaveLength(1);

    const merged = await client('maint').mergeRequests.merge(project.id, mr.iid);
    expect(merged.state).toBe('merged');
    expect(merged.mergeCommitSha).toMatch(/^[0-9a-f]{40}$/);
    const issue = await bot.issues.create(project.id, { title: 'Post-incident review', description: 'x', assigneeIds: [carol!.id], labels: ['jit'] });
    expect(issue.iid).toBeGreaterThan(0);
    await bot.issues.create(project.id, { title: 'Unrelated', labels: ['other'] });
    const listed = await bot.issues.all(project.id, { labels: ['jit'] });
    expect(listed.map((i) => [i.iid, i.title])).toEqual([[issue.iid, 'Post-incident review']]);
  });

  it('answers Free-tier approval-rule endpoints with ApprovalRulesUnsupported, not an error', async () => {
    const bot = client('jit-bot');
    const dev = client('dev');
    const project = await bot.projects.show('sec/free');
    await dev.branches.create(project.id, 'r', 'main');
    await dev.commits.create(project.id, 'r', 'req', [{ action: 'create', filePath: 'elevations/b.yaml', content: 'x: 1\n' }]);
    const mr = await dev.mergeRequests.create(project.id, { sourceBranch: 'r', targetBranch: 'main', title: 'free' });
    expect(isApprovalRulesUnsupported(await bot.approvalRules.all(project.id, mr.iid))).toBe(true);
    expect(isApprovalRulesUnsupported(await bot.approvalRules.create(project.id, mr.iid, { name: 'jit:x', approvalsRequired: 1, userIds: [] }))).toBe(true);
    expect(isApprovalRulesUnsupported(await bot.approvalSettings.edit(project.id, { resetApprovalsOnPush: true }))).toBe(true);
  });

  it('maps real 404/401 answers and retries an injected 429 honouring Retry-After', async () => {
    const bot = client('jit-bot');
    await expect(bot.mergeRequests.show(999_999, 1)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_NOT_FOUND', retriable: false });
    await expect(createGitlabClient({ url: sandbox.url, token: 'wrong-token-123' }).users.current()).rejects.toMatchObject({
      code: 'JIT_ERR_GITLAB_FORBIDDEN',
    });
    let calls = 0;
    const waits: number[] = [];
    const flaky = createGitlabClient({
      url: sandbox.url,
      token: tok('jit-bot'),
      fetch: async (req) => {
        calls += 1;
        if (calls === 1) return new Response('{"message":"429 Too Many Requests"}', { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' } });
        return fetch(req);
      },
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect((await flaky.users.current()).username).toBe('jit-bot');
    expect(calls).toBe(2);
    expect(waits).toEqual([1000]);
  });
});
