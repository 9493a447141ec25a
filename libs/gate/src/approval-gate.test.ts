import { EVENT_TYPES, GITLAB_PUSH_EVENT_TYPE, TOPIC_ELEVATIONS, createEventVerifier } from '@jit/contracts';
import { FIXTURE_OTHER_RECIPIENT, createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { waitFor } from '@jit/testing';
import { createLedger } from '@jit/ledger';
import type { EventBus } from '@jit/bus';
import { JitError } from '@jit/errors';
import { describe, expect, it } from 'vitest';
import { BOT, PROJECT, createFakeWorld, requestYaml } from './fixtures/fake-world';
import { POLICY_YAML } from './fixtures/policy';

/** A Push Hook as webhook-ingest publishes it: `who` moved `branch` from `before` to `after`. */
function pushHook(
  w: Awaited<ReturnType<typeof createFakeWorld>>,
  id: string,
  p: { branch: string; before: string; after: string; who: string; commits: Array<{ id: string; authorName: string; authorEmail: string }> },
) {
  const actorId = [...w.gl.users.values()].find((u) => u.username === p.who)!.id;
  return {
    specversion: '1.0' as const,
    id,
    source: '/jit/webhook-ingest',
    type: GITLAB_PUSH_EVENT_TYPE,
    data: {
      kind: 'push',
      projectId: PROJECT,
      projectPath: w.gl.projects.get(PROJECT)!.path,
      branch: p.branch,
      before: p.before,
      after: p.after,
      actor: { id: actorId, username: p.who, name: p.who },
      commits: p.commits,
      totalCommits: p.commits.length,
      delivery: { id, receivedAt: new Date().toISOString() },
      payload: {},
    },
  };
}

const REQ = 'elevations/backfill.yaml';

async function dataOf(w: Awaited<ReturnType<typeof createFakeWorld>>, type: string) {
  return (await w.events()).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);
}

