import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compilePolicy, validatePolicy } from './compile-policy';
import { evaluateRequest } from './evaluate-request';
import { isEligibleApprover, resolveApprovers } from './approvers';
import { buildCatalog } from './catalog';
import type { PolicyModel } from './model';
import { EXAMPLE_POLICY_YAML, fakeSubstrates } from './testing';

function model(yamlText = EXAMPLE_POLICY_YAML): PolicyModel {
  const { policy, problems } = compilePolicy(parse(yamlText));
  expect(problems).toEqual([]);
  return policy!;
}

const groups: Record<string, Array<{ username: string; bot?: boolean }>> = {
  platform: [{ username: 'carol' }, { username: 'dave' }, { username: 'deploy-agent' }, { username: 'ci-bot', bot: true }],
  'platform-leads': [{ username: 'erin' }, { username: 'frank' }],
  oncall: [{ username: 'olga' }],
  security: [{ username: 'sam' }, { username: 'sue' }],
};
const resolveGroup = async (g: string) => groups[g] ?? [];

const base = {
  target: 'orders-db',
  scope: 'write',
  ttl: '30m',
  riskTier: 'reversible-write',
  justification: 'backfill order totals after INC-4411',
  recipient: 'age1qqqq',
};

describe('compilePolicy + validatePolicy', () => {
  it('accepts the example policy, ranks tiers by declaration order and converts TTLs', () => {
    const p = model();
    expect(p.tiers.map((t) => [t.name, t.rank, t.ttlMaxSeconds])).toEqual([
      ['cosmetic', 0, 14400],
      ['reversible-write', 1, 7200],
      ['semi-destructive', 2, 3600],
      ['destructive', 3, 1800],
    ]);
    expect(p.breakGlass).toMatchObject({ ttlMaxSeconds: 3600, approvals: 0, reviewWithinSeconds: 86400 });
    expect(validatePolicy(p, fakeSubstrates())).toEqual([]);
  });

  it('rejects a tier ceiling the substrate cannot honour (GCP tokens: 1 h)', () => {
    const p = model(
      EXAMPLE_POLICY_YAML +
        `  analytics:
    substrate: gcp-iam
    scopes:
      bq-write: { tier: reversible-write, serviceAccount: bq@p.iam.gserviceaccount.com }
`,
    );
    const problems = validatePolicy(p, fakeSubstrates());
    expect(problems.map((x) => x.path)).toEqual(['tiers.reversible-write.ttlMax']);
    expect(problems[0]!.message).toMatch(/2h exceeds what substrate gcp-iam can honour \(1h\)/);
  });

  it('reports scope problems from the substrate with the full path, and unknown substrates/tiers', () => {
    const p = model(
      EXAMPLE_POLICY_YAML +
        `  kv:
    substrate: vault
    scopes:
      rotate: { tier: reversible-write }
      other: { tier: platinum, policy: x }
  mystery:
    substrate: mainframe
    scopes:
      all: { tier: cosmetic }
`,
    );
    const problems = validatePolicy(p, fakeSubstrates());
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'targets.kv.scopes.rotate.policy', message: 'policy is required' }),
        expect.objectContaining({ path: 'targets.kv.scopes.other.tier', message: expect.stringMatching(/unknown tier platinum/) }),
        expect.objectContaining({ path: 'targets.mystery.substrate', message: expect.stringMatching(/unknown substrate mainframe/) }),
      ]),
    );
  });

  it('validates a named instance (vault:prod) with its kind when only kinds are registered', () => {
    const p = model(EXAMPLE_POLICY_YAML + `  kv:\n    substrate: "vault:prod"\n    scopes:\n      rotate: { tier: reversible-write }\n`);
    expect(validatePolicy(p, fakeSubstrates()).map((x) => x.path)).toEqual(['targets.kv.scopes.rotate.policy']);
  });

  it('rejects agents listed as approvers, zero-approval tiers, and too few listed users', () => {
    const p = model(
      EXAMPLE_POLICY_YAML.replace('users: [alice, bob]', 'users: [alice, migration-bot]')
        .replace('cosmetic:         { ttlMax: 4h,  approvals: 1', 'cosmetic:         { ttlMax: 4h,  approvals: 0')
        .replace('approvals: 2, approvers: { users', 'approvals: 3, approvers: { users'),
    );
    const problems = validatePolicy(p, fakeSubstrates());
    const paths = problems.map((x) => x.path);
    expect(paths).toContain('tiers.destructive.approvers.users[1]');
    expect(paths).toContain('tiers.cosmetic.approvals');
    expect(paths).toContain('tiers.destructive.approvals');
  });

  it('reports structural problems with their path and the locator line', () => {
    const { policy, problems } = compilePolicy({ tiers: { a: { ttlMax: 'forever', approvals: -1, approvers: 'x' } }, targets: 'nope' }, (path) => ({ line: path.length + 1, column: 1 }));
    expect(policy).toBeUndefined();
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    expect(byPath['tiers.a.ttlMax']).toMatchObject({ line: 4 });
    expect(Object.keys(byPath)).toEqual(expect.arrayContaining(['tiers.a.approvals', 'tiers.a.approvers', 'policyApprovers', 'targets']));
  });

  it('rejects a non-map document', () => {
    expect(compilePolicy('just text').problems[0]!.path).toBe('(document)');
    expect(compilePolicy(null).problems).toHaveLength(1);
  });
});

