// Type tests for the public contract (checked by `tsc`; the runtime part only keeps vitest happy).
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Logger } from '@jit/observability';
import { defineSubstrate, type SubstrateDefinition, type SubstrateDeps } from './define-substrate';
import type { Finding, RevocationHandle, RevokeReport, Substrate } from './substrate';
import { SubstrateRegistry } from './substrate-registry';
import type { ContractHarness } from './testing/run-substrate-contract-suite';

describe('contract types', () => {
  it('defineSubstrate types create() from the schema and the adapter extras', () => {
    const def = defineSubstrate<{ url: string; poolMax: number }, { poolFactory: () => number }>({
      kind: 'typed',
      configSchema: z.object({ url: z.string(), poolMax: z.number().default(4) }),
      facts(config) {
        // the static facts see only what a validating process knows of the config
        expectTypeOf(config).toEqualTypeOf<Partial<{ url: string; poolMax: number }>>();
        return { validateScope: () => [] };
      },
      create(config, deps) {
        expectTypeOf(config).toEqualTypeOf<{ url: string; poolMax: number }>();
        expectTypeOf(deps.logger).toEqualTypeOf<Logger>();
        expectTypeOf(deps.name).toEqualTypeOf<string>();
        expectTypeOf(deps.poolFactory).toEqualTypeOf<(() => number) | undefined>();
        return {} as Substrate;
      },
    });
    expectTypeOf(def).toMatchTypeOf<SubstrateDefinition<{ url: string; poolMax: number }, { poolFactory: () => number }>>();
    expectTypeOf<SubstrateDeps>().toHaveProperty('logger');
  });

  it('handles are plain JSON: ref values are primitives, never objects', () => {
    expectTypeOf<RevocationHandle['ref'][string]>().toEqualTypeOf<string | number | boolean>();
    // @ts-expect-error a nested object cannot be a ref value
    const bad: RevocationHandle = { kind: 'k', grantId: 'g', ref: { nested: { a: 1 } }, expiresAt: '' };
    void bad;
  });

  it('the registry hands out Substrates and the harness probes flat secrets', () => {
    expectTypeOf<SubstrateRegistry['get']>().returns.toEqualTypeOf<Substrate>();
    expectTypeOf<ContractHarness['probe']>().parameter(0).toEqualTypeOf<Record<string, string>>();
    // an adapter may say what the grantee left behind; one that has nothing to say still fits
    expectTypeOf<Substrate['revoke']>().returns.toEqualTypeOf<Promise<void | RevokeReport>>();
    expectTypeOf<RevokeReport['leftovers'][number]['action']>().toEqualTypeOf<'dropped' | 'kept'>();
  });

  it('the safety checks are optional and answer findings', () => {
    expectTypeOf<Substrate['checkTtl']>().toEqualTypeOf<((scope: unknown, ceilingSeconds: number) => Promise<Finding[]>) | undefined>();
    expectTypeOf<Substrate['checkDefaultIsReadOnly']>().toEqualTypeOf<(() => Promise<Finding[]>) | undefined>();
    expectTypeOf<Substrate['checkSetup']>().toEqualTypeOf<(() => Promise<Finding[]>) | undefined>();
    expectTypeOf<Finding['severity']>().toEqualTypeOf<'info' | 'warning' | 'error'>();
  });
});