describe('approval gate: happy paths', () => {
  it.each([
    ['cosmetic', 'read-stats', '3h', ['mallory'], undefined],
    ['reversible-write', 'write', '2h', ['carol'], undefined],
    ['semi-destructive', 'ddl', '1h', ['erin', 'frank'], 'drop the index again'],
    ['destructive', 'drop', '30m', ['alice', 'bob'], 'restore from the 02:00 snapshot'],
  ])('tier %s: requested, approvals counted, verified at merge, approved', async (tier, scope, ttl, approvers, rollbackPlan) => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({ scope, ttl, riskTier: tier, rollbackPlan }) });
    const [req] = await dataOf(w, EVENT_TYPES.requested);
    expect(req).toMatchObject({ elevationId: `gl-${PROJECT}-${iid}`, tier, requester: 'dev', requiredApprovals: approvers.length });
    expect(req!.contentHash).toMatch(/^[0-9a-f]{64}$/);
    const mr = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    expect(mr.rules).toHaveLength(1);
    expect(mr.rules[0]).toMatchObject({ name: `jit:${tier}`, approvalsRequired: approvers.length });
    expect(w.gl.projects.get(PROJECT)!.settings).toMatchObject({ mergeRequestsAuthorApproval: false, resetApprovalsOnPush: true });
    expect(w.gl.projects.get(PROJECT)!.statuses.at(-1)).toMatchObject({ name: 'jit/policy', state: 'success' });
    for (const a of approvers) await w.approve(iid, a);
    const recorded = await dataOf(w, EVENT_TYPES.approvalRecorded);
    expect(recorded.map((r) => [r.approver, r.counted])).toEqual(approvers.map((a) => [a, true]));
    const mergeEvent = await w.merge(iid);
    const [approved] = await dataOf(w, EVENT_TYPES.approved);
    const mergeSha = mr.mergeCommitSha!;
    expect(approved).toMatchObject({
      grantId: `gl-${PROJECT}-${iid}-${mergeSha}`,
      approvers: [...approvers].sort((a, b) => approvers.indexOf(a) - approvers.indexOf(b)),
      contentHash: req!.contentHash,
      mergeSha,
      policyVersion: req!.policyVersion,
      requestPath: REQ,
    });
    expect(w.comment(iid)).toContain('Verified at merge');
    // A replayed merge webhook (same id, then a fresh id) changes nothing.
    await w.deliver(mergeEvent);
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'dev'));
    expect(await w.types()).toEqual(['requested', ...approvers.map(() => 'approval.recorded'), 'approved']);
  });

  it('break-glass: no approvals needed, own ceiling, post-incident review issue, severity high', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('olga', { [REQ]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    const [req] = await dataOf(w, EVENT_TYPES.requested);
    expect(req).toMatchObject({ breakGlass: true, requiredApprovals: 0 });
    await w.merge(iid, 'dev');
    const events = await w.events();
    const approved = events.find((e) => e.type === EVENT_TYPES.approved)!;
    expect(approved.severity).toBe('high');
    const issues = w.gl.projects.get(PROJECT)!.issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]!.title).toMatch(/Post-incident review/);
    expect(issues[0]!.description).toContain('Merged by: dev');
    const carol = [...w.gl.users.values()].find((u) => u.username === 'carol')!.id;
    expect(issues[0]!.assigneeIds).toEqual([carol]);
  });

  it.each([
    ['a listed agent', 'deploy-agent', /deploy-agent is listed under agents/],
    ['a bot', 'ci-bot', /ci-bot is a bot/],
    ['a human outside breakGlass.requesters', 'dev', /dev is not among breakGlass\.requesters \(group oncall\)/],
  ])('break-glass requested by %s is rejected', async (_n, who, why) => {
    const w = await createFakeWorld();
    const iid = await w.open(who, { [REQ]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    const [rej] = await dataOf(w, EVENT_TYPES.rejected);
    expect(JSON.stringify(rej!.problems)).toMatch(why);
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
  });

  it('break-glass merged by its own requester is a bypass: two humans see every break-glass grant', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('olga', { [REQ]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    await w.merge(iid, 'olga');
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/merger must be a human other than the requester; the requester olga merged it/);
  });

  it('a policy listing an agent among breakGlass.requesters is refused', async () => {
    const bad = POLICY_YAML.replace('requesters: { groups: [oncall] }', 'requesters: { users: [deploy-agent] }');
    const w = await createFakeWorld({ policy: bad });
    expect(w.store.status()).toMatchObject({ ok: false });
    expect(JSON.stringify(w.store.status().problems)).toMatch(/break-glass is for humans on call, never agents/);
  });
});

