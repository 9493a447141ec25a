// The reproductions of issue 11 (break-glass, pushers, recipients, approval freshness, the jit:
// rule), as users would live them: the GitLab sandbox delivers real webhooks to the ingest plugin ->
// embedded bus -> approval-gate server; every person acts with their own token through @jit/gitlab.
// Each one fails on the code before the fix: a grant was approved where none may be.
import { EVENT_TYPES } from '@jit/contracts';
import { FIXTURE_MAINT_RECIPIENT, FIXTURE_RECIPIENT, requestYaml } from '@jit/contracts/testing';
import { EXAMPLE_POLICY_YAML } from '@jit/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT, HOOK_TOKEN, PROJECT_PATH, startSandboxWorld, tokenOf, type SandboxWorld } from './testing/sandbox-world';

const request = requestYaml;
/** The example policy; `maint` (a maintainer, who can merge into main) may also use break-glass. */
const POLICY = EXAMPLE_POLICY_YAML.replace('requesters: { groups: [oncall] }', 'requesters: { groups: [oncall], users: [maint] }');

/** carol's own age key (identity thrown away): she is an approver of reversible-write (platform). */
const CAROL_KEY = 'age16mmvd7jhv6cmlughlqhrgnahv473dztex79kq0zpe7ft7uhldqrqvupzxd';
/**
 * §4: carol's key is registered to her, and FIXTURE_RECIPIENT (dev's key) is listed under carol too
 * — a key under two users, which only the approval judge stops.
 */
const SHARED_KEY_POLICY = POLICY.replace('recipients:\n', `recipients:\n  carol: [${CAROL_KEY}, ${FIXTURE_RECIPIENT}]\n`);

let reqNo = 0;
const req = () => `elevations/hole-${++reqNo}.yaml`;

describe('issue 11 on a free project (GitLab enforces nothing; the gate is all there is)', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('a late (or forged) approval webhook after a change does not count: GitLab dates the approval before it', async () => {
    const path = req();
    const iid = await w.openRequest('dev', { [path]: request({}) });
    await w.event(iid, EVENT_TYPES.requested);
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await w.event(iid, EVENT_TYPES.approvalRecorded);
    await w.sandbox.idle();
    const original = w.sandbox
      .deliveries()
      .find((d) => d.event === 'Merge Request Hook' && JSON.parse(d.body).object_attributes?.action === 'approved' && JSON.parse(d.body).object_attributes?.iid === iid)!;
    // The request changes after carol's approval (GitLab Free keeps it)...
    await w.push(iid, 'dev', { [path]: request({ ttl: '2h' }) });
    await w.event(iid, EVENT_TYPES.requested, 2);
    // ...and then her approval webhook arrives again, late, under a new delivery id and at the new head.
    const head = (await w.as('dev').mergeRequests.show(w.projectId, iid)).sha;
    const body = JSON.parse(original.body);
    body.object_attributes.last_commit.id = head;
    const res = await fetch(`${w.ingestUrl}/webhooks/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': HOOK_TOKEN, 'idempotency-key': `late-${iid}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    await w.event(iid, EVENT_TYPES.approvalRecorded, 2);
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/carol: stale/);
  });

  it('break-glass self-served by a listed agent with zero approvals is rejected, and merging it grants nothing', async () => {
    const iid = await w.openRequest('deploy-agent', { [req()]: request({ breakGlass: true, ttl: '1h' }) });
    const rejected = await w.event(iid, EVENT_TYPES.rejected);
    expect(JSON.stringify((rejected.data as { problems: unknown }).problems)).toMatch(/break-glass is for humans on call; deploy-agent is listed under agents/);
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/rejected/);
  });

  it('break-glass merged by its own requester (a human allowed to use it) is a bypass: the merger must be another human', async () => {
    const iid = await w.openRequest('maint', { [req()]: request({ breakGlass: true, ttl: '1h', recipient: FIXTURE_MAINT_RECIPIENT }) });
    await w.event(iid, EVENT_TYPES.requested);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const bypass = await w.event(iid, EVENT_TYPES.bypassDetected);
    expect((bypass.data as { reasons: string[] }).reasons.join(' ')).toMatch(/the requester maint merged it/);
    expect(await w.types(iid)).not.toContain('approved');
  });

  it("a human who pushed a commit to the MR (under someone else's author line) never counts as an approver", async () => {
    const path = req();
    const iid = await w.openRequest('deploy-agent', { [path]: request({ scope: 'ddl', riskTier: 'semi-destructive', rollbackPlan: 'drop the new index' }) });
    await w.event(iid, EVENT_TYPES.requested);
    // erin git-pushes a change whose author and committer lines name the agent (git lets anyone write them).
    const mr = await w.as('erin').mergeRequests.show(w.projectId, iid);
    w.sandbox.pushCommit({
      project: PROJECT_PATH,
      branch: mr.sourceBranch,
      author: 'erin',
      message: 'typo',
      identity: { authorName: 'deploy-agent', authorEmail: 'deploy-agent@example.com', committerName: 'deploy-agent', committerEmail: 'deploy-agent@example.com' },
      files: { [path]: request({ scope: 'ddl', riskTier: 'semi-destructive', rollbackPlan: 'drop the new index', ttl: '1h' }) },
    });
    await w.event(iid, EVENT_TYPES.requested, 2);
    await w.waitFor("erin's push on the log", async () =>
      (await w.events()).some(
        (e) => e.type === EVENT_TYPES.pushRecorded && (e.data as { pusher: string; branch: string }).pusher === 'erin' && (e.data as { branch: string }).branch === mr.sourceBranch,
      ),
    );
    await w.as('erin').mergeRequests.approve(w.projectId, iid);
    await w.as('frank').mergeRequests.approve(w.projectId, iid);
    await w.waitFor('both approvals recorded', async () => (await w.types(iid)).filter((t) => t === 'approval.recorded').length === 2);
    const recorded = (await w.events()).filter((e) => e.type === EVENT_TYPES.approvalRecorded && (e.data as { elevationId: string }).elevationId === `gl-${w.projectId}-${iid}`);
    expect(recorded.map((e) => [(e.data as { approver: string }).approver, (e.data as { counted: boolean }).counted])).toEqual([
      ['erin', false],
      ['frank', true],
    ]);
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/1 of 2 required .*erin: committer/);
  });
});