describe('evaluateRequest', () => {
  const p = model();

  it('returns the access plan for a valid request', () => {
    const r = evaluateRequest(p, { spec: base }, { author: 'dev' });
    expect(r.problems).toEqual([]);
    expect(r.plan).toMatchObject({
      target: 'orders-db',
      substrate: 'postgres',
      scope: 'write',
      tier: 'reversible-write',
      declaredTier: 'reversible-write',
      ttlSeconds: 1800,
      ttlCeilingSeconds: 7200,
      requiredApprovals: 1,
      breakGlass: false,
    });
  });

  it('takes the higher tier when the request over-declares', () => {
    const r = evaluateRequest(p, { ...base, riskTier: 'semi-destructive', rollbackPlan: 'restore the snapshot' }, { author: 'dev' });
    expect(r.plan).toMatchObject({ tier: 'semi-destructive', requiredApprovals: 2, ttlCeilingSeconds: 3600 });
  });

  it('rejects an under-declared tier', () => {
    const r = evaluateRequest(p, { ...base, scope: 'ddl', riskTier: 'cosmetic', rollbackPlan: 'x' }, { author: 'dev' });
    expect(r.plan).toBeUndefined();
    expect(r.problems).toEqual([expect.objectContaining({ path: 'spec.riskTier', message: expect.stringMatching(/under-declared/) })]);
  });

  it('rejects unknown targets and scopes, pointing at a policy-change MR', () => {
    const t = evaluateRequest(p, { ...base, target: 'payroll-db' }, { author: 'dev' });
    expect(t.problems[0]).toMatchObject({ path: 'spec.target' });
    expect(t.problems[0]!.message).toMatch(/allowed: orders-db.*policy-change MR/);
    const s = evaluateRequest(p, { ...base, scope: 'superuser' }, { author: 'dev' });
    expect(s.problems[0]).toMatchObject({ path: 'spec.scope' });
    expect(s.problems[0]!.message).toMatch(/policy-change MR/);
  });

  it('requires a TTL and enforces the tier ceiling', () => {
    const { ttl: _ttl, ...noTtl } = base;
    expect(evaluateRequest(p, noTtl, { author: 'dev' }).problems).toEqual([expect.objectContaining({ path: 'spec.ttl', message: expect.stringMatching(/required/) })]);
    const over = evaluateRequest(p, { ...base, ttl: '3h' }, { author: 'dev' });
    expect(over.problems).toEqual([expect.objectContaining({ path: 'spec.ttl', message: expect.stringMatching(/3h exceeds .*2h/) })]);
    expect(evaluateRequest(p, { ...base, ttl: '2h' }, { author: 'dev' }).problems).toEqual([]);
    expect(evaluateRequest(p, { ...base, ttl: 'soon' }, { author: 'dev' }).problems[0]!.path).toBe('spec.ttl');
  });

  it('requires a rollback plan where the tier says so', () => {
    const r = evaluateRequest(p, { ...base, scope: 'ddl', riskTier: 'semi-destructive', ttl: '30m' }, { author: 'dev' });
    expect(r.problems).toEqual([expect.objectContaining({ path: 'spec.rollbackPlan' })]);
  });

  it('applies break-glass: own ceiling and approval count; refused when the policy has none', () => {
    const r = evaluateRequest(p, { ...base, breakGlass: true, ttl: '1h' }, { author: 'dev' });
    expect(r.plan).toMatchObject({ breakGlass: true, requiredApprovals: 0, ttlCeilingSeconds: 3600, reviewWithinSeconds: 86400 });
    expect(r.plan!.approvers.groups).toEqual(['oncall']);
    const over = evaluateRequest(p, { ...base, breakGlass: true, ttl: '90m' }, { author: 'dev' });
    expect(over.problems[0]!.message).toMatch(/breakGlass ceiling of 1h/);
    const noBg = model(EXAMPLE_POLICY_YAML.replace(/^breakGlass:.*$/m, ''));
    expect(evaluateRequest(noBg, { ...base, breakGlass: true }, { author: 'dev' }).problems[0]!.path).toBe('spec.breakGlass');
  });

  it('lists every problem at once, with lines from the locator', () => {
    const r = evaluateRequest(
      p,
      { target: 'orders-db', scope: 'ddl', riskTier: 'cosmetic', justification: 'short' },
      { author: 'dev', locate: (path) => ({ line: String(path[1]).length, column: 3 }) },
    );
    const paths = r.problems.map((x) => x.path).sort();
    expect(paths).toEqual(['spec.justification', 'spec.recipient', 'spec.riskTier', 'spec.rollbackPlan', 'spec.ttl']);
    expect(r.problems.find((x) => x.path === 'spec.ttl')).toMatchObject({ line: 3, column: 3 });
  });

  it('does not fall for prototype keys as target or scope names', () => {
    expect(evaluateRequest(p, { ...base, target: '__proto__' }, { author: 'dev' }).problems[0]!.path).toBe('spec.target');
    expect(evaluateRequest(p, { ...base, scope: 'constructor' }, { author: 'dev' }).problems[0]!.path).toBe('spec.scope');
  });
});

