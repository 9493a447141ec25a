// Issue 11 §1 reproductions, as users live them: the GitLab sandbox (a GitLab Free project, which
// enforces no approval) delivers real webhooks to ingest -> embedded bus -> approval-gate server;
// people act with their own tokens through @jit/gitlab (gitbeaker). The policy in force is read
// from GET /v1/catalog; on the old code each of these put the attacker's policy in force.
import { EVENT_TYPES } from '@jit/contracts';
import { FIXTURE_RECIPIENT, fixtureRecipientsYaml } from '@jit/contracts/testing';
import { policyBlobSha } from '@jit/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_PATH, startSandboxWorld, tokenOf, type SandboxWorld } from './testing/sandbox-world';

const POLICY = `tiers:
  cosmetic:         { ttlMax: 4h,  approvals: 1, approvers: { anyHuman: true } }
  reversible-write: { ttlMax: 2h,  approvals: 1, approvers: { groups: [platform] } }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent]
auditors: { groups: [security] }
${fixtureRecipientsYaml()}policyApprovers: { groups: [security], approvals: 2 }
targets:
  orders-db:
    substrate: postgres
    connection: { secretRef: env:ORDERS_DB_ADMIN_URL }
    scopes:
      read-stats: { tier: cosmetic, grant: "SELECT ON ALL TABLES IN SCHEMA public" }
      write:      { tier: reversible-write, grant: "INSERT, UPDATE ON ALL TABLES IN SCHEMA public" }
`;
/** The reproduction's policy: break-glass for 30 days, the attacker her own policy approver. */
const HOSTILE = POLICY.replace('breakGlass: { ttlMax: 1h,', 'breakGlass: { ttlMax: 30d,').replace(
  'policyApprovers: { groups: [security], approvals: 2 }',
  'policyApprovers: { users: [maint], approvals: 1 }',
);

interface CatalogBody {
  version: string;
  breakGlass?: { ttlMaxSeconds: number };
  ratified?: { version: string; how: string; at: string; by: string[]; mrIid?: number; mergedBy?: string };
  latestPolicyRejected?: { version?: string; code?: string };
}

/** The catalog as sam (security, an auditor) sees it: who ratified the version in force is named. */
async function catalog(w: SandboxWorld): Promise<CatalogBody> {
  return (await (await fetch(`${w.gateUrl}/v1/catalog`, { headers: { authorization: `Bearer ${tokenOf('sam')}` } })).json()) as CatalogBody;
}

