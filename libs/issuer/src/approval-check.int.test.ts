// The issuer's GitLab re-check against the GitLab sandbox: an approval that matches the merged MR
// passes; each thing a forger would change (recipient, TTL, requester, content, merge sha, an
// unmerged MR, a TTL above the ceiling) is refused with the difference named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_RECIPIENT } from '@jit/contracts/testing';
import type { ElevationApprovedData } from '@jit/contracts';
import { createGitlabClient, type GitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createPolicyStore } from '@jit/policy';
import { createGitlabApprovalCheck, type ApprovalCheck } from './approval-check';
import { mergedRequest, policyYaml } from './fixtures/merged-request';

const PROJECT = 'ops/elevations';
const POLICY = policyYaml({ 'orders-db': '{ url: "postgres://127.0.0.1/orders" }' });
const OTHER_RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

let sandbox: Sandbox;
let bot: GitlabClient;
let carol: GitlabClient;
let check: ApprovalCheck;
let policyVersion: string;
let n = 0;

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: {
      users: [
        { username: 'jit-bot', token: 'glpat-check-bot-000001', bot: true },
        { username: 'carol', token: 'glpat-check-carol-0001' },
      ],
      projects: [
        {
          path: PROJECT,
          files: { 'policy.yaml': POLICY },
          members: [
            { username: 'jit-bot', access_level: 40 },
            { username: 'carol', access_level: 30 },
          ],
        },
      ],
    },
  });
  bot = createGitlabClient({ url: sandbox.url, token: 'glpat-check-bot-000001' });
  carol = createGitlabClient({ url: sandbox.url, token: 'glpat-check-carol-0001' });
  const seeded = createPolicyStore({ gitlab: bot, projectId: sandbox.project(PROJECT).id, substrates: { postgres: { validateScope: () => [] } } });
  policyVersion = (await seeded.atRef('main')).version;
  // the operator pinned the seeded policy: the version in force, what approvals name
  const store = createPolicyStore({ gitlab: bot, projectId: sandbox.project(PROJECT).id, substrates: { postgres: { validateScope: () => [] } }, pin: policyVersion });
  await store.refresh();
  check = createGitlabApprovalCheck({ gitlab: bot, ratifiedPolicy: (version) => store.atVersion(version) });
});
afterAll(() => sandbox?.close());

const merged = (over: { ttl?: string; ttlSeconds?: number } = {}) =>
  mergedRequest(
    {
      sandbox,
      merger: bot,
      project: PROJECT,
      author: 'carol',
      target: 'orders-db',
      scope: 'write',
      tier: 'reversible-write',
      ttl: over.ttl ?? '30m',
      ttlSeconds: over.ttlSeconds ?? 1800,
      recipient: FIXTURE_RECIPIENT,
      policyVersion,
      branch: `req-${++n}`,
    },
    carol,
  );

describe('the issuer re-checks an approval with GitLab', () => {
  it('accepts the approval of a request merged as approved', async () => {
    await expect(check.check(await merged())).resolves.toBeUndefined();
  });

  it.each<[string, (d: ElevationApprovedData) => ElevationApprovedData, RegExp]>([
    ['another recipient', (d) => ({ ...d, recipient: OTHER_RECIPIENT }), /recipient is not the request file/],
    ['a 30-day TTL', (d) => ({ ...d, ttlSeconds: 30 * 24 * 3600 }), /TTL is not the request file.*above the policy's ceiling/],
    ['another requester', (d) => ({ ...d, requester: 'mallory' }), /requester is carol, not mallory/],
    ['other content', (d) => ({ ...d, contentHash: 'a'.repeat(64) }), /not the approved content/],
    ['another merge sha', (d) => ({ ...d, mergeSha: 'b'.repeat(40), grantId: `${d.elevationId}-${'b'.repeat(40)}` }), /was not merged at b{40}/],
    // a fresh elevation or grant id over a real merged MR would be issued again: the ledger knows neither
    ['the elevation id of another MR', (d) => ({ ...d, elevationId: `gl-${d.projectId}-9999`, grantId: `gl-${d.projectId}-9999-${d.mergeSha}` }), /elevation id gl-\d+-9999 is not that of MR !\d+/],
    ['a grant id of another merge', (d) => ({ ...d, grantId: `${d.elevationId}-${'c'.repeat(40)}` }), /grant id .* is not that of the merge at/],
  ])('refuses an approval with %s', async (_what, change, why) => {
    const err = await check.check(change(await merged())).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'JIT_ERR_ISSUER_APPROVAL_MISMATCH', retriable: false });
    expect((err as Error).message).toMatch(why);
  });

  it('refuses an approval of one merged MR naming the request file another MR merged (still in the tree at its merge)', async () => {
    const earlier = await merged();
    const later = await merged();
    const err = await check.check({ ...later, requestPath: earlier.requestPath, contentHash: earlier.contentHash }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'JIT_ERR_ISSUER_APPROVAL_MISMATCH' });
    expect((err as Error).message).toMatch(new RegExp(`MR !${later.mrIid} does not change ${earlier.requestPath}`));
  });

  it('refuses an MR that is open, and a TTL the request asked for but the policy does not allow', async () => {
    sandbox.pushCommit({ project: PROJECT, branch: 'open-1', author: 'carol', startBranch: 'main', files: { 'elevations/open-1.yaml': 'x: 1\n' } });
    const open = await carol.mergeRequests.create(sandbox.project(PROJECT).id, { sourceBranch: 'open-1', targetBranch: 'main', title: 'open' });
    const data = await merged();
    await expect(check.check({ ...data, mrIid: open.iid, elevationId: `gl-${data.projectId}-${open.iid}`, grantId: `gl-${data.projectId}-${open.iid}-${data.mergeSha}` })).rejects.toThrow(
      /is opened, not merged/,
    );
    await expect(check.check(await merged({ ttl: '3h', ttlSeconds: 3 * 3600 }))).rejects.toThrow(/above the policy's ceiling of 7200s/);
  });
});
