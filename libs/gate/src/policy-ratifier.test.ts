// Policy trust at the gate (issue 11 §1): only a verified policy merge puts a version in force; a
// mixed MR, a direct push, an unapproved merge — judged live, after a restart or after missed
// webhooks — never does, and each is on the log. The in-memory GitLab double drives these; the
// same reproductions run through the GitLab sandbox in apps/approval-gate (policy-trust.int.test.ts).
import { EVENT_TYPES } from '@jit/contracts';
import { createRegistry } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { describe, expect, it } from 'vitest';
import { headArrival } from './policy-approvals';
import { PROJECT, createFakeWorld, requestYaml, type FakeWorld } from './fixtures/fake-world';
import { POLICY_YAML } from './fixtures/policy';

/** What an attacker wants in force: a 30-day break-glass she alone approves. */
const HOSTILE = POLICY_YAML.replace('breakGlass: { ttlMax: 1h,', 'breakGlass: { ttlMax: 30d,').replace(
  'policyApprovers: { groups: [security], approvals: 2 }',
  'policyApprovers: { users: [mallory], approvals: 1 }',
);
const TIGHTER = POLICY_YAML.replace('cosmetic:         { ttlMax: 4h,', 'cosmetic:         { ttlMax: 3h,');

function openSilently(w: FakeWorld, author: string, files: Record<string, string>, branch: string): number {
  w.gl.push(PROJECT, branch, files, author);
  return w.gl.openMergeRequest(PROJECT, { sourceBranch: branch, author }).iid;
}

async function policyData(w: FakeWorld, type: string) {
  return (await w.events()).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);
}

describe('policy trust: the first policy', () => {
  it('the operator pin is recorded once on the log as ratified (how: pin); a restart does not record it again', async () => {
    const w = await createFakeWorld();
    expect(await w.policyTypes()).toEqual(['ratified:pin']);
    expect(w.store.status().ratified).toMatchObject({ how: 'pin', version: policyBlobSha(POLICY_YAML) });
    await w.restart();
    expect(await w.policyTypes()).toEqual(['ratified:pin']);
    expect(w.store.status().ratified).toMatchObject({ how: 'pin', version: policyBlobSha(POLICY_YAML) });
  });
});

describe('policy trust: nothing pinned, nothing ratified', () => {
  it('no policy is in force: requests wait (retriable), nothing is granted, and the gauge and status say which version to pin', async () => {
    const registry = createRegistry();
    const w = await createFakeWorld({ pin: null, gate: { registry } });
    expect(w.store.peek()).toBeUndefined();
    expect(w.store.status().error).toMatchObject({ code: 'JIT_ERR_POLICY_NOT_TRUSTED' });
    expect(w.store.status().error?.message).toContain(`JIT_POLICY_PIN=${policyBlobSha(POLICY_YAML)}`);
    expect(await registry.metrics()).toMatch(/jit_gate_policy_missing 1/);
    await expect(w.open('dev', { 'elevations/early.yaml': requestYaml({}) })).rejects.toMatchObject({ retriable: true });
    expect(await w.types()).toEqual([]);
    expect(await w.policyTypes()).toEqual([]);
  });
});

