// Scenarios as users live them: the GitLab sandbox (premium and free projects) delivers real
// webhooks to the ingest plugin -> embedded bus -> approval-gate server; users act with their
// own tokens through @jit/gitlab. Each abuse must end with no approval and an explanation on the MR.
import { EVENT_TYPES, GITLAB_WEBHOOK_EVENT_TYPE, TOPIC_GITLAB, createEventVerifier, gitlabKey } from '@jit/contracts';
import { fixtureRecipientsYaml, requestYaml } from '@jit/contracts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxWorld, tokenOf, type SandboxWorld } from './testing/sandbox-world';

const POLICY = `tiers:
  cosmetic:         { ttlMax: 4h,  approvals: 1, approvers: { anyHuman: true } }
  reversible-write: { ttlMax: 2h,  approvals: 1, approvers: { groups: [platform] } }
  semi-destructive: { ttlMax: 1h,  approvals: 2, approvers: { groups: [platform-leads] }, requireRollbackPlan: true }
  destructive:      { ttlMax: 30m, approvals: 2, approvers: { users: [alice, bob] }, requireRollbackPlan: true }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent, migration-bot]
${fixtureRecipientsYaml()}policyApprovers: { groups: [security], approvals: 2 }
targets:
  orders-db:
    substrate: postgres
    connection: { secretRef: env:ORDERS_DB_ADMIN_URL }
    scopes:
      read-stats: { tier: cosmetic, grant: "SELECT ON ALL TABLES IN SCHEMA public" }
      write:      { tier: reversible-write, grant: "INSERT, UPDATE ON ALL TABLES IN SCHEMA public" }
      ddl:        { tier: semi-destructive, grant: "CREATE ON SCHEMA public" }
      drop:       { tier: destructive, grant: "DELETE ON ALL TABLES IN SCHEMA public" }
`;

const request = requestYaml;

let reqNo = 0;
/** A fresh request path per MR: merged requests stay on main. */
const req = () => `elevations/req-${++reqNo}.yaml`;

const commentWith = (w: SandboxWorld, iid: number, text: string) => w.commentWith(iid, text);
const evt = (w: SandboxWorld, iid: number, type: string) => w.event(iid, type);

