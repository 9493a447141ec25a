// Attacks from the hostile review of the approval gate (after issue 11), as users would live them:
// the GitLab sandbox (a Free project: GitLab enforces nothing) delivers real webhooks to the ingest
// plugin -> embedded bus -> approval-gate server; every person acts with their own token through
// @jit/gitlab. Each one was approved on the code before its fix.
import { EVENT_TYPES } from '@jit/contracts';
import { requestYaml } from '@jit/contracts/testing';
import { EXAMPLE_POLICY_YAML } from '@jit/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_TOKEN, PROJECT_PATH, startSandboxWorld, type SandboxWorld } from './testing/sandbox-world';

let reqNo = 0;
const req = () => `elevations/review-${++reqNo}.yaml`;

describe('hostile review of the gate on a free project', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: EXAMPLE_POLICY_YAML });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('an approver removed from the approver group after the request was validated no longer counts at merge', async () => {
    const iid = await w.openRequest('dev', { [req()]: requestYaml({}) });
    await w.event(iid, EVENT_TYPES.requested);
    // carol approves, then leaves the platform team (her GitLab account stays, with its rights on the project).
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await w.event(iid, EVENT_TYPES.approvalRecorded);
    w.sandbox.removeGroupMember('platform', 'carol');
    try {
      expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/0 of 1 required .*carol: not_eligible/);
    } finally {
      w.sandbox.addGroupMember('platform', 'carol');
    }
  });

  it("an approver who also merges still counts, even when the merge's own push to the default branch reaches jit first", async () => {
    const iid = await w.openRequest('dev', { [req()]: requestYaml({ scope: 'read-stats', riskTier: 'cosmetic' }) });
    await w.event(iid, EVENT_TYPES.requested);
    await w.as('maint').mergeRequests.approve(w.projectId, iid);
    await w.event(iid, EVENT_TYPES.approvalRecorded);
    // The merge's webhooks fail (jit unreachable), then are resent: the push to main first.
    const hook = (url: string) => ({ url, token: HOOK_TOKEN, merge_requests_events: true, note_events: true, push_events: true });
    w.sandbox.replaceHooks(PROJECT_PATH, () => true, hook('http://127.0.0.1:9/unreachable'));
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await w.sandbox.idle();
    w.sandbox.replaceHooks(PROJECT_PATH, () => true, hook(`${w.ingestUrl}/webhooks/gitlab`));
    const deliveries = w.sandbox.deliveries();
    const push = deliveries.filter((d) => d.event === 'Push Hook' && JSON.parse(d.body).ref === 'refs/heads/main').at(-1)!;
    const merge = deliveries.find((d) => d.event === 'Merge Request Hook' && JSON.parse(d.body).object_attributes?.iid === iid && JSON.parse(d.body).object_attributes?.action === 'merge')!;
    w.sandbox.resend(push.id);
    const after = JSON.parse(push.body).after as string;
    await w.waitFor('the merge push on the log', async () => (await w.events()).some((e) => e.type === EVENT_TYPES.pushRecorded && (e.data as { after?: string }).after === after));
    w.sandbox.resend(merge.id);
    const verdict = await w.verdict(iid);
    expect(verdict.type).toBe(EVENT_TYPES.approved);
    expect(verdict.data).toMatchObject({ approvers: ['maint'] });
  });

  it('break-glass merged by someone who pushed to it is a bypass: the second human must not have changed what was merged', async () => {
    const path = req();
    const iid = await w.openRequest('olga', { [path]: requestYaml({ breakGlass: true, ttl: '30m' }) });
    await w.event(iid, EVENT_TYPES.requested);
    // maint rewrites olga's request (a longer TTL here; a recipient of his own where recipients are not bound) and merges it himself.
    await w.push(iid, 'maint', { [path]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    await w.event(iid, EVENT_TYPES.requested, 2);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const verdict = await w.verdict(iid);
    expect(verdict.type).toBe(EVENT_TYPES.bypassDetected);
    expect((verdict.data as { reasons: string[] }).reasons.join(' ')).toMatch(/maint who merged it also pushed to it/);
  });
});