describe('policy trust: what never comes into force', () => {
  it('(a) a mixed MR changing policy.yaml and a README, merged without approvals: policy bypass, the ratified policy stays', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const before = w.store.current().version;
    const iid = await w.open('mallory', { 'policy.yaml': HOSTILE, 'README.md': 'typo fix' });
    expect(w.comment(iid)).toMatch(/a policy change must be its own MR/);
    await w.merge(iid);
    const [bypass] = await policyData(w, EVENT_TYPES.policyBypassDetected);
    expect(bypass).toMatchObject({ projectId: PROJECT, mrIid: iid, version: policyBlobSha(HOSTILE), inForce: before });
    await w.gate.refreshPolicy();
    expect(w.store.current().version).toBe(before);
    expect(w.store.current().policy.breakGlass?.ttlMaxSeconds).toBe(3600);
    // Reported once, not at every refresh.
    await w.gate.refreshPolicy();
    expect((await w.policyTypes()).filter((t) => t === 'bypass.detected')).toHaveLength(1);
    // Break-glass beyond the ratified ceiling is still refused.
    const req = await w.open('mallory', { 'elevations/bg.yaml': requestYaml({ breakGlass: true, ttl: '30d' }) });
    expect(await w.types()).toContain('rejected');
    expect(w.comment(req)).toMatch(/ttl/i);
  });

  it('(b) a commit pushed straight to the default branch is never adopted; policy.bypass.detected, the metric and gauge say so', async () => {
    const registry = createRegistry();
    const w = await createFakeWorld({ gate: { registry } });
    const before = w.store.current().version;
    const pushed = w.gl.push(PROJECT, 'main', { 'policy.yaml': HOSTILE }, 'mallory');
    const st = await w.gate.refreshPolicy();
    expect(st).toMatchObject({ ok: false, version: before, unratified: { version: policyBlobSha(HOSTILE) } });
    expect(w.store.current().version).toBe(before);
    const [bypass] = await policyData(w, EVENT_TYPES.policyBypassDetected);
    expect(bypass).toMatchObject({ version: policyBlobSha(HOSTILE), commitSha: pushed, inForce: before });
    expect(bypass!.mrIid).toBeUndefined();
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/jit_gate_policy_unratified 1/);
    expect(metrics).toMatch(/jit_gate_policy_bypasses_total\{how="push"\} 1/);
    // Reverting the default branch to the ratified content clears the gauge.
    w.gl.push(PROJECT, 'main', { 'policy.yaml': POLICY_YAML }, 'sam');
    expect((await w.gate.refreshPolicy()).ok).toBe(true);
    expect(await registry.metrics()).toMatch(/jit_gate_policy_unratified 0/);
  });

  it('(c) a policy MR merged without its policyApprovers is refused on the log, and stays refused after a restart', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const before = w.store.current().version;
    const iid = await w.open('mallory', { 'policy.yaml': HOSTILE });
    await w.approve(iid, 'sam'); // one of two
    await w.merge(iid);
    const [refused] = await policyData(w, EVENT_TYPES.policyRefused);
    expect(refused).toMatchObject({ mrIid: iid, version: policyBlobSha(HOSTILE), inForce: before });
    expect(refused!.reasons.join(' ')).toMatch(/1 of 2 required policyApprover/);
    await w.restart();
    expect(w.store.current().version).toBe(before);
    expect(w.store.status().unratified?.version).toBe(policyBlobSha(HOSTILE));
    // Already on the log as refused: no second report, and the replayed merge changes nothing.
    await w.gate.refreshPolicy();
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'mallory'));
    expect(await w.policyTypes()).toEqual(['ratified:pin', 'refused']);
  });

  it('approvals given before the last push do not ratify (GitLab Free keeps them)', async () => {
    const w = await createFakeWorld({ tier: 'free', now: () => new Date() });
    const before = w.store.current().version;
    const iid = await w.open('dev', { 'policy.yaml': TIGHTER });
    w.gl.approve(PROJECT, iid, 'sam', new Date(Date.now() - 60_000));
    w.gl.approve(PROJECT, iid, 'sue', new Date(Date.now() - 60_000));
    await w.merge(iid);
    expect(w.store.current().version).toBe(before);
    const [refused] = await policyData(w, EVENT_TYPES.policyRefused);
    expect(refused!.reasons.join(' ')).toMatch(/sam: stale/);
  });

  it('an unratified, invalid policy.yaml on the default branch does not stop requests: judged and approved under the ratified one', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const ratified = w.store.current().version;
    w.gl.push(PROJECT, 'main', { 'policy.yaml': 'tiers: [this is not a policy' }, 'mallory');
    await w.gate.refreshPolicy();
    const iid = await w.open('dev', { 'elevations/after.yaml': requestYaml({}) });
    await w.approve(iid, 'carol');
    await w.merge(iid);
    expect(await w.types()).toEqual(['requested', 'approval.recorded', 'approved']);
    const approved = (await w.events()).find((e) => e.type === EVENT_TYPES.approved)!.data as { policyVersion: string };
    expect(approved.policyVersion).toBe(ratified);
  });
});