describe('approval gate: approvals that never count', () => {
  async function openWrite() {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    return { w, iid };
  }
  it.each([
    ['self-approval', 'dev', 'author'],
    ['bot approval', 'ci-bot', 'bot'],
    ['listed agent approval', 'deploy-agent', 'agent'],
    ['human outside the approvers', 'mallory', 'not_eligible'],
  ])('%s: recorded as not counted; merge is a bypass with the reason on the MR', async (_name, who, reason) => {
    const { w, iid } = await openWrite();
    await w.approve(iid, who);
    const [rec] = await dataOf(w, EVENT_TYPES.approvalRecorded);
    expect(rec).toMatchObject({ approver: who, counted: false, reason });
    expect(w.comment(iid)).toContain(`\`${who}\`: not counted`);
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/0 of 1 required/);
    expect(w.comment(iid)).toContain('nothing will be issued');
  });

  it('committer approval does not count', async () => {
    const { w, iid } = await openWrite();
    await w.push(iid, { [REQ]: requestYaml({ justification: 'backfill order totals after INC-4411, carol fixed typo' }) }, 'carol');
    await w.approve(iid, 'carol');
    const recs = await dataOf(w, EVENT_TYPES.approvalRecorded);
    expect(recs.at(-1)).toMatchObject({ approver: 'carol', counted: false, reason: 'committer' });
  });

  it("a Push Hook that never reached jit: GitLab's push events still name the pusher, so an approval by someone else counts", async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    w.gl.push(PROJECT, m.sourceBranch, { [REQ]: requestYaml({ ttl: '1h' }) }, 'mallory'); // its Push Hook is lost
    await w.deliver(w.hook(iid, 'merge_request', 'update', 'dev'));
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toEqual([]);
    expect((await dataOf(w, EVENT_TYPES.approved))[0]).toMatchObject({ approvers: ['carol'] });
  });

  it("a Push Hook that never reached jit: the pusher's own approval never counts (GitLab's push events name her)", async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    // carol pushes under dev's author line; her Push Hook is lost; dev then pushes a copy of her
    // commit to another branch (its hook arrives), so no MR commit is left without a known push.
    w.gl.push(PROJECT, m.sourceBranch, { [REQ]: requestYaml({ ttl: '1h' }) }, 'carol');
    const c = w.gl.projects.get(PROJECT)!.mrs.get(iid)!.commits.at(-1)!;
    Object.assign(c, { authorName: 'dev', authorEmail: 'dev@example.com', committerName: 'dev', committerEmail: 'dev@example.com' });
    await w.deliver(w.hook(iid, 'merge_request', 'update', 'dev'));
    await w.deliver(pushHook(w, 'copy-push-1', { branch: 'copy', before: '0'.repeat(40), after: c.id, who: 'dev', commits: [] }));
    await w.approve(iid, 'carol');
    expect((await dataOf(w, EVENT_TYPES.approvalRecorded)).at(-1)).toMatchObject({ approver: 'carol', counted: false, reason: 'committer' });
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons.join(' ')).toMatch(/0 of 1 required .*carol: committer/);
  });

  it("a commit no push accounts for (neither a Push Hook nor GitLab's events) has an unknown pusher: the tier still needs that many approvals from provable non-pushers", async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const p = w.gl.projects.get(PROJECT)!;
    const m = p.mrs.get(iid)!;
    w.gl.push(PROJECT, m.sourceBranch, { [REQ]: requestYaml({ ttl: '1h' }) }, 'mallory'); // its Push Hook is lost
    p.pushEvents.pop(); // and GitLab's event is older than what it keeps (or the token cannot see it)
    await w.deliver(w.hook(iid, 'merge_request', 'update', 'dev'));
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/1 commit\(s\) have no recorded pusher .* so only 0 provably did not push/);
  });

  it('the same push with its Push Hook recorded: the pusher is known, the approval counts', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.push(iid, { [REQ]: requestYaml({ ttl: '1h' }) }, 'mallory');
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect((await dataOf(w, EVENT_TYPES.approved))[0]).toMatchObject({ approvers: ['carol'] });
  });

  it('the merger who approved still counts: merging is a push to the target branch that lists the MR commits, not a push to the MR', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    const head = w.gl.projects.get(PROJECT)!.branches.get(m.sourceBranch)!.sha;
    const main = w.gl.projects.get(PROJECT)!.branches.get('main')!.sha;
    // GitLab's Push Hook for the merge (carol merges): ref main, the MR's commits among its commits;
    // it can reach the gate before the merge webhook does.
    await w.deliver(
      pushHook(w, 'merge-push-1', {
        branch: 'main',
        before: main,
        after: 'f'.repeat(40),
        who: 'carol',
        commits: [
          { id: head, authorName: 'dev', authorEmail: 'dev@example.com' },
          { id: 'f'.repeat(40), authorName: 'carol', authorEmail: 'carol@example.com' },
        ],
      }),
    );
    await w.merge(iid, 'carol');
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toEqual([]);
    expect((await dataOf(w, EVENT_TYPES.approved))[0]).toMatchObject({ approvers: ['carol'] });
  });

  it('approvals then a push changing the TTL: the old approval is stale at merge (GitLab Free keeps it)', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.push(iid, { [REQ]: requestYaml({ ttl: '2h' }) });
    expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.ttlSeconds)).toEqual([1800, 7200]);
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/carol: stale/);
    expect(w.comment(iid)).toContain('given before the last change');
  });

  it("an approval recorded before the last change stays stale even if GitLab's clock runs ahead", async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    w.gl.approve(PROJECT, iid, 'carol', new Date(Date.now() + 3600_000));
    await w.deliver(w.hook(iid, 'merge_request', 'approval', 'carol'));
    await w.push(iid, { [REQ]: requestYaml({ ttl: '2h' }) });
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons.join(' ')).toMatch(/carol: stale/);
  });

  it('an approval with no ledger record counts only if GitLab dates it after the last change', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    w.gl.approve(PROJECT, iid, 'carol', new Date(Date.now() - 3600_000)); // webhook lost, dated before
    w.gl.approve(PROJECT, iid, 'dave'); // webhook lost, dated now
    await w.merge(iid);
    expect((await dataOf(w, EVENT_TYPES.approved))[0]).toMatchObject({ approvers: ['dave'] });
  });

  it('a push whose webhook was lost: the merged content is not what jit validated, so nothing is approved', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    w.gl.push(PROJECT, m.sourceBranch, { [REQ]: requestYaml({ ttl: '2h' }) }, 'dev'); // no update webhook
    w.gl.approve(PROJECT, iid, 'carol'); // approved after the push, webhook lost too
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toContain(`${REQ} at the merge commit is not the content jit validated`);
  });

  it('a push whose webhook was lost swapped the request file for another: refused at merge', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const m = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    w.gl.push(PROJECT, m.sourceBranch, { [REQ]: null, 'elevations/other.yaml': requestYaml({ ttl: '2h' }) }, 'dev');
    w.gl.approve(PROJECT, iid, 'carol');
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toContain(`${REQ} does not exist at the merge commit`);
  });

  it('an event published while the gate rebuilds its book is not lost (followed before the replay)', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const elevationId = `gl-${PROJECT}-${iid}`;
    // Another service publishes while the replay runs, after the replay's end was fixed.
    const racing: EventBus = Object.assign(Object.create(w.bus) as EventBus, {
      replay: async (...args: Parameters<EventBus['replay']>) => {
        await w.bus.replay(...args);
        if (args[0] === TOPIC_ELEVATIONS) {
          // now, after the request (a sample's fixed time would be before it, and the ledger orders a request's phases by time)
          await w.bus.publish(TOPIC_ELEVATIONS, elevationId, { ...sampleEvent(EVENT_TYPES.withdrawn, { elevationId }), time: new Date().toISOString() });
        }
      },
    });
    const gate = await w.restart({ bus: racing, followElevations: true });
    await expect.poll(() => gate.ledger.get(elevationId)?.state).toBe('withdrawn');
  });

  it('a fresh approval after the push counts', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.push(iid, { [REQ]: requestYaml({ ttl: '2h' }) });
    await w.unapprove(iid, 'carol');
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect((await dataOf(w, EVENT_TYPES.approved))[0]).toMatchObject({ approvers: ['carol'], ttlSeconds: 7200 });
  });
});