describe('issue 11 §4: the beneficiary of a credential is bound to the requester (free project)', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: SHARED_KEY_POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it("an agent requesting with an approver's age key is rejected (how to register one is said), and that approver's approval and a merge grant nothing", async () => {
    const iid = await w.openRequest('deploy-agent', { [req()]: request({ recipient: CAROL_KEY }) });
    const rejected = await w.event(iid, EVENT_TYPES.rejected);
    expect(JSON.stringify((rejected.data as { problems: unknown }).problems)).toMatch(
      /spec\.recipient.*recipient is not one of the age keys registered to deploy-agent under recipients: in policy\.yaml; use a registered key, or register this one through a policy MR/,
    );
    await w.commentWith(iid, 'register this one through a policy MR');
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/rejected/);
    expect(await w.types(iid)).not.toContain('approved');
  });

  it('a requester with no key registered is rejected, pointed to a policy MR', async () => {
    const iid = await w.openRequest('erin', { [req()]: request({}) });
    const rejected = await w.event(iid, EVENT_TYPES.rejected);
    expect(JSON.stringify((rejected.data as { problems: unknown }).problems)).toMatch(
      /no age key is registered to erin under recipients: in policy\.yaml; register your public key .* through a policy MR/,
    );
  });

  it("a key listed under two users: the access plan names both owners, and the other owner's approval never counts", async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    const requested = await w.event(iid, EVENT_TYPES.requested);
    // carol (platform) could open the credential: she is not offered as an approver...
    expect((requested.data as { eligibleApprovers: string[] }).eligibleApprovers).toEqual(['dave']);
    const comment = await w.commentWith(iid, 'credential sealed to');
    expect(comment).toContain(`| credential sealed to | \`${FIXTURE_RECIPIENT}\` registered to @carol, @dev, `);
    // ...and when she approves anyway (GitLab Free lets any member), it does not count.
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    const recorded = await w.event(iid, EVENT_TYPES.approvalRecorded);
    expect(recorded.data).toMatchObject({ approver: 'carol', counted: false, reason: 'recipient_owner' });
    await w.commentWith(iid, 'the credential is sealed to a key registered to this user');
    expect((await w.mergeExpectingBypass(iid)).reasons).toMatch(/0 of 1 required .*carol: recipient_owner/);
  });
});

describe("issue 11 on a premium project (GitLab enforces jit's rule; someone removes it)", () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'premium', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });
  const rulesUrl = (iid: number) => `${w.sandbox.apiUrl}/projects/${w.projectId}/merge_requests/${iid}/approval_rules`;
  const asMallory = { 'private-token': tokenOf('mallory'), 'content-type': 'application/json' };
  // the decision is on the log before GitLab's rule is written: wait for the rule as mallory sees it
  const rulesOnceWritten = (iid: number) =>
    w.waitFor('the jit: rule on the MR', async () => {
      const rules = (await (await fetch(rulesUrl(iid), { headers: asMallory })).json()) as Array<{ id: number; name: string }>;
      return rules.length > 0 && rules;
    });

  it('a developer deletes the jit: rule: reconciliation restores it and says so on the MR; GitLab refuses the merge again', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await w.event(iid, EVENT_TYPES.requested);
    const [rule] = await rulesOnceWritten(iid);
    expect(rule?.name).toBe('jit:reversible-write');
    expect((await fetch(`${rulesUrl(iid)}/${rule!.id}`, { method: 'DELETE', headers: asMallory })).status).toBe(204);
    await (w.gate as unknown as { gate: { reconcile(): Promise<unknown> } }).gate.reconcile();
    const rules = await w.as(BOT).approvalRules.all(w.projectId, iid);
    expect(rules).toEqual([expect.objectContaining({ name: 'jit:reversible-write', approvalsRequired: 1 })]);
    await w.commentWith(iid, 'the jit:reversible-write approval rule had been deleted; jit restored it');
    await expect(w.as('maint').mergeRequests.merge(w.projectId, iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED' });
  });

  it('a developer edits the jit: rule to require nothing: the next approval event restores it and says so on the MR', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await w.event(iid, EVENT_TYPES.requested);
    const [rule] = await rulesOnceWritten(iid);
    const edited = await fetch(`${rulesUrl(iid)}/${rule!.id}`, { method: 'PUT', headers: asMallory, body: JSON.stringify({ approvals_required: 0 }) });
    expect(edited.status).toBe(200);
    await w.as('mallory').mergeRequests.approve(w.projectId, iid);
    await w.commentWith(iid, 'the jit:reversible-write approval rule had been edited');
    const rules = await w.as(BOT).approvalRules.all(w.projectId, iid);
    expect(rules).toEqual([expect.objectContaining({ name: 'jit:reversible-write', approvalsRequired: 1 })]);
    await expect(w.as('maint').mergeRequests.merge(w.projectId, iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED' });
  });
});
