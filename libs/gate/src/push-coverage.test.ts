// Hostile review 2: a commit counts as "its pusher is known" as soon as ANY recorded push
// names it, even a push to another branch by someone else; the push that put it on the MR's source
// branch may be one jit never heard of. GitLab sends no Push Hook for a push that updates more than
// 3 branches at once (push_event_hooks_limit), and its events API records such a push as a bulk push
// without a ref: no outage is needed for a push to go unrecorded.
import { EVENT_TYPES, GITLAB_PUSH_EVENT_TYPE } from '@jit/contracts';
import { describe, expect, it } from 'vitest';
import { PROJECT, createFakeWorld, requestYaml } from './fixtures/fake-world';

const REQ = 'elevations/backfill.yaml';

describe('who put a commit on the MR, not who pushed it anywhere', () => {
  it("an approver's own commit, pushed onto the MR unrecorded, does not become 'known' because the requester also pushed it to a backup branch", async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    // carol (an eligible approver) widens the request herself, in a push of 4 branches at once: GitLab
    // sends no Push Hook. Her commit's author line says dev (git takes any author name).
    const x = w.gl.push(PROJECT, m.sourceBranch, { [REQ]: requestYaml({ ttl: '2h' }) }, 'dev');
    // what GitLab's events API holds for that push: carol's bulk push, naming no branch and no commit
    const carol = [...w.gl.users.values()].find((u) => u.username === 'carol')!;
    Object.assign(w.gl.projects.get(PROJECT)!.pushEvents.at(-1)!, { authorId: carol.id, authorUsername: 'carol', ref: null, commitFrom: null, commitTo: null });
    await w.deliver(w.hook(iid, 'merge_request', 'update', 'carol'));
    // dev pulls the MR branch and pushes a backup of it (an ordinary push, recorded)
    const devId = [...w.gl.users.values()].find((u) => u.username === 'dev')!.id;
    await w.deliver({
      specversion: '1.0',
      id: 'backup-push-1',
      source: '/jit/webhook-ingest',
      type: GITLAB_PUSH_EVENT_TYPE,
      data: {
        kind: 'push',
        projectId: PROJECT,
        projectPath: w.gl.projects.get(PROJECT)!.path,
        branch: 'backup/dev',
        before: '0'.repeat(40),
        after: x,
        actor: { id: devId, username: 'dev', name: 'dev' },
        commits: [{ id: x, authorName: 'dev', authorEmail: 'dev@example.com' }],
        totalCommits: 1,
        delivery: { id: 'backup-push-1', receivedAt: new Date().toISOString() },
        payload: {},
      },
    });
    await w.approve(iid, 'carol');
    await w.merge(iid);
    // nobody provably independent of the merged content approved it: nothing may be approved
    expect(await w.events().then((es) => es.filter((e) => e.type === EVENT_TYPES.approved))).toEqual([]);
  });
});
