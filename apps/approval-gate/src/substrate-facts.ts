// What the gate needs from each substrate to validate policy.yaml: scope validation and the TTL
// the substrate can honour. Validation-only instances: no connection is ever opened by the gate.
import type { Logger } from '@jit/observability';
import type { SubstrateCatalog } from '@jit/policy';
import { createPostgresSubstrate, postgresConfigSchema } from '@jit/substrate-postgres';
import { createVaultSubstrate, vaultConfigSchema } from '@jit/substrate-vault';
import { STS_MAX_DURATION_SECONDS, validateAwsStsScope } from '@jit/substrate-aws-sts';
import { GCP_DEFAULT_MAX_TTL_SECONDS, GCP_EXTENDED_MAX_TTL_SECONDS, validateGcpIamScope } from '@jit/substrate-gcp-iam';

export function substrateFacts(logger: Logger, opts: { gcpExtendedLifetime?: boolean } = {}): { catalog: SubstrateCatalog; close(): Promise<void> } {
  const pg = createPostgresSubstrate(postgresConfigSchema.parse({}), { logger, name: 'postgres' });
  // The address and token are never used: the gate only calls validateScope.
  const vault = createVaultSubstrate(vaultConfigSchema.parse({ addr: 'http://127.0.0.1:9', token: 'validation-only', tokenRole: 'validation-only' }), {
    logger,
    name: 'vault',
  });
  const catalog: SubstrateCatalog = {
    postgres: { validateScope: (s, c) => pg.validateScope(s, c) },
    vault: { validateScope: (s, c) => vault.validateScope(s, c) },
    'aws-sts': { validateScope: (s) => validateAwsStsScope(s), maxTtlSeconds: STS_MAX_DURATION_SECONDS },
    'gcp-iam': {
      validateScope: (s) => validateGcpIamScope(s),
      maxTtlSeconds: opts.gcpExtendedLifetime ? GCP_EXTENDED_MAX_TTL_SECONDS : GCP_DEFAULT_MAX_TTL_SECONDS,
    },
  };
  return {
    catalog,
    async close() {
      await pg.close?.();
      await vault.close?.();
    },
  };
}
