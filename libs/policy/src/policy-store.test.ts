import Fastify from 'fastify';
import { parse } from 'yaml';
import { EVENT_TYPES } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createFakeGitlab, type FakeGitlab } from '@jit/gitlab/testing';
import type { JitError } from '@jit/errors';
import { describe, expect, it } from 'vitest';
import { catalogPlugin } from './catalog-plugin';
import { createPolicyStore, type PolicyParser, type PolicyStore } from './policy-store';
import { policyBlobSha } from './policy-trust';
import { EXAMPLE_POLICY_YAML, fakeSubstrates } from './testing';

const parseYaml: PolicyParser = (text) => {
  try {
    return { ok: true, value: parse(text) };
  } catch (err) {
    return { ok: false, problems: [{ path: '(document)', message: (err as Error).message }] };
  }
};

/** A project whose policy.yaml is pinned as the first policy (the operator's act), unless `pin` says otherwise. */
function setup(policyText: string | null = EXAMPLE_POLICY_YAML, pin: string | null = policyText === null ? null : policyBlobSha(policyText)) {
  const fake = createFakeGitlab({ botUsername: 'jit-bot' });
  fake.addProject({ id: 5, files: policyText === null ? {} : { 'policy.yaml': policyText } });
  const store = createPolicyStore({ gitlab: fake.client(), projectId: 5, substrates: fakeSubstrates(), parse: parseYaml, ...(pin ? { pin } : {}) });
  return { fake, store };
}

/** Pushes a new policy.yaml to main and ratifies it on the log, as a verified policy merge would. */
async function ratify(fake: FakeGitlab, store: PolicyStore, text: string, project = 5): Promise<string> {
  fake.push(project, 'main', { 'policy.yaml': text });
  const version = policyBlobSha(text);
  const commitSha = fake.projects.get(project)!.branches.get('main')!.sha;
  expect(store.apply(sampleEvent(EVENT_TYPES.policyRatified, { projectId: project, version, commitSha, mrIid: 11 }))).toBe(true);
  return version;
}

