// The vault adapter's vocabulary: its kind, the slice of a node-vault client it uses (injectable),
// the instance config (`vaultConfigSchema`, strict), the scope and instance types, and what the
// operator installs (the token role's settings, jit's admin and carrier policies, the index path).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Substrate } from '@jit/substrates';
import { VaultAuthConflict } from './errors';
import { vaultAuthSchema, type VaultAuthEvent } from './vault-auth';

export const VAULT_KIND = 'vault';

/** The part of a node-vault client the adapter uses (tests may inject their own). */
export interface VaultClientLike {
  read(path: string, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
  write(path: string, data: unknown, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
  list(path: string): Promise<any>;
  delete(path: string): Promise<any>;
}
export interface VaultClientOptions {
  endpoint: string;
  token: string;
  namespace?: string;
  timeoutMs: number;
}
export type VaultClientFactory = (options: VaultClientOptions) => VaultClientLike;

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,3}$/;

export const vaultConfigSchema = z
  .object({
    /** http(s)://host:port of Vault/OpenBao. */
    addr: z.string().url(),
    /** jit's admin token (see README for the policy it needs); or `auth` to log in instead. */
    token: z.string().min(1).optional(),
    /** How jit logs in (AppRole, JWT, Kubernetes) instead of a static token; the token is renewed and replaced before it expires. */
    auth: vaultAuthSchema.optional(),
    /** Share of its TTL after which jit renews its own token (or replaces one Vault no longer extends). */
    renewFraction: z.number().min(0.1).max(0.9).default(0.5),
    /**
     * The token role every credential is created through (`auth/token/roles/<tokenRole>`), set up by
     * the operator with `orphan=true` and `allowed_policies` = the scopes' policies + carrierPolicies.
     * One role per deployment.
     */
    tokenRole: z.string().regex(NAME),
    /** Names this deployment in token metadata and the index, so deployments sharing a Vault never sweep each other. Default: tokenRole. */
    deployment: z.string().regex(NAME).optional(),
    /** KV v2 mount holding the index of the accessors jit created (`<indexMount>/data/jit/<deployment>/<instance>/<grant>/<accessor>`). */
    indexMount: z.string().regex(MOUNT).default('secret'),
    namespace: z.string().min(1).max(200).optional(),
    requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    /** Mount of the database secrets engine. */
    databaseMount: z.string().regex(MOUNT).default('database'),
    /** Policies of the carrier token that reads database/creds (must allow `read` there). */
    carrierPolicies: z.array(z.string().regex(NAME)).min(1).max(10).default(['jit-database-creds']),
    /** Accessor lookups run in parallel during scans. */
    lookupConcurrency: z.number().int().min(1).max(64).default(8),
    maxTtlSeconds: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Messages are ours (never a value): the settings parser shows them with the key.
    if (c.token !== undefined && c.auth !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: `${VaultAuthConflict.code}: set token or auth, not both` });
    } else if (c.token === undefined && c.auth === undefined) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: `${VaultAuthConflict.code}: set token (tokenRef: env:NAME) or auth ({"method":"approle"|"jwt"|"kubernetes",...})` });
    }
  });
export type VaultConfig = z.output<typeof vaultConfigSchema>;

export interface VaultDeps {
  clientFactory: VaultClientFactory;
  now: () => Date;
  /** Reads jit's own credential files (secret id, service-account token); default fs. */
  readFile: (path: string) => Promise<string>;
  /** Logins and renewals of jit's own token (tests wait on them). */
  onAuthEvent: (event: VaultAuthEvent) => void;
}

export type VaultScope =
  { mode: 'token'; policies: string[] } | { mode: 'database'; role: string; /** Where users connect, without credentials; the secret's `url` is built from it. */ loginUrl?: string };

/**
 * A vault instance. `checkTtl` (the contract's backstop check) reports a database role whose
 * max_ttl exceeds the ceiling (or is unset) and missing roles/policies; a deployment runs it for
 * every vault scope of each policy version (libs/substrates/wiring `createPolicyAudit`).
 */
export type VaultSubstrate = Substrate & Required<Pick<Substrate, 'verifyRevoked' | 'listIssued' | 'close' | 'checkTtl' | 'checkSetup'>>;

/** HCL of the carrier policy the operator installs (and attaches to jit's admin token). */
export function carrierPolicyHcl(databaseMount = 'database'): string {
  return `path "${databaseMount}/creds/*" {\n  capabilities = ["read"]\n}\n`;
}

/**
 * The settings of the token role the operator creates (`vault write auth/token/roles/<tokenRole> ...`):
 * orphans (no parent, so no inherited entity, identity policies or revocation with jit's token), only
 * the listed policies, never renewable, no default policy.
 */
export function tokenRoleSettings(allowedPolicies: string[]): Record<string, unknown> {
  return { orphan: true, allowed_policies: allowedPolicies, renewable: false, token_no_default_policy: true };
}

/** The index folder of one grant: its id when it is a plain name (jit's `gl-<project>-<mr>-<sha>`), else a hash of it. */
export function grantKey(grantId: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(grantId) ? grantId : `h-${createHash('sha256').update(grantId).digest('hex')}`;
}

/** Where an instance keeps its index of issued accessors, below `indexMount`. */
export function vaultIndexPath(config: Pick<VaultConfig, 'tokenRole' | 'deployment'>, instance: string): string {
  return `jit/${config.deployment ?? config.tokenRole}/${instance.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * HCL of the least privilege jit's admin token needs for one instance: create through the token role,
 * read the role (audit), look up and revoke by accessor, keep its index, revoke leases, read roles and
 * policies (audit). No sudo, no listing of all accessors.
 */
export function adminPolicyHcl(config: Pick<VaultConfig, 'tokenRole' | 'deployment' | 'indexMount' | 'databaseMount'>, instance: string): string {
  const index = vaultIndexPath(config, instance);
  const rules: Array<[string, string[]]> = [
    [`auth/token/create/${config.tokenRole}`, ['update']],
    [`auth/token/roles/${config.tokenRole}`, ['read']],
    ['auth/token/lookup-accessor', ['update']],
    ['auth/token/revoke-accessor', ['update']],
    ['auth/token/lookup-self', ['read']],
    // jit's own token (AppRole / JWT / Kubernetes login): renewed, and revoked when replaced
    ['auth/token/renew-self', ['update']],
    ['auth/token/revoke-self', ['update']],
    [`${config.indexMount}/data/${index}/*`, ['create', 'update', 'read']],
    [`${config.indexMount}/metadata/${index}/*`, ['list', 'delete']],
    [`${config.indexMount}/metadata/${index}`, ['list']],
    [`${config.indexMount}/metadata/${index}/`, ['list']],
    ['sys/leases/lookup', ['update']],
    ['sys/leases/revoke', ['update']],
    [`${config.databaseMount}/roles/*`, ['read']],
    ['sys/policies/acl/*', ['read']],
  ];
  return rules.map(([path, caps]) => `path "${path}" {\n  capabilities = [${caps.map((c) => `"${c}"`).join(', ')}]\n}\n`).join('');
}
