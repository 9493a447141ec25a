import { describe, expect, it } from 'vitest';
import { createMemorySubstrate } from './memory-substrate';
import { runSubstrateContractSuite } from './run-substrate-contract-suite';

// The double keeps the same contract the real adapters are held to.
runSubstrateContractSuite({
  name: 'memory double',
  skip: Object.fromEntries(
    (['beyondScope', 'outliveRevoke', 'blockRevoke', 'hijackAdmin'] as const).map((c) => [c, 'an in-memory double: no server, no scope enforcement, no admin session for a grantee to attack']),
  ),
  async setup() {
    const substrate = createMemorySubstrate({ name: 'memory:test' });
    return {
      substrate,
      makeRequest: (grantId) => ({
        grantId,
        elevationId: grantId.split('-').slice(0, 3).join('-'),
        requester: 'alice',
        target: 't',
        scopeName: 'write',
        scope: { access: 'write' },
        connection: {},
        ttlSeconds: 600,
      }),
      probe: async (secret) => substrate.works(secret),
    };
  },
});

describe('createMemorySubstrate', () => {
  it('fails on demand with a retriable error, then recovers', async () => {
    const s = createMemorySubstrate();
    s.failNext('issue');
    const req = { grantId: 'g1', elevationId: 'e', requester: 'a', target: 't', scopeName: 's', scope: { access: 'read' }, connection: {}, ttlSeconds: 60 };
    await expect(s.issue(req)).rejects.toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    const out = await s.issue(req);
    expect(s.works(out.secret)).toBe(true);
    expect(s.calls).toEqual(['issue:g1', 'issue:g1']);
  });
});
