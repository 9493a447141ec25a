// The policies we ship (deploy/ examples, the sandbox demo) must pass the same validation the
// gate applies, with every substrate's own scope checks — a user copies these first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE_RECIPIENT } from '@jit/contracts/testing';
import { createLogger } from '@jit/observability';
import { compilePolicy, contractsPolicyParser, validatePolicy, type SubstrateCatalog } from '@jit/policy';
import { createPostgresSubstrate, postgresConfigSchema } from '@jit/substrate-postgres';
import { createVaultSubstrate, vaultConfigSchema } from '@jit/substrate-vault';
import { STS_MAX_DURATION_SECONDS, validateAwsStsScope } from '@jit/substrate-aws-sts';
import { GCP_DEFAULT_MAX_TTL_SECONDS, validateGcpIamScope } from '@jit/substrate-gcp-iam';

const root = join(import.meta.dirname, '..', '..', '..');
const logger = createLogger({ name: 'policy-check', level: 'silent' });
const pg = createPostgresSubstrate(postgresConfigSchema.parse({}), { logger, name: 'postgres' });
const vault = createVaultSubstrate(vaultConfigSchema.parse({ addr: 'http://127.0.0.1:9', token: 'validation-only', tokenRole: 'validation-only' }), { logger, name: 'vault' });
const catalog: SubstrateCatalog = {
  postgres: { validateScope: (s, c) => pg.validateScope(s, c) },
  vault: { validateScope: (s, c) => vault.validateScope(s, c) },
  'aws-sts': { validateScope: (s) => validateAwsStsScope(s), maxTtlSeconds: STS_MAX_DURATION_SECONDS },
  'gcp-iam': { validateScope: (s) => validateGcpIamScope(s), maxTtlSeconds: GCP_DEFAULT_MAX_TTL_SECONDS },
};

describe.each(['deploy/elevations-repo/policy.yaml', 'deploy/sandbox/demo-repo/policy.yaml'])('%s', (file) => {
  it('parses, compiles and validates against the substrates without a single problem', () => {
    // The sandbox's demo policy registers `[sandbox-generated]` keys: sandbox mode puts a freshly
    // generated identity's public key in each place before it pins the policy (apps/jit
    // sandbox-identities.ts); a real key stands in for it here.
    const parsed = contractsPolicyParser(readFileSync(join(root, file), 'utf8').replaceAll('sandbox-generated', FIXTURE_RECIPIENT));
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    if (!parsed.ok) return;
    const compiled = compilePolicy(parsed.value);
    expect(compiled.problems).toEqual([]);
    expect(validatePolicy(compiled.policy!, catalog)).toEqual([]);
  });
});
