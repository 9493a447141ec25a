// Who reads which elevation: requester, eligible approver (the gate's rule), auditor — and the
// policy's `auditors:` as both parsers read it.
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '@jit/contracts';
import { compilePolicy } from './compile-policy';
import { cachedGroupResolver, createElevationAccess, ratifiedOnLog } from './elevation-access';
import type { LoadedPolicy } from './policy-store';
import { EXAMPLE_POLICY_YAML } from './testing';

const YAML = `${EXAMPLE_POLICY_YAML}auditors: { groups: [audit], users: [ivy] }\n`;
const groups: Record<string, Array<{ username: string; bot?: boolean }>> = {
  platform: [{ username: 'carol' }, { username: 'deploy-agent' }, { username: 'ci-bot', bot: true }],
  'platform-leads': [{ username: 'erin' }],
  oncall: [{ username: 'olga' }],
  security: [{ username: 'sam' }],
  audit: [{ username: 'aud' }],
};
const policy = compilePolicy(parse(YAML)).policy!;
const store = { peek: () => ({ policy, version: 'v1' }) as unknown as LoadedPolicy };
const access = createElevationAccess({ store, resolveGroup: async (g) => groups[g] ?? [], botUsername: 'jit-bot' });
const as = (username: string, bot = false) => access.viewOf({ username, bot });

const write = { requester: 'dev', tier: 'reversible-write', breakGlass: false };
const ddl = { requester: 'dev', tier: 'semi-destructive', breakGlass: false };
const glass = { requester: 'olga2', tier: 'break-glass', breakGlass: true };
const own = { requester: 'carol', tier: 'destructive', breakGlass: false };

describe('elevation access', () => {
  it('auditors (by group or by name) see everything', async () => {
    for (const u of ['aud', 'ivy', 'IVY']) {
      const v = await as(u);
      expect(v.auditor).toBe(true);
      expect([write, ddl, glass, own].every((e) => v.sees(e))).toBe(true);
    }
  });

  it('an approver sees what its tier lets it approve, and its own requests; nothing else', async () => {
    const carol = await as('carol');
    expect([carol.auditor, carol.sees(write), carol.sees(ddl), carol.sees(glass), carol.sees(own)]).toEqual([false, true, false, false, true]);
    const olga = await as('olga');
    expect([olga.sees(glass), olga.sees(write)]).toEqual([true, false]);
  });

  it('agents and bots never see as approvers, only their own', async () => {
    const agent = await as('deploy-agent');
    expect([agent.sees(write), agent.sees({ ...write, requester: 'deploy-agent' })]).toEqual([false, true]);
    expect((await as('ci-bot', true)).sees(write)).toBe(false);
    expect((await as('jit-bot', true)).sees(write)).toBe(false);
  });

  it('anyHuman tiers are visible to any human', async () => {
    expect((await as('stranger')).sees({ requester: 'dev', tier: 'cosmetic' })).toBe(true);
    expect((await as('stranger')).sees(write)).toBe(false);
  });

  it("a CI ID token is its user's own view only: an auditor's or approver's job (any project's pipeline they ran) sees no one else's", async () => {
    for (const u of ['aud', 'ivy', 'carol', 'olga']) {
      const personal = await access.viewOf({ username: u, bot: false, via: 'gitlab-token' });
      expect(personal.sees(u === 'olga' ? glass : write), u).toBe(true);
      const job = await access.viewOf({ username: u, bot: false, via: 'ci-id-token' });
      expect([job.auditor, job.sees(write), job.sees(ddl), job.sees(glass)], u).toEqual([false, false, false, false]);
      expect(job.sees({ ...write, requester: u }), u).toBe(true);
    }
  });

  it("a caller's view is reused for viewTtlMs under one policy version; a new version is a new view at once", async () => {
    let calls = 0;
    let current = { policy, version: 'v1' } as unknown as LoadedPolicy;
    const counting = createElevationAccess({ store: { peek: () => current }, resolveGroup: async (g) => (calls++, groups[g] ?? []), viewTtlMs: 60_000 });
    const first = await counting.viewOf({ username: 'carol', bot: false });
    const asked = calls;
    expect(asked).toBeGreaterThan(0);
    expect(await counting.viewOf({ username: 'CAROL', bot: false })).toBe(first);
    expect(calls).toBe(asked);
    current = { policy, version: 'v2' } as unknown as LoadedPolicy;
    expect(await counting.viewOf({ username: 'carol', bot: false })).not.toBe(first);
    expect(calls).toBe(2 * asked);
    const uncached = createElevationAccess({ store: { peek: () => current }, resolveGroup: async (g) => (calls++, groups[g] ?? []), viewTtlMs: 0 });
    calls = 0;
    await uncached.viewOf({ username: 'carol', bot: false });
    await uncached.viewOf({ username: 'carol', bot: false });
    expect(calls).toBe(2 * asked);
  });

  it('no policy in force: own elevations only', async () => {
    const none = createElevationAccess({ store: { peek: () => undefined }, resolveGroup: async () => [] });
    const v = await none.viewOf({ username: 'aud', bot: false });
    expect([v.auditor, v.sees(write), v.sees({ requester: 'aud' })]).toEqual([false, false, true]);
  });

  it('ratifiedOnLog: the version the log ratified last decides (a process that never refreshes a store, the issuer)', async () => {
    const log: { last?: { version: string } } = {};
    const asked: string[] = [];
    const onLog = ratifiedOnLog({
      trust: { current: () => log.last } as never,
      atVersion: async (v) => (asked.push(v), { policy, version: v } as unknown as LoadedPolicy),
    });
    const reader = createElevationAccess({ store: onLog, resolveGroup: async (g) => groups[g] ?? [] });
    expect((await reader.viewOf({ username: 'aud', bot: false })).auditor).toBe(false);
    log.last = { version: 'v2' };
    expect((await reader.viewOf({ username: 'aud', bot: false })).auditor).toBe(true);
    expect(asked).toEqual(['v2']);
  });

  it('parsePolicy and compilePolicy read auditors: alike; an empty auditors: is refused', () => {
    const parsed = parsePolicy(YAML);
    expect(parsed.ok && parsed.policy.auditors).toEqual({ groups: ['audit'], users: ['ivy'] });
    expect(policy.auditors).toEqual({ groups: ['audit'], users: ['ivy'] });
    expect(compilePolicy(parse(EXAMPLE_POLICY_YAML)).policy!.auditors).toEqual({ groups: [], users: [] });
    expect(parsePolicy(`${EXAMPLE_POLICY_YAML}auditors: {}\n`).ok).toBe(false);
  });

  it('a cached group resolver asks once per group until the TTL passes', async () => {
    let calls = 0;
    const r = cachedGroupResolver(async () => (calls++, [{ username: 'a' }]), { ttlMs: 60_000 });
    await Promise.all([r('g'), r('g'), r('g')]);
    expect(calls).toBe(1);
  });
});
