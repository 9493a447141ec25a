import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import type { LoadedPolicy, PolicyModel } from '@jit/policy';
import { createPolicyTargetResolver } from './target-resolver';

const Unavailable = defineError<[]>('JIT_ERR_TEST_UNAVAILABLE', 'gitlab down', { retriable: true });
const Missing = defineError<[]>('JIT_ERR_TEST_MISSING', 'no policy.yaml at that commit');

const policy = {
  tiers: [],
  agents: [],
  policyApprovers: { approvals: 2 },
  targets: {
    'orders-db': {
      name: 'orders-db',
      substrate: 'postgres:orders',
      connection: { secretRef: 'env:ORDERS_DB_ADMIN_URL', sslmode: 'require' },
      scopes: { write: { name: 'write', tier: 'reversible-write', raw: { tier: 'reversible-write', grant: 'INSERT ON TABLE orders' } } },
    },
  },
} as unknown as PolicyModel;

function setup(answers: Array<LoadedPolicy | Error>, env: Record<string, string | undefined> = { ORDERS_DB_ADMIN_URL: 'postgres://admin:s3cret-admin-pw@db/orders' }) {
  const refs: string[] = [];
  const lines: string[] = [];
  const logger = createLogger({ name: 't', level: 'debug', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
  const resolver = createPolicyTargetResolver({
    policyStore: {
      async atRef(ref) {
        refs.push(ref);
        const next = answers.shift();
        if (!next) throw new Error('no more answers');
        if (next instanceof Error) throw next;
        return next;
      },
    },
    env,
    logger,
    baseMs: 1,
  });
  return { resolver, refs, lines };
}

const loaded = (version: string): LoadedPolicy => ({ policy, version, commitId: 'c'.repeat(40), loadedAt: '2026-01-01T00:00:00Z' });
const input = { target: 'orders-db', scope: 'write', policyVersion: 'v1', mergeSha: 'm'.repeat(40) };

describe('policy target resolver', () => {
  it('reads the policy at the merge sha and returns the instance, the scope without its tier and the resolved connection', async () => {
    const { resolver, refs, lines } = setup([loaded('v1')]);
    expect(await resolver.resolve(input)).toEqual({
      substrate: 'postgres:orders',
      scope: { grant: 'INSERT ON TABLE orders' },
      connection: { url: 'postgres://admin:s3cret-admin-pw@db/orders', sslmode: 'require' },
    });
    expect(refs).toEqual([input.mergeSha]);
    expect(lines.join('')).not.toContain('s3cret-admin-pw');
  });

  it('refuses when the policy at the merge commit is not the version approved against', async () => {
    const { resolver, lines } = setup([loaded('v2')]);
    expect(await resolver.resolve(input)).toBeUndefined();
    expect(lines.join('')).toMatch(/not the version approved against/);
  });

  it('refuses unknown targets and scopes', async () => {
    const { resolver } = setup([loaded('v1'), loaded('v1')]);
    expect(await resolver.resolve({ ...input, target: 'nope' })).toBeUndefined();
    expect(await resolver.resolve({ ...input, scope: 'ddl' })).toBeUndefined();
  });

  it('retries a retriable policy read, but not a permanent one', async () => {
    const { resolver, refs } = setup([Unavailable(), Unavailable(), loaded('v1')]);
    expect(await resolver.resolve(input)).toBeDefined();
    expect(refs).toHaveLength(3);
    const permanent = setup([Missing(), loaded('v1')]);
    await expect(permanent.resolver.resolve(input)).rejects.toMatchObject({ code: 'JIT_ERR_TEST_MISSING' });
    expect(permanent.refs).toHaveLength(1);
    const down = setup([Unavailable(), Unavailable(), Unavailable(), loaded('v1')]);
    await expect(down.resolver.resolve(input)).rejects.toMatchObject({ code: 'JIT_ERR_TEST_UNAVAILABLE' });
  });

  it('an unset secret reference is an error naming the variable, not a value', async () => {
    const { resolver } = setup([loaded('v1')], {});
    await expect(resolver.resolve(input)).rejects.toThrow(/connection.secretRef names env:ORDERS_DB_ADMIN_URL, which is not set/);
  });
});
