// Policy fixtures and fake substrate facts for tests of libs/policy and its consumers.
import { fixtureRecipientsYaml } from '@jit/contracts/testing';
import type { SubstrateCatalog } from '../model';

/** The DESIGN.md §3 policy, plus a GCP target whose tiers respect the 1 h token limit. */
export const EXAMPLE_POLICY_YAML = `
tiers:
  cosmetic:         { ttlMax: 4h,  approvals: 1, approvers: { anyHuman: true } }
  reversible-write: { ttlMax: 2h,  approvals: 1, approvers: { groups: [platform] } }
  semi-destructive: { ttlMax: 1h,  approvals: 2, approvers: { groups: [platform-leads] }, requireRollbackPlan: true }
  destructive:      { ttlMax: 30m, approvals: 2, approvers: { users: [alice, bob] }, requireRollbackPlan: true }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent, migration-bot]
${fixtureRecipientsYaml()}policyApprovers: { groups: [security], approvals: 2 }
targets:
  orders-db:
    substrate: postgres
    connection: { secretRef: env:ORDERS_DB_ADMIN_URL }
    scopes:
      read-stats: { tier: cosmetic, grant: "SELECT ON ALL TABLES IN SCHEMA public" }
      write:  { tier: reversible-write, grant: "INSERT, UPDATE ON ALL TABLES IN SCHEMA public" }
      ddl:    { tier: semi-destructive, grant: "CREATE ON SCHEMA public" }
      drop:   { tier: destructive, grant: "DELETE ON ALL TABLES IN SCHEMA public" }
`;

/** Substrate facts: postgres accepts scopes with a `grant` string; gcp-iam caps TTL at 1 h. */
export function fakeSubstrates(): SubstrateCatalog {
  const needs = (field: string) => (scope: unknown) =>
    scope && typeof scope === 'object' && typeof (scope as Record<string, unknown>)[field] === 'string' ? [] : [{ path: field, message: `${field} is required` }];
  return {
    postgres: { validateScope: needs('grant') },
    vault: { validateScope: needs('policy') },
    'gcp-iam': { validateScope: needs('serviceAccount'), maxTtlSeconds: 3600 },
  };
}