function request(spec: Record<string, string | boolean>): string {
  const full = { target: 'orders-db', scope: 'write', ttl: '30m', riskTier: 'reversible-write', justification: 'backfill order totals after INC-4411', recipient: FIXTURE_RECIPIENT, ...spec };
  return ['apiVersion: jit/v1', 'kind: ElevationRequest', 'spec:', ...Object.entries(full).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`), ''].join('\n');
}

async function policyEvent(w: SandboxWorld, type: string, match: (d: Record<string, unknown>) => boolean = () => true) {
  return w.waitFor(`${type}`, async () => (await w.events()).find((e) => e.type === type && match(e.data as Record<string, unknown>))?.data as Record<string, unknown> | undefined);
}

/** Sets policy.yaml back to the ratified text with a direct push (cleanup between reproductions; itself not a change). */
async function restoreMain(w: SandboxWorld): Promise<void> {
  await w.as('maint').commits.create(w.projectId, 'main', 'restore policy', [{ action: 'update', filePath: 'policy.yaml', content: POLICY }]);
  await w.sandbox.idle();
  const st = await (w.gate as unknown as { gate: { refreshPolicy(): Promise<{ ok: boolean }> } }).gate.refreshPolicy();
  expect(st.ok).toBe(true);
}

/** A policy-only MR by `author`, approved by both security members, merged by maint; waits for its ratification. */
async function ratifyPolicy(w: SandboxWorld, author: string, text: string): Promise<number> {
  const iid = await w.openRequest(author, { 'policy.yaml': text }, { update: ['policy.yaml'] });
  await w.waitFor('the policy-change comment', async () => (await w.comment(iid)).includes('policy change'));
  await w.as('sam').mergeRequests.approve(w.projectId, iid);
  await w.as('sue').mergeRequests.approve(w.projectId, iid);
  await w.as('maint').mergeRequests.merge(w.projectId, iid);
  await policyEvent(w, EVENT_TYPES.policyRatified, (d) => d['mrIid'] === iid);
  // the gate folds policy.ratified from the log into the version in force after it is emitted: wait
  // until the catalog (what users read) shows it
  await w.waitFor('the ratified version in the catalog', async () => (await catalog(w)).version === policyBlobSha(text));
  return iid;
}

const refreshPolicy = (w: SandboxWorld) => (w.gate as unknown as { gate: { refreshPolicy(): Promise<unknown> } }).gate.refreshPolicy();

describe('policy trust on a GitLab Free project', () => {
  let w: SandboxWorld;
  let ratified: string;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
    ratified = (await catalog(w)).version;
  });
  afterAll(async () => {
    await w?.close();
  });

  it('the pinned first policy is in force and the catalog says how it was ratified', async () => {
    expect(ratified).toBe(policyBlobSha(POLICY));
    expect((await catalog(w)).ratified).toMatchObject({ version: ratified, how: 'pin', by: [] });
  });

  it('(a) a mixed MR (policy.yaml + README) merged without approvals never puts its policy in force', async () => {
    const iid = await w.openRequest('maint', { 'policy.yaml': HOSTILE, 'README.md': '# elevations (typo)\n' }, { update: ['policy.yaml', 'README.md'] });
    await w.waitFor('the gate to reject the mixed MR', async () => (await w.comment(iid)).includes('a policy change must be its own MR'));
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await w.waitFor('the merge verdict on the MR', async () => (await w.comment(iid)).includes('nothing will be issued'));
    await refreshPolicy(w);
    const c = await catalog(w);
    expect(c.version).toBe(ratified);
    expect(c.breakGlass?.ttlMaxSeconds).toBe(3600);
    expect(c.latestPolicyRejected).toMatchObject({ version: policyBlobSha(HOSTILE), code: 'JIT_ERR_POLICY_UNRATIFIED' });
    const bypass = await policyEvent(w, EVENT_TYPES.policyBypassDetected, (d) => d['mrIid'] === iid);
    expect(bypass).toMatchObject({ version: policyBlobSha(HOSTILE), inForce: ratified });
    await restoreMain(w);
  });

  it('(b) a commit pushed straight to the default branch is never adopted; it is reported as a policy bypass', async () => {
    const pushed = await w.as('maint').commits.create(w.projectId, 'main', 'relax break-glass', [{ action: 'update', filePath: 'policy.yaml', content: HOSTILE.replace('30d', '29d') }]);
    await refreshPolicy(w);
    expect((await catalog(w)).version).toBe(ratified);
    const bypass = await policyEvent(w, EVENT_TYPES.policyBypassDetected, (d) => d['commitSha'] === pushed.id);
    expect(bypass).toMatchObject({ version: policyBlobSha(HOSTILE.replace('30d', '29d')), inForce: ratified });
    const metrics = await (await fetch(`${w.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^jit_gate_policy_unratified 1$/m);
    await restoreMain(w);
  });

  it('(c) a policy MR merged without its policyApprovers is refused on the log and stays refused after a restart', async () => {
    const iid = await w.openRequest('maint', { 'policy.yaml': HOSTILE.replace('30d', '28d') }, { update: ['policy.yaml'] });
    await w.waitFor('the policy-change comment', async () => (await w.comment(iid)).includes('policy change'));
    await w.as('sam').mergeRequests.approve(w.projectId, iid);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await w.waitFor('the refusal on the MR', async () => (await w.comment(iid)).includes('jit refuses this policy version'));
    await w.restartGate();
    const c = await catalog(w);
    expect(c.version).toBe(ratified);
    expect(c.breakGlass?.ttlMaxSeconds).toBe(3600);
    const refused = await policyEvent(w, EVENT_TYPES.policyRefused, (d) => d['mrIid'] === iid);
    expect((refused['reasons'] as string[]).join(' ')).toMatch(/1 of 2 required policyApprover/);
    await restoreMain(w);
  });

  it('an unratified, invalid policy.yaml on the default branch does not stop requests: they are judged and approved under the ratified policy', async () => {
    await w.as('maint').commits.create(w.projectId, 'main', 'break the policy', [{ action: 'update', filePath: 'policy.yaml', content: 'tiers: [not a policy\n' }]);
    await refreshPolicy(w);
    const iid = await w.openRequest('dev', { 'elevations/after-invalid.yaml': request({}) });
    await w.waitFor('requested', async () => (await w.types(iid)).includes('requested'));
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const approved = await w.waitFor('approved', async () => (await w.events()).find((e) => e.type === EVENT_TYPES.approved && (e.data as { mrIid: number }).mrIid === iid));
    expect((approved.data as { policyVersion: string }).policyVersion).toBe(ratified);
    await restoreMain(w);
  });

  it('a policy-only MR with two fresh policyApprover approvals is ratified: the catalog shows the version, when and by whom', async () => {
    const tighter = POLICY.replace('cosmetic:         { ttlMax: 4h,', 'cosmetic:         { ttlMax: 3h,');
    const iid = await ratifyPolicy(w, 'dev', tighter);
    const c = await catalog(w);
    expect(c.version).toBe(policyBlobSha(tighter));
    expect(c.ratified).toMatchObject({ version: policyBlobSha(tighter), how: 'merge', mrIid: iid, by: ['sam', 'sue'], mergedBy: 'maint' });
    expect(Date.parse(c.ratified!.at)).toBeGreaterThan(0);
    ratified = c.version;
  });

  it('a policy MR rewritten after its approvals by a push dated (by its git) before them is refused: GitLab dates the new head after the approvals', async () => {
    const benign = (await w.as('maint').files.show(w.projectId, 'policy.yaml', 'main')).content;
    const iid = await w.openRequest('dev', { 'policy.yaml': new TextDecoder().decode(benign).replace('ttlMax: 3h,', 'ttlMax: 2h,') }, { update: ['policy.yaml'] });
    await w.waitFor('the policy-change comment', async () => (await w.comment(iid)).includes('policy change'));
    await w.as('sam').mergeRequests.approve(w.projectId, iid);
    await w.as('sue').mergeRequests.approve(w.projectId, iid);
    // GitLab Free keeps approvals on push; the author's git writes any date it likes.
    const branch = (await w.as('dev').mergeRequests.show(w.projectId, iid)).sourceBranch;
    w.sandbox.pushCommit({ project: PROJECT_PATH, branch, author: 'dev', files: { 'policy.yaml': HOSTILE }, committedAt: new Date(Date.now() - 3_600_000) });
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const refused = await policyEvent(w, EVENT_TYPES.policyRefused, (d) => d['mrIid'] === iid);
    expect((refused['reasons'] as string[]).join(' ')).toMatch(/0 of 2 required policyApprover approval\(s\) given after the last change \(not counted: sam: stale, sue: stale\)/);
    await refreshPolicy(w);
    const c = await catalog(w);
    expect(c.version).toBe(ratified);
    expect(c.breakGlass?.ttlMaxSeconds).toBe(3600);
  });

  it('a request validated before a ratified policy change and merged after it is not issued on the superseded terms', async () => {
    const iid = await w.openRequest('dev', { 'elevations/before-change.yaml': request({}) });
    await w.waitFor('requested', async () => (await w.types(iid)).includes('requested'));
    await w.as('carol').mergeRequests.approve(w.projectId, iid);
    // Security then ratifies a policy that wants two platform approvals for reversible writes.
    const text = new TextDecoder().decode((await w.as('maint').files.show(w.projectId, 'policy.yaml', 'main')).content);
    const stricter = text.replace('reversible-write: { ttlMax: 2h,  approvals: 1,', 'reversible-write: { ttlMax: 2h,  approvals: 2,');
    expect(stricter).not.toBe(text);
    await ratifyPolicy(w, 'maint', stricter);
    ratified = policyBlobSha(stricter);
    // The request, approved once under the old terms, is merged after the change.
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    const bypass = await w.verdict(iid);
    expect(bypass.type).toBe(EVENT_TYPES.bypassDetected);
    expect((bypass.data as { reasons: string[] }).reasons.join(' ')).toMatch(/validated under policy version \w+, which version \w+ replaced before the merge/);
  });
});

