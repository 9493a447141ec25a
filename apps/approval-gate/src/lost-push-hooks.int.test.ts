// Issue 17 (a): the gate never depends on having seen a Push Hook. GitLab does not redeliver a
// webhook forever, so a push made while webhook-ingest was away is never on the log; who pushed to an
// MR must then come from GitLab itself (its project push events name the authenticated pusher, not a
// commit's author line, which the pusher writes). The GitLab sandbox delivers real webhooks to the
// ingest plugin -> embedded bus -> approval-gate server; every person acts with their own token.
import { EVENT_TYPES } from '@jit/contracts';
import { requestYaml } from '@jit/contracts/testing';
import { EXAMPLE_POLICY_YAML } from '@jit/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_TOKEN, PROJECT_PATH, startSandboxWorld, type SandboxWorld } from './testing/sandbox-world';

const request = requestYaml;
/** The example policy; `maint` (a maintainer, who can merge into main) may also use break-glass. */
const POLICY = EXAMPLE_POLICY_YAML.replace('requesters: { groups: [oncall] }', 'requesters: { groups: [oncall], users: [maint] }');

let reqNo = 0;
const req = () => `elevations/lost-push-${++reqNo}.yaml`;

describe('issue 17: a Push Hook lost while webhook-ingest was away (free project: the gate is all there is)', () => {
  let w: SandboxWorld;
  /** jit's project hook as configured, with `events` changed (e.g. Push events off: every Push Hook is lost). */
  const hook = (o: { url?: string; push?: boolean }) =>
    w.sandbox.replaceHooks(PROJECT_PATH, () => true, {
      url: o.url ?? `${w.ingestUrl}/webhooks/gitlab`,
      token: HOOK_TOKEN,
      merge_requests_events: true,
      note_events: true,
      push_events: o.push ?? true,
    });
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });
  const lastPushOf = async (iid: number) => (await w.as('dev').mergeRequests.show(w.projectId, iid)).sha;

  it('someone else pushed while the hook was lost: the approver provably did not, so the request is approved (it was failed closed as an unknown pusher)', async () => {
    const path = req();
    const iid = await w.openRequest('dev', { [path]: request({}) });
    await w.event(iid, EVENT_TYPES.requested);
    hook({ push: false });
    try {
      await w.push(iid, 'erin', { [path]: request({ ttl: '1h' }) });
      await w.event(iid, EVENT_TYPES.requested, 2);
    } finally {
      hook({});
    }
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await w.event(iid, EVENT_TYPES.approvalRecorded);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const verdict = await w.verdict(iid);
    expect(verdict.type === EVENT_TYPES.bypassDetected ? (verdict.data as { reasons: string[] }).reasons : []).toEqual([]);
    expect(verdict.data).toMatchObject({ approvers: ['carol'] });
  });

  it("the pusher approves, her Push Hook lost and her commit under the requester's name (the requester copies it to a branch jit sees): never counted, the merge is a bypass", async () => {
    const path = req();
    const iid = await w.openRequest('dev', { [path]: request({}) });
    await w.event(iid, EVENT_TYPES.requested);
    const mr = await w.as('carol').mergeRequests.show(w.projectId, iid);
    hook({ push: false });
    try {
      // carol git-pushes a change whose author and committer lines name dev (git lets anyone write them).
      w.sandbox.pushCommit({
        project: PROJECT_PATH,
        branch: mr.sourceBranch,
        author: 'carol',
        message: 'ttl',
        identity: { authorName: 'dev', authorEmail: 'dev@example.com', committerName: 'dev', committerEmail: 'dev@example.com' },
        files: { [path]: request({ ttl: '1h' }) },
      });
      await w.event(iid, EVENT_TYPES.requested, 2);
    } finally {
      hook({});
    }
    // dev pushes carol's commit to a new branch: its Push Hook arrives, so no MR commit is without a known push.
    const head = await lastPushOf(iid);
    await w.as('dev').branches.create(w.projectId, `copy-${iid}`, head);
    await w.waitFor("dev's copy on the log", async () => (await w.events()).some((e) => e.type === EVENT_TYPES.pushRecorded && (e.data as { branch: string }).branch === `copy-${iid}`));
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    const recorded = await w.event(iid, EVENT_TYPES.approvalRecorded);
    expect(recorded.data).toMatchObject({ approver: 'carol', counted: false, reason: 'committer' });
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/0 of 1 required .*carol: committer/);
    expect(await w.types(iid)).not.toContain('approved');
  });

  it("webhook-ingest down through the push and the merge, found by the reconciler: a break-glass merger who pushed is caught from GitLab's push events", async () => {
    const path = req();
    const iid = await w.openRequest('olga', { [path]: request({ breakGlass: true, ttl: '1h' }) });
    await w.event(iid, EVENT_TYPES.requested);
    const mr = await w.as('maint').mergeRequests.show(w.projectId, iid);
    await w.sandbox.idle();
    hook({ url: 'http://127.0.0.1:9/webhooks/gitlab' }); // nothing listens: every delivery fails
    try {
      // maint pushes a commit under olga's name (the request's content unchanged, so it still matches
      // what jit validated), then merges: one person decided it alone.
      w.sandbox.pushCommit({
        project: PROJECT_PATH,
        branch: mr.sourceBranch,
        author: 'maint',
        message: 'reviewed',
        identity: { authorName: 'olga', authorEmail: 'olga@example.com', committerName: 'olga', committerEmail: 'olga@example.com' },
        files: { [path]: request({ breakGlass: true, ttl: '1h' }) },
      });
      await w.as('maint').mergeRequests.merge(w.projectId, iid);
      await w.sandbox.idle();
    } finally {
      hook({});
    }
    expect(await w.types(iid)).toEqual(['requested']);
    await (w.gate as unknown as { gate: { reconcile(): Promise<unknown> } }).gate.reconcile();
    const verdict = await w.verdict(iid);
    expect(verdict.type).toBe(EVENT_TYPES.bypassDetected);
    expect((verdict.data as { reasons: string[] }).reasons.join(' ')).toMatch(/maint who merged it also pushed to it/);
    expect(await w.types(iid)).not.toContain('approved');
  });
});