describe('approval gate: rejected requests', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['two files in one MR', { 'elevations/a.yaml': requestYaml({}), 'elevations/b.yaml': requestYaml({}) }, /exactly one request per MR/],
    ['policy change + request in one MR', { 'policy.yaml': 'tiers: {}\n', [REQ]: requestYaml({}) }, /policy change must be its own MR/],
    ['TTL over ceiling', { [REQ]: requestYaml({ ttl: '3h' }) }, /3h exceeds the reversible-write tier ceiling of 2h/],
    ['missing TTL', { [REQ]: requestYaml({ ttl: undefined }) }, /spec\.ttl/],
    ['under-declared tier', { [REQ]: requestYaml({ scope: 'ddl', riskTier: 'cosmetic', rollbackPlan: 'x y z' }) }, /under-declared/],
    ['unknown target', { [REQ]: requestYaml({ target: 'payroll-db' }) }, /unknown target .*policy-change MR/],
    ['unknown scope', { [REQ]: requestYaml({ scope: 'superuser' }) }, /unknown scope .*policy-change MR/],
    ['missing rollback plan', { [REQ]: requestYaml({ scope: 'ddl', riskTier: 'semi-destructive' }) }, /rollbackPlan is required/],
    ['YAML alias bomb', { [REQ]: `a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n` }, /alias|\(document\)/i],
    ['5 MB request file', { [REQ]: `# ${'x'.repeat(5 * 1024 * 1024)}\n${requestYaml({})}` }, /\d{7} bytes; the limit is 65536/],
    ['a file outside elevations/', { [REQ]: requestYaml({}), 'scripts/evil.sh': 'rm -rf /' }, /only files under elevations\//],
  ];
  it.each(cases)('%s: rejected with the reason on the MR, status failed, no approval possible', async (_name, files, why) => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', files);
    const [rej] = await dataOf(w, EVENT_TYPES.rejected);
    expect(rej).toBeDefined();
    expect(JSON.stringify(rej!.problems)).toMatch(why);
    expect(w.comment(iid)).toContain('Rejected');
    expect(w.gl.projects.get(PROJECT)!.statuses.at(-1)).toMatchObject({ state: 'failed' });
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toHaveLength(1);
  });

  it('reports problems with their line numbers', async () => {
    const w = await createFakeWorld();
    await w.open('dev', { [REQ]: requestYaml({ ttl: '9h', target: 'orders-db' }) });
    const [rej] = await dataOf(w, EVENT_TYPES.rejected);
    expect(rej!.problems[0]).toMatchObject({ path: 'spec.ttl', line: 6 });
  });

  it('a request fixed by a new push becomes requested', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({ ttl: '9h' }) });
    await w.push(iid, { [REQ]: requestYaml({ ttl: '1h' }) });
    expect(await w.types()).toEqual(['rejected', 'requested']);
    expect(w.comment(iid)).not.toContain('Rejected');
  });
});