describe('policy trust: policy.yaml deleted from the default branch by a direct push', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('is never adopted, and is reported as a policy bypass with the unratified gauge up', async () => {
    const inForce = (await catalog(w)).version;
    await w.as('maint').commits.create(w.projectId, 'main', 'remove the policy', [{ action: 'delete', filePath: 'policy.yaml' }]);
    await refreshPolicy(w);
    expect((await catalog(w)).version).toBe(inForce);
    const bypass = await policyEvent(w, EVENT_TYPES.policyBypassDetected, (d) => d['inForce'] === inForce && !d['version']);
    expect((bypass['reasons'] as string[]).join(' ')).toMatch(/policy.yaml is missing from the default branch/);
    expect(await (await fetch(`${w.opsUrl}/metrics`)).text()).toMatch(/^jit_gate_policy_unratified 1$/m);
  });
});

describe('policy trust after webhooks were lost (the project hook gone, as if jit were down)', () => {
  let w: SandboxWorld;
  beforeAll(async () => {
    w = await startSandboxWorld({ tier: 'free', policy: POLICY });
  });
  afterAll(async () => {
    await w?.close();
  });

  it('(d) a policy MR merged while jit missed the webhook is judged at reconciliation, not adopted', async () => {
    const before = (await catalog(w)).version;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${w.sandbox.apiUrl}/projects/${w.projectId}${path}`, { ...init, headers: { 'private-token': 'maint-token-0123456789', ...(init.headers ?? {}) } });
    await w.sandbox.idle();
    for (const h of (await (await api('/hooks')).json()) as Array<{ id: number }>) expect((await api(`/hooks/${h.id}`, { method: 'DELETE' })).status).toBe(204);
    const iid = await w.openRequest('maint', { 'policy.yaml': HOSTILE }, { update: ['policy.yaml'] });
    await w.as('maint').mergeRequests.merge(w.projectId, iid);
    await w.sandbox.idle();
    await (w.gate as unknown as { gate: { reconcile(): Promise<unknown> } }).gate.reconcile();
    await refreshPolicy(w);
    expect((await catalog(w)).version).toBe(before);
    const refused = await policyEvent(w, EVENT_TYPES.policyRefused, (d) => d['mrIid'] === iid);
    expect((refused['reasons'] as string[]).join(' ')).toMatch(/0 of 2 required policyApprover/);
  });
});