describe('approvers', () => {
  const p = model();
  it('resolves groups to humans, removing author, agents and bots', async () => {
    const tier = p.tiers.find((t) => t.name === 'reversible-write')!;
    const r = await resolveApprovers(tier.approvers, resolveGroup, { author: 'carol', agents: p.agents });
    expect(r.usernames).toEqual(['dave']);
  });

  it('says why an approval does not count', () => {
    const tier = p.tiers.find((t) => t.name === 'destructive')!;
    const resolved = { usernames: ['alice', 'bob'] };
    const ex = { author: 'bob', agents: p.agents };
    const check = (username: string, bot = false, committer = false) => isEligibleApprover({ username, bot, committer }, tier.approvers, resolved, ex);
    expect(check('alice')).toEqual({ eligible: true });
    expect(check('bob')).toEqual({ eligible: false, reason: 'author' });
    expect(check('alice', true)).toEqual({ eligible: false, reason: 'bot' });
    expect(check('migration-bot')).toEqual({ eligible: false, reason: 'agent' });
    expect(check('alice', false, true)).toEqual({ eligible: false, reason: 'committer' });
    expect(check('mallory')).toEqual({ eligible: false, reason: 'not_eligible' });
    const any = p.tiers.find((t) => t.name === 'cosmetic')!;
    expect(isEligibleApprover({ username: 'mallory', bot: false }, any.approvers, { usernames: [] }, ex)).toEqual({ eligible: true });
    expect(isEligibleApprover({ username: 'deploy-agent', bot: false }, any.approvers, { usernames: [] }, ex)).toEqual({
      eligible: false,
      reason: 'agent',
    });
  });
});

describe('buildCatalog', () => {
  it('lists every target/scope with tier, ceiling, approvals and resolved approvers', async () => {
    const c = await buildCatalog(model(), 'blob123', resolveGroup);
    expect(c.version).toBe('blob123');
    expect(c.entries.map((e) => `${e.target}/${e.scope}:${e.tier}`)).toEqual([
      'orders-db/ddl:semi-destructive',
      'orders-db/drop:destructive',
      'orders-db/read-stats:cosmetic',
      'orders-db/write:reversible-write',
    ]);
    const write = c.entries.find((e) => e.scope === 'write')!;
    expect(write).toMatchObject({ ttlMaxSeconds: 7200, requiredApprovals: 1, eligibleApprovers: ['carol', 'dave'] });
    expect(c.breakGlass).toMatchObject({ approvals: 0, eligibleApprovers: ['olga'], requesters: ['olga'], mergerMustDiffer: true });
    // who has a key registered (the keys themselves are not the catalog's business)
    expect(c.recipientUsers).toEqual(['alice', 'ci-bot', 'deploy-agent', 'dev', 'maint', 'migration-bot', 'olga']);
    expect(JSON.stringify(c)).not.toContain('age1');
  });
});