describe('approval gate: merge verification', () => {
  it('merge into a non-default branch is a bypass', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    w.gl.push(PROJECT, 'release', {}, 'dev');
    const iid = await w.open('dev', { [REQ]: requestYaml({}) }, { targetBranch: 'release' });
    await w.approve(iid, 'carol');
    await w.merge(iid);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons[0]).toMatch(/not the default branch main/);
    expect((await w.events()).find((e) => e.type === EVENT_TYPES.bypassDetected)!.severity).toBe('high');
  });

  it('too few approvals on a free project is a bypass, not a grant', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({ scope: 'drop', riskTier: 'destructive', rollbackPlan: 'restore the snapshot' }) });
    expect(w.comment(iid)).toContain('GitLab Free');
    await w.approve(iid, 'alice');
    await w.merge(iid);
    expect(await w.types()).toEqual(['requested', 'approval.recorded', 'bypass.detected']);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons.join(' ')).toMatch(/1 of 2 required/);
  });

  it('a merge webhook for an MR GitLab says is still open issues nothing (forged)', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'dev', { mrState: 'merged', mergeCommitSha: 'a'.repeat(40) }));
    expect(await w.types()).toEqual(['requested', 'approval.recorded']);
  });

  it('an approval withdrawn before merge does not count', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.unapprove(iid, 'carol');
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
  });
});

describe('approval gate: events on the bus it did not sign', () => {
  it('a requested another producer wrote (no approvals required) changes nothing: a merge without approvals is a bypass', async () => {
    const signer = createTestSigningKey().signer;
    const book = createLedger();
    const w = await createFakeWorld({ tier: 'free', gate: { followElevations: true, ledger: book, gateKeys: createEventVerifier([signer.publicKey]) } });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const elevationId = `gl-${PROJECT}-${iid}`;
    const [req] = await dataOf(w, EVENT_TYPES.requested);
    expect(req!.requiredApprovals).toBeGreaterThan(0);
    const forged = { ...sampleEvent(EVENT_TYPES.requested, { ...(req as object), requiredApprovals: 0 }), time: new Date(Date.now() + 1000).toISOString() };
    const stranger = createTestSigningKey().signer;
    await w.bus.publish(TOPIC_ELEVATIONS, elevationId, forged);
    await w.bus.publish(TOPIC_ELEVATIONS, elevationId, stranger.sign({ ...forged, id: 'forged-by-a-stranger' }));
    // a marker after them on the same partition: once the book has it, it has seen (or refused) both
    const marker = sampleEvent(EVENT_TYPES.withdrawn, { elevationId: `gl-${PROJECT}-999` });
    await w.bus.publish(TOPIC_ELEVATIONS, elevationId, signer.sign(marker));
    await waitFor(() => book.get(`gl-${PROJECT}-999`) !== undefined, { what: 'the book caught up' });
    await w.merge(iid);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/0 of 1 required/);
  });
});

