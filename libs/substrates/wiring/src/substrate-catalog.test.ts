import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { GCP_DEFAULT_MAX_TTL_SECONDS, GCP_EXTENDED_MAX_TTL_SECONDS } from '@jit/substrate-gcp-iam';
import { STS_MAX_DURATION_SECONDS } from '@jit/substrate-aws-sts';
import { staticSubstrateCatalog, substrateCatalog } from './substrate-catalog';
import { SUBSTRATE_DEFINITIONS, createSubstrates } from './substrate-settings';

const logger = createLogger({ name: 'catalog-test', level: 'silent' });
const ARN = 'arn:aws:iam::123456789012:role/jit/orders-writer';
const SA = 'orders@p.iam.gserviceaccount.com';
/** Per kind: a scope the adapter accepts, and hostile ones it must refuse (a new kind's contract suite checks its own). */
const SCOPES: Record<string, { good: unknown; bad: unknown[] }> = {
  postgres: { good: { grant: 'INSERT, UPDATE ON ALL TABLES IN SCHEMA app' }, bad: [{ grant: 'ALL PRIVILEGES ON DATABASE postgres; ALTER ROLE x SUPERUSER' }, null, 'x'] },
  vault: { good: { mode: 'token', policies: ['orders-write'] }, bad: [{ mode: 'token', policies: ['root'] }, { mode: 'sudo' }, []] },
  'aws-sts': {
    good: { roleArn: ARN, sessionPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::orders/*' }] } },
    bad: [{ roleArn: 'arn:aws:iam::123456789012:user/admin' }, {}, 42],
  },
  'gcp-iam': { good: { serviceAccount: SA, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }, bad: [{ serviceAccount: 'not-an-email' }, {}, 'x'] },
};
/** Enough config to build an instance of each kind (never connected: nothing here is called). */
const INSTANCES = {
  postgres: { adminUrl: 'postgres://jit:pw@127.0.0.1:9/app' },
  vault: { addr: 'http://127.0.0.1:9', token: 'validation-only', tokenRole: 'jit' },
  'aws-sts': { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
  'gcp-iam': {},
};

describe('staticSubstrateCatalog (the distributed gate: no instance, no connection)', () => {
  it('has every adapter kind, and each says what its instances say of the same scopes', async () => {
    const catalog = staticSubstrateCatalog();
    expect(Object.keys(catalog).sort()).toEqual(SUBSTRATE_DEFINITIONS.map((d) => d.kind).sort());
    for (const kind of Object.keys(SCOPES)) expect(Object.keys(catalog)).toContain(kind);
    const registry = createSubstrates(INSTANCES, logger);
    try {
      const live = substrateCatalog(registry);
      for (const [kind, { good, bad }] of Object.entries(SCOPES)) {
        expect(catalog[kind]!.validateScope(good), kind).toEqual([]);
        expect(live[kind]!.validateScope(good), kind).toEqual([]);
        for (const scope of bad) {
          expect(catalog[kind]!.validateScope(scope), `${kind} ${JSON.stringify(scope)}`).not.toEqual([]);
          expect(catalog[kind]!.validateScope(scope)).toEqual(live[kind]!.validateScope(scope));
        }
        expect(catalog[kind]!.maxTtlSeconds, kind).toBe(live[kind]!.maxTtlSeconds);
      }
    } finally {
      await registry.closeAll();
    }
  });

  it('takes the TTL ceiling from the settings it is given (gcp-iam extended lifetime, a configured ceiling)', () => {
    expect(staticSubstrateCatalog()['gcp-iam']!.maxTtlSeconds).toBe(GCP_DEFAULT_MAX_TTL_SECONDS);
    expect(staticSubstrateCatalog({ 'gcp-iam': { allowExtendedLifetime: true } })['gcp-iam']!.maxTtlSeconds).toBe(GCP_EXTENDED_MAX_TTL_SECONDS);
    expect(staticSubstrateCatalog()['aws-sts']!.maxTtlSeconds).toBe(STS_MAX_DURATION_SECONDS);
    expect(staticSubstrateCatalog({ postgres: { maxTtlSeconds: 900 } }).postgres!.maxTtlSeconds).toBe(900);
    expect(staticSubstrateCatalog().postgres!.maxTtlSeconds).toBeUndefined();
    // a role allow-list in the settings narrows the scopes as the instance would
    const good = SCOPES['aws-sts']!.good;
    expect(staticSubstrateCatalog({ 'aws-sts': { roles: [ARN] } })['aws-sts']!.validateScope(good)).toEqual([]);
    expect(staticSubstrateCatalog({ 'aws-sts': { roles: ['arn:aws:iam::123456789012:role/other'] } })['aws-sts']!.validateScope(good)).toEqual([
      { path: 'roleArn', message: 'role is not in the roles configured for substrate aws-sts' },
    ]);
  });
});