describe('createPolicyStore', () => {
  it('puts the pinned first policy in force, with its blob sha as version', async () => {
    const { store } = setup();
    expect(() => store.current()).toThrow(/JIT_ERR_POLICY_NOT_LOADED|no valid policy/);
    const st = await store.refresh();
    expect(st.ok).toBe(true);
    expect(store.current().version).toMatch(/^[0-9a-f]{40}$/);
    expect(store.current().policy.tiers).toHaveLength(4);
    expect(st.ratified).toMatchObject({ how: 'pin', version: policyBlobSha(EXAMPLE_POLICY_YAML) });
  });

  it('without a ratification or a pin nothing is in force, and the message says how to pin', async () => {
    const { store } = setup(EXAMPLE_POLICY_YAML, null);
    const st = await store.refresh();
    expect(st.ok).toBe(false);
    expect(store.peek()).toBeUndefined();
    expect(st.error?.code).toBe('JIT_ERR_POLICY_NOT_TRUSTED');
    expect(st.error?.message).toContain(`JIT_POLICY_PIN=${policyBlobSha(EXAMPLE_POLICY_YAML)}`);
    expect(() => store.current()).toThrow(/no policy is in force/);
  });

  it('a pin that is not the default branch puts nothing in force', async () => {
    const { store } = setup(EXAMPLE_POLICY_YAML, policyBlobSha('something else'));
    const st = await store.refresh();
    expect(store.peek()).toBeUndefined();
    expect(st.error?.message).toMatch(/pinned policy version [0-9a-f]{40} .* is not policy\.yaml on the default branch/);
  });

  it('never adopts a version pushed to the default branch; the ratified one stays, the push is reported', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const good = store.current().version;
    fake.push(5, 'main', { 'policy.yaml': EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 30d') });
    const pushed = fake.projects.get(5)!.branches.get('main')!.sha;
    const st = await store.refresh();
    expect(store.current().version).toBe(good);
    expect(st).toMatchObject({ ok: false, version: good, unratified: { version: policyBlobSha(EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 30d')), commitId: pushed } });
    expect(st.error?.code).toBe('JIT_ERR_POLICY_UNRATIFIED');
  });

  it('puts a ratified version in force at its commit, whatever the default branch holds later', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const v2 = await ratify(fake, store, EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h'));
    fake.push(5, 'main', { 'policy.yaml': 'tiers: [broken' });
    const st = await store.refresh();
    expect(store.current().version).toBe(v2);
    expect(store.current().policy.tiers[0]!.ttlMaxSeconds).toBe(3 * 3600);
    expect(st.ratified).toMatchObject({ how: 'merge', mrIid: 11, approvers: ['sam', 'sue'] });
    expect(st.unratified).toBeDefined();
    expect(st.problems.length).toBeGreaterThan(0); // what is wrong with the unadopted file is still said
  });

  it('atVersion reads any ratified version; an unknown one is refused (retriable)', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const v1 = store.current().version;
    await ratify(fake, store, EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h'));
    await store.refresh();
    expect((await store.atVersion(v1)).version).toBe(v1);
    await expect(store.atVersion(policyBlobSha('never ratified'))).rejects.toMatchObject({ code: 'JIT_ERR_POLICY_VERSION_UNKNOWN', retriable: true });
  });

  it('ignores the policy events of another project', async () => {
    const { store } = setup();
    expect(store.apply(sampleEvent(EVENT_TYPES.policyRatified, { projectId: 6 }))).toBe(false);
    expect(store.trust.current()).toBeUndefined();
  });

  it('keeps the last good policy in force when a ratified version fails validation here, and reports it', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const good = store.current().version;
    await ratify(fake, store, EXAMPLE_POLICY_YAML.replace('substrate: postgres', 'substrate: mainframe'));
    const st = await store.refresh();
    expect(st.ok).toBe(false);
    expect(st.version).toBe(good);
    expect(st.latestVersion).not.toBe(good);
    expect(st.error?.code).toBe('JIT_ERR_POLICY_INVALID');
    expect(st.problems[0]).toMatchObject({ path: 'targets.orders-db.substrate' });
    expect(store.current().version).toBe(good);
  });

  it('reports unparsable YAML and a missing file without throwing', async () => {
    const bad = setup('tiers: [unclosed');
    expect((await bad.store.refresh()).ok).toBe(false);
    expect(bad.store.peek()).toBeUndefined();
    const missing = setup(null);
    const st = await missing.store.refresh();
    expect(st.error?.code).toBe('JIT_ERR_POLICY_MISSING');
  });

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('expected a failure'),
      (e: unknown) => e as JitError,
    );

  it('a 404 at a commit says what is missing: the file at a commit GitLab has is final, a commit GitLab lacks is retried and never reported as a missing policy', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const p = fake.projects.get(5)!;
    const head = p.branches.get('main')!.sha;
    fake.push(5, 'main', { 'policy.yaml': null, 'README.md': 'moved' });
    const without = p.branches.get('main')!.sha;
    const gone = await failure(store.atRef(without));
    expect(gone).toMatchObject({ code: 'JIT_ERR_POLICY_MISSING_AT_COMMIT', retriable: false });
    expect(gone.message).toContain(`does not exist at commit ${without}`);
    expect(gone.message).not.toMatch(/commit one to the default branch/);
    const files = p.commits.get(head)!;
    p.commits.delete(head); // GitLab does not have it (yet): not replicated, or rewritten away
    const lacking = await failure(store.atRef(head));
    expect(lacking).toMatchObject({ code: 'JIT_ERR_GITLAB_COMMIT_NOT_FOUND', retriable: true });
    expect(lacking.message).not.toMatch(/policy\.yaml was not found|commit one/);
    p.commits.set(head, files);
    expect((await store.atRef(head)).version).toBe(store.current().version);
    // On a branch, a missing file is still "commit one to the default branch".
    const onBranch = await failure(store.atRef('main'));
    expect(onBranch).toMatchObject({ code: 'JIT_ERR_POLICY_MISSING', retriable: false });
    expect(onBranch.message).toMatch(/commit one to the default branch/);
  });

  it('fetches the policy as of an older commit', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const first = store.current();
    const oldCommit = fake.projects.get(5)!.branches.get('main')!.sha;
    await ratify(fake, store, EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h'));
    await store.refresh();
    expect(store.current().version).not.toBe(first.version);
    const old = await store.atRef(oldCommit);
    expect(old.version).toBe(first.version);
    expect(old.policy.tiers[0]!.ttlMaxSeconds).toBe(14400);
  });

  it('leaves GitLab outages retriable and keeps the policy in force', async () => {
    const { fake, store } = setup();
    await store.refresh();
    fake.failNext(1, 503);
    const st = await store.refresh();
    expect(st.ok).toBe(false);
    expect(st.error?.code).toBe('JIT_ERR_GITLAB_UNAVAILABLE');
    expect(store.peek()).toBeDefined();
  });
});

describe('catalogPlugin', () => {
  it('serves GET /v1/catalog, 503 before a policy is loaded', async () => {
    const { store } = setup();
    const app = Fastify();
    await app.register(catalogPlugin, { store, resolveGroup: async (g) => (g === 'platform' ? [{ username: 'carol' }] : []) });
    const before = await app.inject({ method: 'GET', url: '/v1/catalog' });
    expect(before.statusCode).toBe(503);
    await store.refresh();
    const res = await app.inject({ method: 'GET', url: '/v1/catalog' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.version).toBe(store.current().version);
    expect(body.entries.find((e: { scope: string }) => e.scope === 'write').eligibleApprovers).toEqual(['carol']);
    await app.close();
  });

  it('names, to a caller who is not an auditor, no user with a registered key but the caller', async () => {
    const { store } = setup();
    await store.refresh();
    const app = Fastify();
    app.addHook('onRequest', async (req) => void ((req as { caller?: unknown }).caller = { username: String(req.headers['x-user']), bot: false, via: 'gitlab-token' }));
    const access = { viewOf: async (c: { username: string }) => ({ auditor: c.username === 'auditor', sees: () => true }) };
    await app.register(catalogPlugin, { store, resolveGroup: async () => [], access });
    const as = async (user: string) => (await app.inject({ method: 'GET', url: '/v1/catalog', headers: { 'x-user': user } })).json().recipientUsers;
    expect(await as('auditor')).toEqual(['alice', 'ci-bot', 'deploy-agent', 'dev', 'maint', 'migration-bot', 'olga']);
    expect(await as('Dev')).toEqual(['dev']);
    expect(await as('mallory')).toEqual([]);
    await app.close();
  });
});

describe('contractsPolicyParser (parsePolicy from @jit/contracts)', () => {
  it('feeds compile/validate with ranked tiers and reports YAML problems with lines', async () => {
    const fake = createFakeGitlab({ botUsername: 'jit-bot' });
    fake.addProject({ id: 6, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
    const store = createPolicyStore({ gitlab: fake.client(), projectId: 6, substrates: fakeSubstrates(), pin: policyBlobSha(EXAMPLE_POLICY_YAML) });
    expect((await store.refresh()).ok).toBe(true);
    expect(store.current().policy.tiers.map((t) => t.name)).toEqual(['cosmetic', 'reversible-write', 'semi-destructive', 'destructive']);
    await ratify(fake, store, EXAMPLE_POLICY_YAML.replace('substrate: postgres', 'substrate: mainframe'), 6);
    const st = await store.refresh();
    expect(st.problems[0]).toMatchObject({ path: 'targets.orders-db.substrate', line: expect.any(Number) });
    fake.push(6, 'main', { 'policy.yaml': 'a: &a [1]\nb: *a\n'.repeat(1) + 'x: ' + '*a,'.repeat(5) });
    expect((await store.refresh()).ok).toBe(false);
  });
});

describe('hostile policy.yaml', () => {
  it('refuses a 2 MB policy and keeps the last good one in force', async () => {
    const fake = createFakeGitlab({ botUsername: 'jit-bot' });
    fake.addProject({ id: 5, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
    const store = createPolicyStore({ gitlab: fake.client(), projectId: 5, substrates: fakeSubstrates(), pin: policyBlobSha(EXAMPLE_POLICY_YAML) });
    await store.refresh();
    const good = store.current().version;
    await ratify(fake, store, `# ${'x'.repeat(2 * 1024 * 1024)}\n${EXAMPLE_POLICY_YAML}`);
    const st = await store.refresh();
    expect(st.ok).toBe(false);
    expect(JSON.stringify(st.problems)).toMatch(/bytes; the limit is/);
    expect(store.current().version).toBe(good);
  });
});