describe('approval gate: lifecycle, idempotency and failures', () => {
  it('close withdraws once', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.close(iid, 'dev');
    await w.deliver(w.hook(iid, 'merge_request', 'close', 'dev'));
    expect(await w.types()).toEqual(['requested', 'withdrawn']);
    expect(w.comment(iid)).toContain('Withdrawn');
  });

  it('redelivered webhooks (same id or same content) change nothing twice', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const again = w.hook(iid, 'merge_request', 'update', 'dev');
    await w.deliver(again);
    await w.deliver(again);
    w.gl.approve(PROJECT, iid, 'carol');
    const approval = w.hook(iid, 'merge_request', 'approval', 'carol');
    await w.deliver(approval);
    await w.deliver(approval);
    await w.deliver(w.hook(iid, 'merge_request', 'approved', 'carol'));
    expect(await w.types()).toEqual(['requested', 'approval.recorded']);
    expect(w.gl.projects.get(PROJECT)!.mrs.get(iid)!.rules).toHaveLength(1);
  });

  it('a GitLab outage surfaces as a retriable error and the retry completes the work', async () => {
    const w = await createFakeWorld();
    w.gl.push(PROJECT, 'r1', { [REQ]: requestYaml({}) }, 'dev');
    const m = w.gl.openMergeRequest(PROJECT, { sourceBranch: 'r1', author: 'dev' });
    const ev = w.hook(m.iid, 'merge_request', 'open', 'dev');
    w.gl.failNext(1, 503);
    const err = await w.deliver(ev).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JitError);
    expect((err as JitError).retriable).toBe(true);
    await w.deliver(ev);
    expect(await w.types()).toEqual(['requested']);
  });

  it('malformed events are refused with a non-retriable error', async () => {
    const w = await createFakeWorld();
    const bad = { specversion: '1.0' as const, id: 'x1', source: '/s', type: 'dev.jit.gitlab.webhook.v1', data: { kind: 'merge_request', projectId: 'seven' } };
    await expect(w.deliver(bad)).rejects.toMatchObject({ code: 'JIT_ERR_GATE_MALFORMED_EVENT', retriable: false });
    await expect(w.deliver({ ...bad, id: 'x2', type: 'com.example.other' })).rejects.toMatchObject({ code: 'JIT_ERR_GATE_MALFORMED_EVENT' });
    expect(await w.types()).toEqual([]);
  });

  it('ignores events from other projects', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'dev', { projectId: 999 }));
    expect(await w.types()).toEqual(['requested']);
  });

  it('/jit revoke by the requester on a granted MR requests revocation; others are refused', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.note(iid, 'dev', '/jit revoke too early');
    expect(await w.types()).toEqual(['requested']);
    await w.approve(iid, 'carol');
    await w.merge(iid);
    await w.note(iid, 'mallory', '/jit revoke');
    expect((await w.types()).filter((t) => t === 'revoke.requested')).toEqual([]);
    await w.note(iid, 'dev', '/jit revoke done with the backfill');
    await w.note(iid, 'carol', '/jit revoke');
    const revokes = await dataOf(w, EVENT_TYPES.revokeRequested);
    expect(revokes).toHaveLength(1);
    expect(revokes[0]).toMatchObject({ requestedBy: 'dev', reason: 'done with the backfill' });
    const notes = w.gl.projects
      .get(PROJECT)!
      .mrs.get(iid)!
      .notes.filter((n) => n.authorUsername === BOT);
    expect(notes.some((n) => n.body.includes('refused'))).toBe(true);
  });

  it('/jit revoke by a requester that is a bot user (an agent) is accepted; another bot is refused', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('ci-bot', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.merge(iid);
    const other = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(other, 'carol');
    await w.merge(other);
    await w.note(other, 'ci-bot', '/jit revoke not mine');
    expect(await dataOf(w, EVENT_TYPES.revokeRequested)).toEqual([]);
    await w.note(iid, 'ci-bot', '/jit revoke task finished');
    const revokes = await dataOf(w, EVENT_TYPES.revokeRequested);
    expect(revokes).toHaveLength(1);
    expect(revokes[0]).toMatchObject({ requestedBy: 'ci-bot', reason: 'task finished' });
  });

  it('the access plan lists live grants overlapping on the same target', async () => {
    const w = await createFakeWorld();
    const first = await w.open('dev', { 'elevations/one.yaml': requestYaml({}) });
    await w.approve(first, 'carol');
    await w.merge(first);
    const second = await w.open('alice', { 'elevations/two.yaml': requestYaml({ scope: 'read-stats', riskTier: 'cosmetic', recipient: FIXTURE_OTHER_RECIPIENT }) });
    expect(w.comment(second)).toContain(`Live grants on \`orders-db\`**: \`gl-${PROJECT}-${first}\` (write)`);
    expect(w.comment(first)).not.toContain('Live grants');
  });

  it('a policy-change MR gets its own rule for the policyApprovers and no elevation events', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('sam', { 'policy.yaml': (await import('./fixtures/policy')).POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h') });
    expect(await w.types()).toEqual([]);
    const mr = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    expect(mr.rules[0]).toMatchObject({ name: 'jit:policy', approvalsRequired: 2 });
    expect(w.comment(iid)).toContain('The new policy validates');
  });

  it('a policy change merged without the policyApprovers (GitLab Free) is refused; the old policy stays in force', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const { POLICY_YAML } = await import('./fixtures/policy');
    const before = w.store.current().version;
    const iid = await w.open('dev', { 'policy.yaml': POLICY_YAML.replace('users: [alice, bob]', 'users: [alice, dev]') });
    await w.approve(iid, 'sam');
    await w.merge(iid);
    expect(w.store.current().version).toBe(before);
    expect((await w.store.refresh()).error?.code).toBe('JIT_ERR_POLICY_UNRATIFIED');
    expect(w.store.current().version).toBe(before);
    expect(w.comment(iid)).toContain('jit refuses this policy version');
    expect(w.comment(iid)).toContain('1 of 2 required');
  });

  it('a policy change merged with the policyApprovers is put in force', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const { POLICY_YAML } = await import('./fixtures/policy');
    const before = w.store.current().version;
    const iid = await w.open('dev', { 'policy.yaml': POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h') });
    await w.approve(iid, 'sam');
    await w.approve(iid, 'sue');
    await w.approve(iid, 'dev');
    await w.merge(iid);
    expect(w.store.current().version).not.toBe(before);
    expect(w.store.current().policy.tiers[0]!.ttlMaxSeconds).toBe(3 * 3600);
    expect(w.comment(iid)).toMatch(/`dev`: not counted — author/);
  });

  it('a secret pasted into a request is refused without being repeated anywhere', async () => {
    const w = await createFakeWorld();
    const secret = 'postgres://admin:Sup3rS3cretPass@db.internal:5432/orders';
    const iid = await w.open('dev', { [REQ]: requestYaml({ justification: `INC-4411 use ${secret} to backfill` }) });
    const [rej] = await dataOf(w, EVENT_TYPES.rejected);
    expect(rej!.problems[0]).toMatchObject({ path: 'spec.justification' });
    const everything = JSON.stringify(await w.events()) + w.comment(iid);
    expect(everything).not.toContain('Sup3rS3cretPass');
    const hostile = await w.open('dev', { [REQ]: requestYaml({ target: 'hvs.CAESIJAAAAAAAAAAAAAAAAAAAAAA' }) });
    expect(JSON.stringify(await w.events()) + w.comment(hostile)).not.toContain('hvs.CAESIJAAAAAAAAAAAAAAAAAAAAAA');
  });

  it('a merge webhook for an MR the gate never saw is a bypass', async () => {
    const w = await createFakeWorld();
    w.gl.push(PROJECT, 'unseen', { [REQ]: requestYaml({}) }, 'dev');
    const m = w.gl.openMergeRequest(PROJECT, { sourceBranch: 'unseen', author: 'dev' });
    await w.merge(m.iid);
    expect(await w.types()).toEqual(['bypass.detected']);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons[0]).toMatch(/no validated request on record/);
  });

  it('never puts a token-like secret or hostile markup from the request into the comment unescaped', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({ justification: 'INC-1 <img src=x onerror=alert(1)> @all [link](http://evil)' }) });
    const body = w.comment(iid);
    expect(body).not.toMatch(/(^|[^\\])<img/);
    expect(body).toContain('INC-1');
    expect(body).not.toMatch(/(^|[^\\])@all/);
    expect(body).not.toContain('](http');
  });
});