describe('approval gate on a premium project', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'premium', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it.each([
    ['cosmetic', 'read-stats', undefined, ['mallory']],
    ['reversible-write', 'write', undefined, ['carol']],
    ['semi-destructive', 'ddl', 'drop the new index', ['erin', 'frank']],
    ['destructive', 'drop', 'restore from the 02:00 snapshot', ['alice', 'bob']],
  ])('happy path %s: GitLab enforces our rule, the gate verifies and approves', async (tier, scope, rollbackPlan, approvers) => {
    const iid = await w.openRequest('dev', { [req()]: request({ scope, riskTier: tier, rollbackPlan }) });
    const requested = await evt(w, iid, EVENT_TYPES.requested);
    expect(requested.data).toMatchObject({ tier, requester: 'dev', requiredApprovals: approvers.length });
    // the decision is on the log before GitLab's rule is written: wait for the rule as a user would see it
    const rules = await w.waitFor('the jit: rule on the MR', async () => {
      const all = await w.as('jit-bot').approvalRules.all(w.projectId, iid);
      return Array.isArray(all) && all.length > 0 && all;
    });
    expect(rules).toEqual([expect.objectContaining({ name: `jit:${tier}`, approvalsRequired: approvers.length })]);
    // Not yet approved: GitLab (premium) refuses the merge.
    await expect(w.as('maint').mergeRequests.merge(w.projectId, iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED' });
    for (const a of approvers) await w.as(a).mergeRequests.approve(w.projectId, iid);
    const merged = await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const approved = await evt(w, iid, EVENT_TYPES.approved);
    expect(approved.data).toMatchObject({
      approvers: expect.arrayContaining(approvers),
      mergeSha: merged.mergeCommitSha,
      grantId: `gl-${w.projectId}-${iid}-${merged.mergeCommitSha}`,
      contentHash: (requested.data as { contentHash: string }).contentHash,
    });
    // signed with the gate's key, as issuers require
    expect(createEventVerifier([w.signer.publicKey]).verify(approved)).toEqual({ ok: true, kid: w.signer.publicKey.kid });
    await commentWith(w, iid, 'Verified at merge');
  });

  it('hardens the project approval settings and refuses self-approval at GitLab', async () => {
    await w.sandbox.idle();
    const settings = await w.as('jit-bot').approvalSettings.show(w.projectId);
    expect(settings).toMatchObject({ mergeRequestsAuthorApproval: false, mergeRequestsDisableCommittersApproval: true, resetApprovalsOnPush: true });
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await expect(w.as('dev').mergeRequests.approve(w.projectId, iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_FORBIDDEN' });
  });

  it('break-glass: merged without approvals, approved with severity high, post-incident review issue opened', async () => {
    const iid = await w.openRequest('olga', { [req()]: request({ breakGlass: true, ttl: '1h' }) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const approved = await evt(w, iid, EVENT_TYPES.approved);
    expect(approved.severity).toBe('high');
    // the approval is on the log before the review issue is opened: wait for the issue as the on-call see it
    const review = await w.waitFor('the post-incident review issue', async () => {
      const res = await fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}/issues`, { headers: { 'private-token': 'jit-bot-token-0123456789' } });
      const issues = (await res.json()) as Array<{ title: string; assignees?: Array<{ username: string }> }>;
      return issues.find((i) => i.title.includes(`gl-${w.projectId}-${iid}`));
    });
    expect(review?.title).toMatch(/Post-incident review/);
    expect(review?.assignees?.map((a) => a.username).sort()).toEqual(['carol']);
  });

  it('break-glass: a decoy issue the requester opened with the review title and labels does not replace the review', async () => {
    const iid = await w.openRequest('olga', { [req()]: request({ breakGlass: true, ttl: '1h' }) });
    await evt(w, iid, EVENT_TYPES.requested);
    // The elevation id is known once the MR is open: the requester files (and closes) an issue shaped
    // like the gate's own post-incident review, hoping the gate takes it for one it created.
    const decoy = await w.as('olga').issues.create(w.projectId, {
      title: `Post-incident review: break-glass gl-${w.projectId}-${iid} (nothing to see)`,
      description: 'reviewed, all fine',
      labels: ['jit', 'break-glass', 'post-incident-review'],
    });
    await fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}/issues/${decoy.iid}?state_event=close`, { method: 'PUT', headers: { 'private-token': 'olga-token-0123456789' } });
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approved);
    await commentWith(w, iid, 'Verified at merge');
    const res = await fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}/issues?per_page=100`, { headers: { 'private-token': 'jit-bot-token-0123456789' } });
    const issues = (await res.json()) as Array<{ iid: number; title: string; state: string; author: { username: string }; assignees?: Array<{ username: string }> }>;
    const reviews = issues.filter((i) => i.title.includes(`gl-${w.projectId}-${iid} `) && i.author.username === 'jit-bot');
    expect(reviews).toHaveLength(1);
    expect(reviews[0]).toMatchObject({ state: 'opened' });
    expect(reviews[0]!.assignees?.map((a) => a.username).sort()).toEqual(['carol']);
    // and the MR comment links the gate's issue, not the decoy
    const notes = await w.as('jit-bot').notes.all(w.projectId, iid);
    const verdict = notes.find((n) => n.body.includes('Verified at merge'))!;
    expect(verdict.body).toContain(`/issues/${reviews[0]!.iid}`);
    expect(verdict.body).not.toContain(`/issues/${decoy.iid})`);
  });

  it('approvals then a push changing the TTL: GitLab resets them and the gate re-validates', async () => {
    const path = req();
    const iid = await w.openRequest('dev', { [path]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approvalRecorded);
    await w.push(iid, 'dev', { [path]: request({ ttl: '2h' }) });
    await w.waitFor('second requested', async () => (await w.types(iid)).filter((t) => t === 'requested').length === 2);
    await expect(w.as('maint').mergeRequests.merge(w.projectId, iid)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED' });
    expect((await w.types(iid)).includes('approved')).toBe(false);
  });

  it('a replayed merge webhook (resent by GitLab, or republished) changes nothing', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({ scope: 'read-stats', riskTier: 'cosmetic' }) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('sam').mergeRequests.approve(w.projectId, iid);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approved);
    const mergeDelivery = w.sandbox.deliveries().filter((d) => JSON.parse(d.body).object_attributes?.action === 'merge' && JSON.parse(d.body).object_attributes?.iid === iid);
    expect(mergeDelivery).toHaveLength(1);
    w.sandbox.resend(mergeDelivery[0]!.id);
    await w.sandbox.idle();
    // Republish the normalized event under a new id, as a replay slipping past ingest's dedupe would.
    const before = await w.handled();
    const last = (await w.events()).length;
    const original = await w.waitFor('the merge webhook on the bus', async () => {
      let found: any;
      await w.bus.replay(TOPIC_GITLAB, (m) => {
        const d = m.event.data as { action?: string; mrIid?: number };
        if (m.event.type === GITLAB_WEBHOOK_EVENT_TYPE && d.action === 'merge' && d.mrIid === iid) found = m.event;
      });
      return found;
    });
    await w.bus.publish(TOPIC_GITLAB, gitlabKey(w.projectId, iid), { ...original, id: `replay-${original.id}` });
    await w.waitHandled(before + 1);
    expect((await w.events()).length).toBe(last);
    expect((await w.types(iid)).filter((t) => t === 'approved')).toHaveLength(1);
  });
});

describe('approval gate on a free project (GitLab enforces nothing)', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  async function mergedWithoutGrant(iid: number, why: RegExp) {
    const { reasons, severity, comment } = await w.mergeExpectingBypass(iid);
    expect(reasons).toMatch(why);
    expect(severity).toBe('high');
    return comment;
  }

  it('says on the MR that GitLab will not enforce approvals', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await commentWith(w, iid, 'GitLab Free');
  });

  it.each([
    ['self-approval', 'dev', 'author'],
    ['bot approval', 'ci-bot', 'bot'],
    ['listed agent approval', 'deploy-agent', 'agent'],
    ['human outside the tier approvers', 'mallory', 'not_eligible'],
  ])('%s is recorded as not counted and the merge is a bypass', async (_n, who, reason) => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as(who).mergeRequests.approve(w.projectId, iid);
    const rec = await evt(w, iid, EVENT_TYPES.approvalRecorded);
    expect(rec.data).toMatchObject({ approver: who, counted: false, reason });
    const body = await mergedWithoutGrant(iid, /0 of 1 required/);
    expect(body).toContain(`\`${who}\`: not counted`);
  });

  it('approvals then a push changing the TTL: the approval is stale at merge', async () => {
    const path = req();
    const iid = await w.openRequest('dev', { [path]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approvalRecorded);
    await w.push(iid, 'dev', { [path]: request({ ttl: '2h' }) });
    await w.waitFor('second requested', async () => (await w.types(iid)).filter((t) => t === 'requested').length === 2);
    await mergedWithoutGrant(iid, /carol: stale/);
  });

  it('too few approvals is a bypass, not a grant', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({ scope: 'drop', riskTier: 'destructive', rollbackPlan: 'restore the snapshot' }) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('alice').mergeRequests.approve(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approvalRecorded);
    await mergedWithoutGrant(iid, /1 of 2 required/);
  });

  it('merge into a non-default branch is a bypass', async () => {
    await w.as('maint').branches.create(w.projectId, 'release', 'main');
    const iid = await w.openRequest('dev', { [req()]: request({}) }, { targetBranch: 'release' });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approvalRecorded);
    await mergedWithoutGrant(iid, /not the default branch main/);
  });

  const rejected: Array<[string, () => Record<string, string>, RegExp, string[]?]> = [
    ['two files in one MR', () => ({ 'elevations/a.yaml': request({}), 'elevations/b.yaml': request({}) }), /exactly one request per MR/],
    ['policy change + request in one MR', () => ({ 'policy.yaml': POLICY.replace('4h', '3h'), [req()]: request({}) }), /policy change must be its own MR/, ['policy.yaml']],
    ['TTL over ceiling', () => ({ [req()]: request({ ttl: '3h' }) }), /exceeds the reversible-write tier ceiling of 2h/],
    ['missing TTL', () => ({ [req()]: request({ ttl: undefined }) }), /spec\.ttl/],
    ['under-declared tier', () => ({ [req()]: request({ scope: 'ddl', riskTier: 'cosmetic', rollbackPlan: 'undo it' }) }), /under-declared/],
    ['unknown target', () => ({ [req()]: request({ target: 'payroll-db' }) }), /unknown target.*policy-change MR/],
    ['unknown scope', () => ({ [req()]: request({ scope: 'superuser' }) }), /unknown scope.*policy-change MR/],
    ['missing rollback plan', () => ({ [req()]: request({ scope: 'ddl', riskTier: 'semi-destructive' }) }), /rollbackPlan is required/],
    ['YAML alias bomb', () => ({ [req()]: 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n' }), /alias/i],
  ];
  it.each(rejected)('%s: rejected on the MR with the reason, status failed, merge is a bypass', async (_n, files, why, update) => {
    const iid = await w.openRequest('dev', files(), { update });
    const rej = await evt(w, iid, EVENT_TYPES.rejected);
    expect(JSON.stringify((rej.data as { problems: unknown }).problems)).toMatch(why);
    await commentWith(w, iid, 'Rejected');
    const mr = await w.as('dev').mergeRequests.show(w.projectId, iid);
    const statuses = await (await fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}/repository/commits/${mr.sha}/statuses`, { headers: { 'private-token': 'dev-token-0123456789' } })).json();
    expect(statuses).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'jit/policy', status: 'failed' })]));
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await mergedWithoutGrant(iid, /rejected/);
  });

  it('closing the MR withdraws the request', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    const res = await fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}/merge_requests/${iid}`, {
      method: 'PUT',
      headers: { 'private-token': 'dev-token-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ state_event: 'close' }),
    });
    expect(res.status).toBe(200);
    const withdrawn = await evt(w, iid, EVENT_TYPES.withdrawn);
    expect(withdrawn.data).toMatchObject({ by: 'dev' });
    await commentWith(w, iid, 'Withdrawn');
  });

  it('/jit revoke by the requester after the grant is approved requests revocation', async () => {
    const iid = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, iid, EVENT_TYPES.requested);
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await evt(w, iid, EVENT_TYPES.approvalRecorded);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const approved = await evt(w, iid, EVENT_TYPES.approved);
    await w.as('mallory').notes.create(w.projectId, iid, '/jit revoke');
    await w.as('dev').notes.create(w.projectId, iid, '/jit revoke backfill finished early');
    const revoke = await evt(w, iid, EVENT_TYPES.revokeRequested);
    expect(revoke.data).toMatchObject({ requestedBy: 'dev', reason: 'backfill finished early', grantId: (approved.data as { grantId: string }).grantId });
    const notes = await w.as('jit-bot').notes.all(w.projectId, iid);
    await w.waitFor('refusal reply to mallory', async () => (await w.as('jit-bot').notes.all(w.projectId, iid)).some((n) => n.body.includes('@mallory') && n.body.includes('refused')));
    expect(notes.length).toBeGreaterThan(0);
  });

  it('a policy change merged without the policyApprovers is refused; the catalog keeps the old version', async () => {
    const before = ((await (await fetch(`${w.gateUrl}/v1/catalog`, { headers: { authorization: `Bearer ${tokenOf('dev')}` } })).json()) as { version: string }).version;
    const iid = await w.openRequest('dev', { 'policy.yaml': POLICY.replace('users: [alice, bob]', 'users: [alice, dev]') }, { update: ['policy.yaml'] });
    await commentWith(w, iid, 'policy change');
    await w.as('sam').mergeRequests.approve(w.projectId, iid);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await commentWith(w, iid, 'jit refuses this policy version');
    const after = ((await (await fetch(`${w.gateUrl}/v1/catalog`, { headers: { authorization: `Bearer ${tokenOf('dev')}` } })).json()) as { version: string; latestPolicyRejected?: unknown }).version;
    expect(after).toBe(before);
    const ready = (await (await fetch(`${w.opsUrl}/readyz`)).json()) as { policy: { version: string } };
    expect(ready.policy.version).toBe(before);
  });

  it('a 5 MB request file is rejected without being parsed', async () => {
    const branch = 'req-huge';
    w.sandbox.pushCommit({ project: 'sec/elevations', branch, author: 'dev', startBranch: 'main', files: { [req()]: `# ${'x'.repeat(5 * 1024 * 1024)}\n${request({})}` } });
    const mr = await w.as('dev').mergeRequests.create(w.projectId, { sourceBranch: branch, targetBranch: 'main', title: 'huge' });
    const rej = await evt(w, mr.iid, EVENT_TYPES.rejected);
    expect(JSON.stringify((rej.data as { problems: unknown }).problems)).toMatch(/\d{7} bytes; the limit is 65536 bytes/);
    await commentWith(w, mr.iid, 'the limit is 65536 bytes');
  });
});

describe('approval gate after webhooks were lost (the project hook gone, as if jit were down)', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'premium', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('reconciliation finds what GitLab never delivered: a new MR is requested, a merged one approved once, the rest untouched', async () => {
    const reconcile = () => (w.gate as unknown as { gate: { reconcile(): Promise<Record<string, unknown>> } }).gate.reconcile();
    // Handled with webhooks first: one MR approved by carol before the hook disappears.
    const approvedPath = req();
    const early = await w.openRequest('dev', { [approvedPath]: request({}) });
    await evt(w, early, EVENT_TYPES.requested);
    const early2 = await w.openRequest('dev', { [req()]: request({}) });
    await evt(w, early2, EVENT_TYPES.requested);
    // the decision is on the log before the rule and the comment are written: wait for the last of them
    await commentWith(w, early, 'reversible-write');
    await commentWith(w, early2, 'reversible-write');
    await w.sandbox.idle();
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}${path}`, { ...init, headers: { 'private-token': 'maint-token-0123456789', ...(init.headers ?? {}) } });
    const hooks = (await (await api('/hooks')).json()) as Array<{ id: number }>;
    for (const h of hooks) expect((await api(`/hooks/${h.id}`, { method: 'DELETE' })).status).toBe(204);
    const handledBefore = await w.handled();

    // Nothing of this reaches jit.
    const missed = await w.openRequest('dev', { [req()]: request({}) });
    await w.as('carol').mergeRequests.approve(w.projectId, early);
    const merged = await w.as('maint').mergeRequests.merge(w.projectId, early);
    const refused = await w
      .as('maint')
      .mergeRequests.merge(w.projectId, early2)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'JIT_ERR_GITLAB_REJECTED' }); // premium: GitLab enforces the rule
    await w.sandbox.idle();
    expect(await w.handled()).toBe(handledBefore);

    expect(await reconcile()).toMatchObject({ opened: 1, merged: 1, complete: true });
    const requested = await evt(w, missed, EVENT_TYPES.requested);
    expect(requested.data).toMatchObject({ requester: 'dev', tier: 'reversible-write' });
    const approved = await evt(w, early, EVENT_TYPES.approved);
    expect(approved.data).toMatchObject({ approvers: ['carol'], mergeSha: merged.mergeCommitSha });
    await commentWith(w, missed, 'reversible-write');
    await commentWith(w, early, 'Verified at merge');
    // Again: nothing new.
    expect(await reconcile()).toMatchObject({ opened: 0, merged: 0 });
    expect(await w.types(early)).toEqual(['requested', 'approved']);
    expect(await w.types(missed)).toEqual(['requested']);
    expect(await w.types(early2)).toEqual(['requested']);
  });
});
