import { describe, expect, it } from 'vitest';
import { parsePolicy } from './policy';
import { FIXTURE_OTHER_RECIPIENT, FIXTURE_RECIPIENT, SAMPLE_POLICY_YAML } from './testing';

function problemsOf(text: string) {
  const r = parsePolicy(text);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.problems;
}

describe('parsePolicy', () => {
  it('parses the DESIGN.md §3 example with tiers ranked in declaration order', () => {
    const r = parsePolicy(SAMPLE_POLICY_YAML);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const p = r.policy;
    expect(p.tierOrder).toEqual(['cosmetic', 'reversible-write', 'semi-destructive', 'destructive']);
    expect(p.tierOrder.map((t) => p.tiers[t]?.rank)).toEqual([0, 1, 2, 3]);
    expect(p.tiers['destructive']).toEqual({
      name: 'destructive',
      rank: 3,
      ttlMax: '30m',
      ttlMaxSeconds: 1800,
      approvals: 2,
      approvers: { anyHuman: false, groups: [], users: ['alice', 'bob'] },
      requireRollbackPlan: true,
    });
    expect(p.tiers['cosmetic']?.approvers).toEqual({ anyHuman: true, groups: [], users: [] });
    expect(p.breakGlass).toMatchObject({ ttlMaxSeconds: 3600, approvals: 0, reviewWithinSeconds: 86_400 });
    expect(p.agents).toEqual(['deploy-agent', 'migration-bot']);
    expect(p.policyApprovers).toEqual({ groups: ['security'], users: [], approvals: 2 });
    expect(p.targets['orders-db']).toEqual({
      name: 'orders-db',
      substrate: 'postgres',
      connection: { secretRef: 'env:ORDERS_DB_ADMIN_URL' },
      scopes: {
        write: { tier: 'reversible-write', grant: 'INSERT, UPDATE ON ALL TABLES IN SCHEMA public' },
        ddl: { tier: 'semi-destructive', grant: 'CREATE ON SCHEMA public' },
      },
    });
  });

  it('keeps the rank from the file order, not alphabetical order', () => {
    const text = SAMPLE_POLICY_YAML.replace(/tiers:\n(.*\n)(.*\n)(.*\n)(.*\n)/, (_m, a: string, b: string, c: string, d: string) => `tiers:\n${d}${c}${b}${a}`);
    const r = parsePolicy(text);
    expect(r.ok && r.policy.tierOrder).toEqual(['destructive', 'semi-destructive', 'reversible-write', 'cosmetic']);
  });

  it('reports a scope that references an undefined tier, at the tier field', () => {
    const problems = problemsOf(SAMPLE_POLICY_YAML.replace('ddl:    { tier: semi-destructive', 'ddl:    { tier: nuclear'));
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'targets.orders-db.scopes.ddl.tier',
        message: expect.stringMatching(/tier nuclear is not defined/),
        line: 24,
      }),
    ]);
  });

  it('reports every structural problem at once', () => {
    const text = `tiers:
  low: { ttlMax: 90x, approvals: -1, approvers: {} }
  high: { ttlMax: 31d, approvals: 1.5, approvers: { anyHuman: true, users: [alice] }, extra: 1 }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] } }
policyApprovers: { approvals: 0 }
targets:
  db:
    substrate: Postgres!
    scopes: {}
colour: red
`;
    const paths = problemsOf(text).map((p) => p.path);
    for (const expected of [
      'tiers.low.ttlMax',
      'tiers.low.approvals',
      'tiers.low.approvers',
      'tiers.high.ttlMax',
      'tiers.high.approvals',
      'tiers.high.approvers',
      'tiers.high.extra',
      'breakGlass.reviewWithin',
      'policyApprovers.approvals',
      'targets.db.substrate',
      'targets.db.scopes',
      'colour',
    ]) {
      expect(paths).toContain(expected);
    }
  });

  it('reports undefined scope tiers alongside structural problems', () => {
    const text = SAMPLE_POLICY_YAML.replace('ttlMax: 4h', 'ttlMax: 4 hours').replace('ddl:    { tier: semi-destructive', 'ddl:    { tier: nuclear');
    const paths = problemsOf(text).map((p) => p.path);
    expect(paths).toEqual(['tiers.cosmetic.ttlMax', 'targets.orders-db.scopes.ddl.tier']);
  });

  it('refuses an approver list that can never reach the required approvals', () => {
    const problems = problemsOf(SAMPLE_POLICY_YAML.replace('users: [alice, bob]', 'users: [alice]'));
    expect(problems[0]).toMatchObject({ path: 'tiers.destructive.approvals' });
  });

  it('refuses an agent listed as an approver', () => {
    const problems = problemsOf(SAMPLE_POLICY_YAML.replace('users: [alice, bob]', 'users: [alice, deploy-agent]'));
    expect(problems[0]).toMatchObject({
      path: 'tiers.destructive.approvers.users[1]',
      message: expect.stringMatching(/agents may never approve/),
    });
  });

  it('refuses a plaintext secret in a connection and does not echo it', () => {
    const secret = 'postgres://admin:Sup3rS3cret@db:5432/orders';
    const problems = problemsOf(SAMPLE_POLICY_YAML.replace('{ secretRef: env:ORDERS_DB_ADMIN_URL }', `{ url: "${secret}" }`));
    expect(problems[0]).toMatchObject({ path: 'targets.orders-db.connection.url', line: 21 });
    expect(JSON.stringify(problems)).not.toContain('Sup3rS3cret');
  });

  it('rejects tier names that start with a digit (their order could not be kept)', () => {
    const problems = problemsOf(SAMPLE_POLICY_YAML.replace('  cosmetic:', '  "1":'));
    expect(problems.some((p) => p.message.includes('tier names start with a letter'))).toBe(true);
  });

  // how fast hostile input is refused is measured in bench/, not timed here
  it('allows up to 1 MiB and rejects a 5 MB policy by its size', () => {
    const big = `${SAMPLE_POLICY_YAML}# ${'x'.repeat(5 * 1024 * 1024)}\n`;
    expect(problemsOf(big)[0]?.message).toMatch(/limit is 1048576 bytes/);
    const padded = `${SAMPLE_POLICY_YAML}# ${'x'.repeat(900 * 1024)}\n`;
    expect(parsePolicy(padded).ok).toBe(true);
  });

  it('reads recipients: username -> registered age public keys; malformed keys are refused with a clear reason', () => {
    const r = parsePolicy(SAMPLE_POLICY_YAML);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.policy.recipients['alice']).toEqual([FIXTURE_OTHER_RECIPIENT]);
    expect(r.policy.recipients['dev']).toEqual([FIXTURE_RECIPIENT]);
    const withKeys = (keys: string) => SAMPLE_POLICY_YAML.replace(/ {2}alice: \[age1[^\]]*\]\n/, `  alice: ${keys}\n`);
    expect(problemsOf(withKeys('[age1notakey]'))[0]).toMatchObject({ path: 'recipients.alice[0]', message: expect.stringMatching(/age X25519 public key.*jit keygen/) });
    const broken = `${FIXTURE_OTHER_RECIPIENT.slice(0, -1)}${FIXTURE_OTHER_RECIPIENT.endsWith('q') ? 'p' : 'q'}`;
    expect(problemsOf(withKeys(`[${broken}]`))[0]).toMatchObject({ path: 'recipients.alice[0]' });
    const identity = problemsOf(withKeys('[AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ]'));
    expect(identity[0]?.message).toMatch(/is an age identity \(secret key\); register the public key/);
    expect(JSON.stringify(identity)).not.toContain('AGE-SECRET-KEY-1Q');
    expect(problemsOf(withKeys('[]'))[0]).toMatchObject({ path: 'recipients.alice', message: expect.stringMatching(/at least one age public key/) });
    expect(problemsOf(withKeys(`[${FIXTURE_OTHER_RECIPIENT}, ${FIXTURE_OTHER_RECIPIENT}]`))[0]).toMatchObject({ path: 'recipients.alice[1]', message: expect.stringMatching(/twice/) });
    expect(problemsOf(SAMPLE_POLICY_YAML.replace('  alice: [', '  "not a user!": ['))[0]?.message).toMatch(/GitLab usernames/);
  });

  it('survives an alias bomb, deep nesting, duplicate keys and __proto__', () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
    expect(problemsOf(bomb)[0]?.message).toMatch(/alias/);
    expect(problemsOf(`tiers: ${'['.repeat(100_000)}${']'.repeat(100_000)}`)[0]?.message).toMatch(/nested deeper/);
    expect(problemsOf(`${SAMPLE_POLICY_YAML}agents: []\n`)[0]?.message).toMatch(/duplicate key/);
    const proto = SAMPLE_POLICY_YAML.replace('targets:\n', 'targets:\n  __proto__: { substrate: vault, scopes: {} }\n');
    expect(problemsOf(proto)[0]).toMatchObject({ path: 'targets.__proto__' });
    expect(({} as Record<string, unknown>).substrate).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['a list', '- tiers'],
    ['tiers as a list', SAMPLE_POLICY_YAML.replace(/tiers:\n(.*\n){4}/, 'tiers: [cosmetic]\n')],
    ['no targets', SAMPLE_POLICY_YAML.replace(/targets:[\s\S]*$/, '')],
    ['a custom tag', SAMPLE_POLICY_YAML.replace('env:ORDERS_DB_ADMIN_URL', '!vault secret/x')],
  ])('returns problems for %s', (_what, text) => {
    expect(problemsOf(text).length).toBeGreaterThan(0);
  });
});
