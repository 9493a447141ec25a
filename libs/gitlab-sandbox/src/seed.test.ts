import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { DEMO_SEED_PATH, loadSeedFile, parseSeed } from './seed';
import { startSandbox } from './sandbox';

function seedError(text: string): JitError {
  try {
    parseSeed(text);
  } catch (err) {
    if (err instanceof JitError) return err;
    throw err;
  }
  throw new Error('expected the seed to be refused');
}

const GOOD = `
users:
  - { username: alice, name: Alice, token: alice-token-1, bot: false }
  - { username: bob, token: bob-token-12 }
groups:
  - { path: platform, members: [alice, bob] }
  - { path: platform/leads, members: [{ username: alice, access_level: 40 }] }
projects:
  - path: ops/elevations
    default_branch: main
    tier: premium
    files: { "policy.yaml": "tiers: {}\\n", "README.md": "# hi\\n" }
    approvals: { reset_approvals_on_push: false }
    approval_rules: [{ name: leads, approvals_required: 1, groups: [platform/leads] }]
`;

describe('seed', () => {
  it('parses a valid seed and fills defaults', () => {
    const seed = parseSeed(GOOD);
    expect(seed.users[1]).toMatchObject({ username: 'bob', bot: false, admin: false, state: 'active' });
    expect(seed.projects[0]).toMatchObject({ tier: 'premium', visibility: 'private', hooks: [] });
    expect(parseSeed('')).toEqual({ users: [], groups: [], projects: [] });
  });

  it('refuses malformed YAML, naming the line', () => {
    const err = seedError('users:\n  - { username: alice\n  - bob: [\n');
    expect(err.code).toBe('JIT_ERR_SANDBOX_SEED_INVALID');
    expect(err.message).toMatch(/not valid YAML at line \d+/);
  });

  it('refuses an unknown user in a group, naming both', () => {
    const err = seedError('users: [{ username: alice }]\ngroups: [{ path: platform, members: [alice, mallory] }]\n');
    expect(err.code).toBe('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF');
    expect(err.message).toContain('"platform" member "mallory" is not a user');
  });

  it('refuses a subgroup whose parent is not declared first', () => {
    const err = seedError('groups: [{ path: platform/leads }]\n');
    expect(err.code).toBe('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF');
    expect(err.message).toContain('parent group "platform"');
  });

  it('refuses unknown keys, wrong types and bad enums with the field path', () => {
    expect(seedError('users: [{ username: alice, colour: red }]').message).toContain('users.0');
    expect(seedError('projects: [{ path: ops/x, tier: gold }]').message).toContain('projects.0.tier');
    expect(seedError('projects: [{ path: noslash }]').message).toContain('projects.0.path');
    expect(seedError('- just\n- a list\n').message).toContain('must be a mapping');
    const shortKey = `whsec_${Buffer.alloc(16).toString('base64')}`;
    const badHook = seedError(`projects: [{ path: o/p, hooks: [{ url: "http://127.0.0.1:1/h", signing_token: "${shortKey}" }] }]`);
    expect(badHook.message).toContain('projects.0.hooks.0.signing_token');
    expect(badHook.message).not.toContain(shortKey);
  });

  it('refuses hostile input: traversal paths, alias bombs, oversize, and never echoes tokens', () => {
    expect(seedError('projects: [{ path: ops/x, files: { "../etc/passwd": x } }]').message).toContain('not a clean relative path');
    const bomb = [
      'a: &a [x,x,x,x,x,x,x,x,x,x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(',')}]`,
      ),
    ].join('\n');
    expect(seedError(bomb).code).toBe('JIT_ERR_SANDBOX_SEED_INVALID');
    expect(seedError(`users: []\n# ${'x'.repeat(5 * 1024 * 1024)}`).message).toContain('larger than');
    const dup = seedError('users: [{ username: a, token: same-token-123 }, { username: b, token: same-token-123 }]');
    expect(dup.message).toContain('"b" reuses');
    expect(dup.message).not.toContain('same-token-123');
  });

  it('refuses rules naming unknown users or groups', () => {
    expect(seedError('projects: [{ path: o/p, approval_rules: [{ name: r, approvals_required: 1, users: [ghost] }] }]').code).toBe('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF');
    expect(seedError('projects: [{ path: o/p, approval_rules: [{ name: r, approvals_required: 1, groups: [ghosts] }] }]').code).toBe('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF');
  });

  it('loads from a file, and reports a missing file clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-seed-'));
    const file = join(dir, 'seed.yaml');
    writeFileSync(file, GOOD);
    expect((await loadSeedFile(file)).groups.map((g) => g.path)).toEqual(['platform', 'platform/leads']);
    await expect(loadSeedFile(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'JIT_ERR_SANDBOX_SEED_INVALID', message: expect.stringContaining('ENOENT') });
  });

  it('startSandbox refuses a bad seed before listening', async () => {
    await expect(startSandbox({ seed: 'groups: [{ path: g, members: [nobody] }]' })).rejects.toMatchObject({ code: 'JIT_ERR_SANDBOX_SEED_UNKNOWN_REF' });
  });
});

describe('seeds shipped with the sandbox', () => {
  it('seeds/demo.yaml loads the example elevations repo from deploy/', async () => {
    const seed = await loadSeedFile(DEMO_SEED_PATH);
    const [project] = seed.projects;
    expect(project?.files['policy.yaml']).toContain('policyApprovers');
    expect(Object.keys(project?.files ?? {})).toEqual(expect.arrayContaining(['policy.yaml', 'CODEOWNERS']));
    const sandbox = await startSandbox({ seed });
    try {
      const res = await fetch(`${sandbox.apiUrl}/projects/ops%2Felevations/repository/files/policy.yaml/raw`, { headers: { 'PRIVATE-TOKEN': 'alice-demo-token' } });
      expect(await res.text()).toBe(project?.files['policy.yaml']);
    } finally {
      await sandbox.close();
    }
  });

  it('files_from pointing nowhere is a clear seed error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbx-seed-'));
    writeFileSync(join(dir, 's.yaml'), 'projects: [{ path: o/p, files_from: ./missing }]\n');
    await expect(loadSeedFile(join(dir, 's.yaml'))).rejects.toMatchObject({ code: 'JIT_ERR_SANDBOX_SEED_INVALID', message: expect.stringContaining('files_from') });
  });
});