describe('policy trust: what comes into force', () => {
  it('a policy-only MR approved by two policyApprovers after its last change is ratified: in force, with who and when', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const before = w.store.current().version;
    const iid = await w.open('dev', { 'policy.yaml': TIGHTER });
    await w.approve(iid, 'sam');
    await w.approve(iid, 'sue');
    await w.merge(iid);
    const [ratified] = await policyData(w, EVENT_TYPES.policyRatified).then((r) => r.filter((d) => d.how === 'merge'));
    expect(ratified).toMatchObject({ mrIid: iid, version: policyBlobSha(TIGHTER), approvers: ['sam', 'sue'], previousVersion: before });
    expect(w.store.current().version).toBe(policyBlobSha(TIGHTER));
    expect(w.store.status()).toMatchObject({ ok: true, ratified: { how: 'merge', mrIid: iid, approvers: ['sam', 'sue'] } });
    await w.restart();
    expect(w.store.current().version).toBe(policyBlobSha(TIGHTER));
  });

  it('a policy merge whose merge commit GitLab does not have yet is retried, never refused as "policy.yaml does not exist at the merge commit"', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { 'policy.yaml': TIGHTER });
    await w.approve(iid, 'sam');
    await w.approve(iid, 'sue');
    const mergeSha = w.gl.merge(PROJECT, iid, 'maint');
    const p = w.gl.projects.get(PROJECT)!;
    const files = p.commits.get(mergeSha)!;
    p.commits.delete(mergeSha); // 404 Commit Not Found: not replicated yet
    const hook = w.hook(iid, 'merge_request', 'merge', 'maint');
    await expect(w.deliver(hook)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_COMMIT_NOT_FOUND', retriable: true });
    expect(await w.policyTypes()).toEqual(['ratified:pin']);
    p.commits.set(mergeSha, files);
    await w.deliver(hook);
    expect(await w.policyTypes()).toEqual(['ratified:pin', 'ratified:merge']);
  });

  it('(d) a policy MR merged while no webhook arrived is judged at reconciliation from GitLab: ratified with approvals, refused without', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    await w.gate.stop();
    const good = openSilently(w, 'dev', { 'policy.yaml': TIGHTER }, 'policy-good');
    w.gl.approve(PROJECT, good, 'sam');
    w.gl.approve(PROJECT, good, 'sue');
    w.gl.merge(PROJECT, good);
    await w.restart({ reconcile: true, reconcileIntervalMs: 0 });
    await w.gate.reconcile();
    await expect.poll(() => w.store.current().version).toBe(policyBlobSha(TIGHTER));
    await w.gate.stop();
    const bad = openSilently(w, 'mallory', { 'policy.yaml': HOSTILE }, 'policy-bad');
    w.gl.merge(PROJECT, bad);
    await w.restart({ reconcile: true, reconcileIntervalMs: 0 });
    await w.gate.reconcile();
    await expect.poll(async () => (await policyData(w, EVENT_TYPES.policyRefused)).map((d) => d.mrIid)).toEqual([bad]);
    expect(w.store.current().version).toBe(policyBlobSha(TIGHTER));
    // Judged once: another run publishes nothing new.
    expect(await w.gate.reconcile()).toMatchObject({ merged: 0 });
  });

  it('an older policy merge judged after a newer one is refused as superseded: it never rolls the policy back', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const older = openSilently(w, 'dev', { 'policy.yaml': TIGHTER }, 'policy-older');
    const newerText = POLICY_YAML.replace('cosmetic:         { ttlMax: 4h,', 'cosmetic:         { ttlMax: 2h,');
    const newer = openSilently(w, 'dev', { 'policy.yaml': newerText }, 'policy-newer');
    for (const iid of [older, newer]) for (const u of ['sam', 'sue']) w.gl.approve(PROJECT, iid, u);
    w.gl.merge(PROJECT, older);
    w.gl.merge(PROJECT, newer);
    await w.deliver(w.hook(newer, 'merge_request', 'merge', 'dev'));
    await w.deliver(w.hook(older, 'merge_request', 'merge', 'dev'));
    expect(w.store.current().version).toBe(policyBlobSha(newerText));
    const [refused] = await policyData(w, EVENT_TYPES.policyRefused);
    expect(refused).toMatchObject({ mrIid: older });
    expect(refused!.reasons.join(' ')).toMatch(/superseded/);
  });

  it('a policy merge missed entirely is judged when the refresh finds the default branch moved, before anything is called a bypass', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = openSilently(w, 'dev', { 'policy.yaml': TIGHTER }, 'policy-quiet');
    w.gl.approve(PROJECT, iid, 'sam');
    w.gl.approve(PROJECT, iid, 'sue');
    w.gl.merge(PROJECT, iid);
    await w.gate.refreshPolicy();
    expect(w.store.current().version).toBe(policyBlobSha(TIGHTER));
    expect(await w.policyTypes()).toEqual(['ratified:pin', 'ratified:merge']);
  });
});

describe("headArrival: when the merged head arrived, by GitLab's diff versions", () => {
  const v = (id: number, headCommitSha: string, createdAt: string) => ({ id, headCommitSha, createdAt });
  it('is the oldest of the newest run at that head (a recomputed version changes nothing; a head pushed back counts from its return)', () => {
    expect(headArrival([v(3, 'a', '2030-01-01T03:00:00Z'), v(2, 'b', '2030-01-01T02:00:00Z'), v(1, 'a', '2030-01-01T01:00:00Z')], 'a')).toBe(Date.parse('2030-01-01T03:00:00Z'));
    expect(headArrival([v(2, 'b', '2030-01-01T02:30:00Z'), v(1, 'b', '2030-01-01T02:00:00Z'), v(0, 'a', '2030-01-01T01:00:00Z')], 'b')).toBe(Date.parse('2030-01-01T02:00:00Z'));
  });
  it('is undefined when the newest version is not at the head, or there is none', () => {
    expect(headArrival([v(2, 'b', '2030-01-01T02:00:00Z'), v(1, 'a', '2030-01-01T01:00:00Z')], 'a')).toBeUndefined();
    expect(headArrival([], 'a')).toBeUndefined();
  });
});
