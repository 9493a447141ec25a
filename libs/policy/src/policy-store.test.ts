import Fastify from 'fastify';
import { parse } from 'yaml';
import { createFakeGitlab } from '@jit/gitlab/testing';
import { describe, expect, it } from 'vitest';
import { catalogPlugin } from './catalog-plugin';
import { createPolicyStore, type PolicyParser } from './policy-store';
import { EXAMPLE_POLICY_YAML, fakeSubstrates } from './testing';

const parseYaml: PolicyParser = (text) => {
  try {
    return { ok: true, value: parse(text) };
  } catch (err) {
    return { ok: false, problems: [{ path: '(document)', message: (err as Error).message }] };
  }
};

function setup(policyText: string | null = EXAMPLE_POLICY_YAML) {
  const fake = createFakeGitlab({ botUsername: 'jit-bot' });
  fake.addProject({ id: 5, files: policyText === null ? {} : { 'policy.yaml': policyText } });
  const store = createPolicyStore({ gitlab: fake.client(), projectId: 5, substrates: fakeSubstrates(), parse: parseYaml });
  return { fake, store };
}

describe('createPolicyStore', () => {
  it('loads policy.yaml from the default branch with its blob sha as version', async () => {
    const { store } = setup();
    expect(() => store.current()).toThrow(/JIT_ERR_POLICY_NOT_LOADED|no valid policy/);
    const st = await store.refresh();
    expect(st.ok).toBe(true);
    expect(store.current().version).toMatch(/^[0-9a-f]{40}$/);
    expect(store.current().policy.tiers).toHaveLength(4);
  });

  it('keeps the last good policy in force when a new version fails validation, and reports it', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const good = store.current().version;
    fake.push(5, 'main', { 'policy.yaml': EXAMPLE_POLICY_YAML.replace('substrate: postgres', 'substrate: mainframe') });
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
    const missing = setup(null);
    const st = await missing.store.refresh();
    expect(st.error?.code).toBe('JIT_ERR_POLICY_MISSING');
  });

  it('fetches the policy as of an older commit', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const first = store.current();
    const oldCommit = fake.projects.get(5)!.branches.get('main')!.sha;
    fake.push(5, 'main', { 'policy.yaml': EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h') });
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
});

describe('contractsPolicyParser (parsePolicy from @jit/contracts)', () => {
  it('feeds compile/validate with ranked tiers and reports YAML problems with lines', async () => {
    const fake = createFakeGitlab({ botUsername: 'jit-bot' });
    fake.addProject({ id: 6, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
    const store = createPolicyStore({ gitlab: fake.client(), projectId: 6, substrates: fakeSubstrates() });
    expect((await store.refresh()).ok).toBe(true);
    expect(store.current().policy.tiers.map((t) => t.name)).toEqual(['cosmetic', 'reversible-write', 'semi-destructive', 'destructive']);
    fake.push(6, 'main', { 'policy.yaml': EXAMPLE_POLICY_YAML.replace('substrate: postgres', 'substrate: mainframe') });
    const st = await store.refresh();
    expect(st.problems[0]).toMatchObject({ path: 'targets.orders-db.substrate', line: expect.any(Number) });
    fake.push(6, 'main', { 'policy.yaml': 'a: &a [1]\nb: *a\n'.repeat(1) + 'x: ' + '*a,'.repeat(5) });
    expect((await store.refresh()).ok).toBe(false);
  });
});

describe('PolicyStore.reject', () => {
  it('never puts a refused version in force and falls back to the previous good one', async () => {
    const { fake, store } = setup();
    await store.refresh();
    const good = store.current().version;
    fake.push(5, 'main', { 'policy.yaml': EXAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 3h') });
    await store.refresh();
    const sneaky = store.current().version;
    expect(sneaky).not.toBe(good);
    store.reject(sneaky, 'merged without approvals');
    expect(store.current().version).toBe(good);
    const st = await store.refresh();
    expect(st.error?.code).toBe('JIT_ERR_POLICY_UNRATIFIED');
    expect(st.error?.message).toContain('merged without approvals');
    expect(store.current().version).toBe(good);
  });
});

describe('hostile policy.yaml', () => {
  it('refuses a 2 MB policy and keeps the last good one in force', async () => {
    const fake = createFakeGitlab({ botUsername: 'jit-bot' });
    fake.addProject({ id: 5, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
    const store = createPolicyStore({ gitlab: fake.client(), projectId: 5, substrates: fakeSubstrates() });
    await store.refresh();
    const good = store.current().version;
    fake.push(5, 'main', { 'policy.yaml': `# ${'x'.repeat(2 * 1024 * 1024)}\n${EXAMPLE_POLICY_YAML}` });
    const st = await store.refresh();
    expect(st.ok).toBe(false);
    expect(JSON.stringify(st.problems)).toMatch(/bytes; the limit is/);
    expect(store.current().version).toBe(good);
  });
});
