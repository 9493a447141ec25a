// Vault/OpenBao substrate. Every token is created through the operator's token role
// (`auth/token/create/<tokenRole>`, orphan=true): it is not a child of jit's admin token, so it
// inherits neither jit's entity nor its identity policies, and revoking jit's token leaves it alone.
// Every accessor jit creates is listed in a KV v2 index of this deployment, so the orphan sweep and
// the issue retry look only at jit's own tokens (no sudo on auth/token/accessors, no scan of all).
// Two scope modes:
//  - token:    a token with the scope's policies (ttl = explicit_max_ttl = TTL, not renewable,
//              meta.jit_grant), revoked by accessor;
//  - database: dynamic DB credentials read through a per-grant "carrier" token (same TTL and
//              meta), so the lease is attributable to its grant and dies with the carrier at TTL
//              at the latest; revoked by lease, then by the carrier's accessor.
// The admin client is never mutated (node-vault's tokenCreate would swap its token).
import { createHash } from 'node:crypto';
import vaultFactory from 'node-vault';
import { z } from 'zod';
import type { Logger } from '@jit/observability';
import { JitError } from '@jit/errors';
import {
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  SubstrateUpstreamFailed,
  classifySubstrateError,
  defineSubstrate,
  grantWindow,
  type Finding,
  type IssueRequest,
  type Issued,
  type Problem,
  type RevocationHandle,
  type Substrate,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import { VaultAuthConflict, VaultGrantRevoked, VaultNotFound } from './errors';
import { createVaultAuth, vaultAuthSchema, type VaultAuthEvent } from './vault-auth';
import { reachIntoJit } from './policy-reach';
import { revocationGaps } from './revocation-statements';

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

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
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
function grantKey(grantId: string): string {
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

const defaultFactory: VaultClientFactory = (o) => {
  const c = vaultFactory({
    endpoint: o.endpoint,
    token: o.token,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    requestOptions: { timeout: o.timeoutMs },
  });
  // node-vault falls back to process.env.VAULT_TOKEN for an empty token: a login client sends none.
  c.token = o.token;
  return c as unknown as VaultClientLike;
};

function statusOf(err: unknown): number | undefined {
  const s = (err as { response?: { statusCode?: unknown; status?: unknown } } | null)?.response;
  const v = s?.statusCode ?? s?.status;
  return typeof v === 'number' ? v : undefined;
}

/**
 * A copy of a client error safe to keep as `cause`: axios errors carry the request config with
 * the X-Vault-Token header, so only name, code, status and Vault's own error strings survive.
 */
function scrub(err: unknown): Error {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; response?: { body?: { errors?: unknown } } };
  const status = statusOf(err);
  const vaultErrors = Array.isArray(e.response?.body?.errors) ? (e.response.body.errors as unknown[]).map(String).join('; ').slice(0, 300) : '';
  const out = new Error(status ? `vault HTTP ${status}${vaultErrors ? `: ${vaultErrors}` : ''}` : `vault client ${String(e.code ?? e.name ?? 'error')}`);
  return Object.assign(out, {
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(status ? { response: { statusCode: status } } : {}),
  });
}

/** Vault's own error strings of a failed call (`{"errors": [...]}`), trimmed. */
function vaultMessages(err: unknown): string[] {
  const errors = (err as { response?: { body?: { errors?: unknown } } } | null)?.response?.body?.errors;
  return Array.isArray(errors) ? errors.map((m) => String(m).trim()) : [];
}

const isVaultError = (err: unknown, status: number, text?: RegExp): boolean => statusOf(err) === status && (!text || vaultMessages(err).some((m) => text.test(m)));

/** The calls whose "no such thing" answers mean the credential is already gone. */
export type VaultGoneOperation = 'lookup accessor' | 'revoke accessor' | 'revoke lease' | 'lookup lease';

/**
 * Whether Vault's error answer to `op` says the token or lease no longer exists, which for a
 * revoke is success. Only these exact answers count (checked against OpenBao 2.x and Vault's
 * token store): everything else - a malformed request (400 "missing accessor", "failed to decode
 * JSON"), a denial (403 "permission denied"), an unknown namespace or route (404), a 5xx - stays
 * an error, so a misconfigured instance can never report a live credential as revoked.
 *  - lookup accessor: 400 "invalid accessor" (no accessor index entry: expired and reaped, or
 *    revoked); 403 "bad token" alone (the index entry is still there but the token is past its
 *    expiry or being revoked by Vault's expiration manager, so Vault no longer honours it).
 *  - revoke accessor: 400 "token not found" (same window as "bad token"); 400 "invalid accessor"
 *    (Vault before 1.10; newer servers and OpenBao answer 200 with the warning "No token found
 *    with this accessor", which is success anyway).
 *  - revoke / lookup lease: 400 "invalid lease" or "lease not found" (OpenBao answers 204 to a
 *    revoke of a gone lease; the 400s are older servers and lookups).
 */
export function isGoneAnswer(op: VaultGoneOperation, err: unknown): boolean {
  const status = statusOf(err);
  const messages = vaultMessages(err);
  switch (op) {
    case 'lookup accessor':
      return (status === 400 && messages.some((m) => /\binvalid accessor\b/.test(m))) || (status === 403 && messages.length > 0 && messages.every((m) => m === 'bad token'));
    case 'revoke accessor':
      return status === 400 && messages.some((m) => /\b(?:token not found|invalid accessor)\b/.test(m));
    case 'revoke lease':
    case 'lookup lease':
      return status === 400 && messages.some((m) => /\b(?:invalid lease|lease not found)\b/.test(m));
  }
}

function scopeProblems(scope: unknown): Problem[] {
  if (!scope || typeof scope !== 'object' || Array.isArray(scope)) {
    return [{ path: 'scope', message: "must be an object: { mode: 'token', policies: [...] } or { mode: 'database', role: <name> }" }];
  }
  const s = scope as Record<string, unknown>;
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(s, k) ? s[k] : undefined);
  const mode = own('mode');
  if (mode === 'token') {
    const policies = own('policies');
    if (!Array.isArray(policies) || policies.length === 0 || policies.length > 20) {
      return [{ path: 'scope.policies', message: 'must list 1-20 Vault policy names' }];
    }
    const problems: Problem[] = [];
    policies.forEach((p, i) => {
      if (typeof p !== 'string' || !NAME.test(p)) problems.push({ path: `scope.policies[${i}]`, message: 'must be a policy name (letters, digits, _ . -)' });
      else if (p === 'root') problems.push({ path: `scope.policies[${i}]`, message: 'the root policy is never issued' });
    });
    return problems;
  }
  if (mode === 'database') {
    const problems: Problem[] = [];
    const role = own('role');
    if (typeof role !== 'string' || !NAME.test(role)) problems.push({ path: 'scope.role', message: 'must be a database secrets engine role name (letters, digits, _ . -)' });
    const loginUrl = own('loginUrl');
    if (loginUrl !== undefined) {
      let u: URL | undefined;
      try {
        u = typeof loginUrl === 'string' && loginUrl.length <= 500 ? new URL(loginUrl) : undefined;
      } catch {
        u = undefined;
      }
      if (!u) problems.push({ path: 'scope.loginUrl', message: 'must be a URL of at most 500 characters, e.g. postgres://db:5432/orders' });
      else if (u.username || u.password) problems.push({ path: 'scope.loginUrl', message: 'must not carry credentials' });
    }
    return problems;
  }
  return [{ path: 'scope.mode', message: "must be 'token' or 'database'" }];
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface TokenInfo {
  accessor: string;
  grantId: string;
  mode: 'token' | 'database';
  role?: string;
  expiresAt: string;
}

export function createVaultSubstrate(config: VaultConfig, deps: SubstrateDeps & Partial<VaultDeps>): VaultSubstrate {
  const name = deps.name;
  const log: Logger = deps.logger;
  const now = deps.now ?? (() => new Date());
  const factory = deps.clientFactory ?? defaultFactory;
  const clientOptions = (token: string): VaultClientOptions => ({ endpoint: config.addr, token, namespace: config.namespace, timeoutMs: config.requestTimeoutMs });
  // One client per token jit holds (a login replaces it; the old one is kept until the next).
  const clients = new Map<string, VaultClientLike>();
  const clientFor = (token: string): VaultClientLike => {
    let c = clients.get(token);
    if (!c) {
      if (clients.size >= 2) clients.delete(clients.keys().next().value!);
      c = factory(clientOptions(token));
      clients.set(token, c);
    }
    return c;
  };
  const auth = createVaultAuth({
    name,
    // A token from `tokenRef: file:` stays live (deps.live): a rotated one is used by the next call.
    auth: config.auth ?? { method: 'token', token: config.token!, ...(deps.live?.['token'] ? { live: deps.live['token'] } : {}) },
    loginClient: factory(clientOptions('')),
    clientFor,
    renewFraction: config.renewFraction,
    logger: log,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    fail: (op, err) => fail(op, err),
    ...(deps.readFile ? { readFile: deps.readFile } : {}),
    ...(deps.onAuthEvent ? { onEvent: deps.onAuthEvent } : {}),
    now: () => now().getTime(),
  });
  /**
   * Every call with jit's current token; when Vault refuses it because it no longer knows it (revoked
   * under jit), a login method logs in again and the call is tried once more. Calls that carry their
   * own token (the carrier's) are left alone.
   */
  const withToken = async <T>(own: boolean, fn: (c: VaultClientLike) => Promise<T>): Promise<T> => {
    const token = await auth.token();
    try {
      return await fn(clientFor(token));
    } catch (err) {
      if (own && statusOf(err) === 403 && (await auth.refused(token))) return fn(clientFor(await auth.token()));
      throw err;
    }
  };
  const ownToken = (o?: { headers?: Record<string, string> }) => !o?.headers?.['X-Vault-Token'];
  const client: VaultClientLike = {
    read: (path, o) => withToken(ownToken(o), (c) => c.read(path, o)),
    write: (path, data, o) => withToken(ownToken(o), (c) => c.write(path, data, o)),
    list: (path) => withToken(true, (c) => c.list(path)),
    delete: (path) => withToken(true, (c) => c.delete(path)),
  };
  const mount = config.databaseMount;
  const deployment = config.deployment ?? config.tokenRole;
  const index = `${config.indexMount}/metadata/${vaultIndexPath(config, name)}`;
  const indexEntry = (grantId: string, accessor: string) => `${config.indexMount}/data/${vaultIndexPath(config, name)}/${grantKey(grantId)}/${accessor}`;
  // A revoked grant's marker, in a folder of the index whose name ("revoked~") no scan walks (the
  // index's names are [A-Za-z0-9._-]): an issue of a grant revoked here is refused, so a replica that
  // lost its partition mid-issue and wakes after the revoke creates nothing that outlives the grant.
  const revokedEntry = (grantId: string) => `${config.indexMount}/data/${vaultIndexPath(config, name)}/revoked~/${grantKey(grantId)}`;
  const fail = (op: string, err: unknown): JitError =>
    err instanceof JitError ? err : classifySubstrateError(name, op, scrub(err), (e) => (statusOf(e) === 404 ? VaultNotFound(name, op, { cause: e }) : undefined));

  const call = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw fail(op, err);
    }
  };

  /** Token info by accessor; undefined when the token no longer exists. */
  const lookupAccessor = async (accessor: string): Promise<(TokenInfo & { meta: Record<string, string> }) | { gone: true } | undefined> => {
    try {
      const r = await client.write('auth/token/lookup-accessor', { accessor });
      const d = r?.data ?? {};
      const meta = (d.meta ?? {}) as Record<string, string>;
      if (typeof meta.jit_grant !== 'string' || meta.jit_instance !== name || meta.jit_deployment !== deployment) return undefined;
      return {
        accessor,
        grantId: meta.jit_grant,
        mode: meta.jit_mode === 'database' ? 'database' : 'token',
        role: meta.jit_role,
        expiresAt: typeof d.expire_time === 'string' ? new Date(d.expire_time).toISOString() : '',
        meta,
      };
    } catch (err) {
      if (isGoneAnswer('lookup accessor', err)) return { gone: true };
      throw fail('lookup accessor', err);
    }
  };

  /** Drops an accessor from the index (best effort: a stale entry is dropped by the next scan). */
  const unindex = async (key: string, accessor: string): Promise<void> => {
    try {
      await client.delete(`${index}/${key}/${accessor}`);
    } catch (err) {
      if (statusOf(err) !== 404) log.warn({ accessor, err: scrub(err).message }, 'could not drop an accessor from the index; the next scan retries');
    }
  };

  /** The keys of one index folder; none when it does not exist. `folders`: sub-folders (`x/`), else entries. */
  const listIndex = async (path: string, folders: boolean): Promise<string[]> => {
    let r: any;
    try {
      r = await client.list(path);
    } catch (err) {
      if (isVaultError(err, 404)) return [];
      throw fail('list index', err);
    }
    const keys: unknown[] = Array.isArray(r?.data?.keys) ? r.data.keys : [];
    return keys
      .filter((k): k is string => typeof k === 'string' && k.endsWith('/') === folders)
      .map((k) => (folders ? k.slice(0, -1) : k))
      .filter((k) => /^[A-Za-z0-9._-]{1,200}$/.test(k));
  };

  /**
   * Live tokens this instance of this deployment issued - of one grant (the issue retry: one list of
   * that grant's folder), or of all (the orphan sweep: one list per live grant) - from the index:
   * one lookup per token jit created, never a listing of all of Vault's tokens. Each lookup
   * re-checks the token's own metadata, so a forged index entry is ignored and a gone one dropped.
   */
  const scan = async (grantId?: string): Promise<TokenInfo[]> => {
    const keys = grantId === undefined ? await listIndex(index, true) : [grantKey(grantId)];
    const entries: Array<[string, string]> = [];
    for (const key of keys) for (const accessor of await listIndex(`${index}/${key}`, false)) entries.push([key, accessor]);
    const infos = await mapLimit(entries, config.lookupConcurrency, async ([key, accessor]) => {
      const info = await lookupAccessor(accessor);
      if (!info || 'gone' in info) await unindex(key, accessor);
      return info;
    });
    return infos.filter((x): x is TokenInfo & { meta: Record<string, string> } => !!x && !('gone' in x) && (grantId === undefined || x.grantId === grantId));
  };

  /** Revoke a token by accessor; 'gone' when Vault says it no longer exists (success too). */
  const revokeAccessor = async (accessor: string): Promise<'revoked' | 'gone'> => {
    try {
      const r = await client.write('auth/token/revoke-accessor', { accessor });
      const warnings: unknown[] = Array.isArray(r?.warnings) ? r.warnings : [];
      return warnings.some((w) => /no token found/i.test(String(w))) ? 'gone' : 'revoked';
    } catch (err) {
      if (isGoneAnswer('revoke accessor', err)) return 'gone';
      throw fail('revoke accessor', err);
    }
  };

  /** Whether a revoke of this grant has begun on this instance (its marker is written first). */
  const wasRevoked = async (grantId: string): Promise<boolean> => {
    try {
      const r = await client.read(revokedEntry(grantId));
      return r?.data?.data?.grant === grantId;
    } catch (err) {
      if (isVaultError(err, 404)) return false;
      throw fail('read revoked marker', err);
    }
  };

  const handleOf = (grantId: string, ref: Record<string, string>, expiresAt: string): RevocationHandle => ({
    kind: VAULT_KIND,
    ...(name !== VAULT_KIND ? { instance: name } : {}),
    grantId,
    ref,
    expiresAt,
  });

  const readPolicy = async (policy: string): Promise<string | undefined> => {
    try {
      const d = (await client.read(`sys/policies/acl/${policy}`))?.data ?? {};
      return String(d.policy ?? d.rules ?? '');
    } catch (err) {
      if (isVaultError(err, 404)) return undefined;
      throw fail('read policy', err);
    }
  };
  /** What the scope's policies would let the grantee do to jit itself (policy-reach.ts), one line per rule. */
  const reachOf = async (policies: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const p of policies) {
      const text = await readPolicy(p);
      for (const r of text ? reachIntoJit(text, { tokenRole: config.tokenRole, indexMount: config.indexMount, deployment }) : []) {
        out.push(`policy ${p} rule "${r.rule.slice(0, 120)}" lets the grantee ${r.what}`);
      }
    }
    return out;
  };

  /** `seconds`: the TTL cut at the grant's notAfter (grantWindow), so the token never outlives the grant. */
  const tokenBody = (req: IssueRequest, meta: Record<string, string>, policies: string[], seconds: number) => ({
    policies,
    ttl: `${seconds}s`,
    explicit_max_ttl: `${seconds}s`,
    renewable: false,
    no_default_policy: true,
    display_name: `jit-${req.grantId}`.slice(0, 100),
    meta: { jit_grant: req.grantId, jit_instance: name, jit_deployment: deployment, jit_elevation: req.elevationId, jit_requester: req.requester, ...meta },
  });

  /**
   * Creates a token through the token role and indexes it. A token that is not an orphan or carries
   * an entity (the role was changed under jit) is revoked at once and the issue refused: it would
   * inherit jit's identity. An index write that fails revokes the token too (retriable).
   */
  const createToken = async (op: string, body: ReturnType<typeof tokenBody>): Promise<{ token: string; accessor: string; leaseDuration: number }> => {
    const r = await call(op, () => client.write(`auth/token/create/${config.tokenRole}`, body));
    const auth = r?.auth;
    if (typeof auth?.client_token !== 'string' || typeof auth?.accessor !== 'string') throw fail(op, new Error('no token in the answer'));
    const accessor: string = auth.accessor;
    if (auth.orphan !== true || (typeof auth.entity_id === 'string' && auth.entity_id !== '')) {
      await revokeAccessor(accessor).catch(() => undefined);
      throw SubstrateRejected(
        name,
        `token role ${config.tokenRole} created a token that is ${auth.orphan !== true ? "a child of jit's own token" : 'tied to an entity'}, so it would inherit jit's identity; it was revoked. Set orphan=true on auth/token/roles/${config.tokenRole}`,
      );
    }
    try {
      await client.write(indexEntry(String(body.meta.jit_grant), accessor), { data: { grant: String(body.meta.jit_grant) } });
    } catch (err) {
      await revokeAccessor(accessor).catch(() => undefined);
      throw fail('write index', err);
    }
    return { token: auth.client_token, accessor, leaseDuration: Number(auth.lease_duration) || 0 };
  };

  // Issues of one grant run one after another in this process, so the scan-then-create below
  // cannot race itself (across processes the bus keeps one elevation on one consumer).
  const perGrant = new Map<string, Promise<unknown>>();
  function issue(req: IssueRequest): Promise<Issued> {
    const key = String(req?.grantId);
    const prev = perGrant.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => issueNow(req));
    perGrant.set(key, run);
    const forget = () => {
      if (perGrant.get(key) === run) perGrant.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  async function issueNow(req: IssueRequest): Promise<Issued> {
    const problems = scopeProblems(req.scope);
    if (problems.length) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path} ${p.message}`).join('; '));
    if (typeof req.grantId !== 'string' || req.grantId.length === 0 || req.grantId.length > 200) throw SubstrateRejected(name, 'grantId must be 1-200 characters');
    if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds <= 0) throw SubstrateRejected(name, 'ttlSeconds must be a positive integer');
    if (config.maxTtlSeconds && req.ttlSeconds > config.maxTtlSeconds) throw SubstrateTtlTooLong(name, req.ttlSeconds, config.maxTtlSeconds);
    const scope = req.scope as unknown as VaultScope;
    const started = now().getTime();
    // Every token (and a database lease, which dies with its carrier) ends by the grant's notAfter:
    // one created late — or created and never indexed before a crash, which no revoke or sweep can
    // find — is dead by the time the grant is.
    const window = grantWindow(name, req, new Date(started));

    if (await wasRevoked(req.grantId)) throw VaultGrantRevoked(req.grantId, name);
    // A retry finds its own work: whatever this grant got before is revoked, so one stays live.
    for (const old of await scan(req.grantId)) {
      await revokeAccessor(old.accessor);
      log.info({ grantId: req.grantId, accessor: old.accessor }, 'revoked an earlier credential of the same grant');
    }
    // Checked again once the credential exists and is indexed: the revoke writes its marker before
    // it scans the index, so either that scan finds this credential or this check finds the marker.
    const refuseIfRevoked = async (accessor: string, leaseId?: string): Promise<void> => {
      if (!(await wasRevoked(req.grantId))) return;
      if (leaseId) await client.write('sys/leases/revoke', { lease_id: leaseId }).catch(() => undefined);
      await revokeAccessor(accessor).catch(() => undefined);
      await unindex(grantKey(req.grantId), accessor);
      log.warn({ grantId: req.grantId, accessor }, 'the grant was revoked while this issue ran; what it created is revoked');
      throw VaultGrantRevoked(req.grantId, name);
    };

    if (scope.mode === 'token') {
      const reach = await reachOf(scope.policies);
      if (reach.length > 0) throw SubstrateInvalidScope(name, `${reach.join('; ')}; narrow the policy`);
      const t = await createToken('token create', tokenBody(req, { jit_mode: 'token' }, scope.policies, window.seconds));
      await refuseIfRevoked(t.accessor);
      const seconds = Math.min(window.seconds, t.leaseDuration || window.seconds);
      const expiresAt = new Date(started + seconds * 1000).toISOString();
      log.info({ grantId: req.grantId, accessor: t.accessor, expiresAt }, 'vault token issued');
      return {
        secret: { token: t.token, accessor: t.accessor },
        handle: handleOf(req.grantId, { mode: 'token', accessor: t.accessor }, expiresAt),
        expiresAt,
      };
    }

    const carrier = await createToken('carrier token create', tokenBody(req, { jit_mode: 'database', jit_role: scope.role }, config.carrierPolicies, window.seconds));
    const carrierToken = carrier.token;
    const carrierAccessor = carrier.accessor;
    let creds: any;
    try {
      creds = await client.read(`${mount}/creds/${scope.role}`, { headers: { 'X-Vault-Token': carrierToken } });
    } catch (err) {
      await revokeAccessor(carrierAccessor).catch(() => undefined);
      throw fail('read database creds', err);
    }
    const username = creds?.data?.username;
    const password = creds?.data?.password;
    const leaseId = creds?.lease_id;
    if (typeof username !== 'string' || typeof password !== 'string' || typeof leaseId !== 'string') {
      await revokeAccessor(carrierAccessor).catch(() => undefined);
      throw fail('read database creds', new Error('no username/password/lease in the answer'));
    }
    await refuseIfRevoked(carrierAccessor, leaseId);
    const seconds = Math.min(window.seconds, Number(creds.lease_duration) || window.seconds, carrier.leaseDuration || window.seconds);
    const expiresAt = new Date(started + seconds * 1000).toISOString();
    const secret: Record<string, string> = { username, password };
    if (scope.loginUrl) {
      const u = new URL(scope.loginUrl);
      u.username = encodeURIComponent(username);
      u.password = encodeURIComponent(password);
      secret.url = u.toString();
    }
    log.info({ grantId: req.grantId, leaseId, accessor: carrierAccessor, expiresAt }, 'vault database credential issued');
    return {
      secret,
      handle: handleOf(req.grantId, { mode: 'database', accessor: carrierAccessor, leaseId, role: scope.role }, expiresAt),
      expiresAt,
    };
  }

  const checkHandle = (h: RevocationHandle): { mode: 'token' | 'database'; accessor: string; leaseId?: string } => {
    if (!h || typeof h !== 'object' || h.kind !== VAULT_KIND) throw SubstrateInvalidHandle(name, `kind must be ${VAULT_KIND}`);
    const { mode, accessor, leaseId, role } = h.ref ?? {};
    if (mode !== 'token' && mode !== 'database') throw SubstrateInvalidHandle(name, "ref.mode must be 'token' or 'database'");
    if (typeof accessor !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(accessor)) throw SubstrateInvalidHandle(name, 'ref.accessor is missing or malformed');
    if (mode === 'database' && leaseId !== undefined) {
      if (typeof role !== 'string' || !NAME.test(role) || typeof leaseId !== 'string' || !leaseId.startsWith(`${mount}/creds/${role}/`) || leaseId.includes('..')) {
        throw SubstrateInvalidHandle(name, `ref.leaseId must be a lease under ${mount}/creds/<ref.role>/`);
      }
      return { mode, accessor, leaseId };
    }
    return { mode, accessor };
  };

  async function revoke(handle: RevocationHandle): Promise<void> {
    const { accessor, leaseId } = checkHandle(handle);
    const info = await lookupAccessor(accessor);
    // Never revoke a token this grant did not get (a forged handle naming the admin's accessor).
    if (info === undefined || (!('gone' in info) && info.grantId !== handle.grantId)) {
      throw SubstrateInvalidHandle(name, 'the accessor does not belong to this grant on this instance');
    }
    // First, so no issue of this grant that starts (or finishes) from now on leaves a credential behind.
    try {
      await client.write(revokedEntry(handle.grantId), { data: { grant: handle.grantId, revokedAt: now().toISOString() } });
    } catch (err) {
      throw fail('write revoked marker', err);
    }
    if (leaseId) {
      try {
        await client.write('sys/leases/revoke', { lease_id: leaseId });
      } catch (err) {
        // Vault answers 400 "failed to revoke entry" when the database is down: the lease (and the
        // credential) live on, so this is worth retrying. The carrier stays, so retries and the
        // sweep still find the grant.
        if (isVaultError(err, 400, /failed to revoke/)) {
          throw SubstrateUpstreamFailed(name, 'revoke lease: the backend refused or was unreachable, the lease is still live', { cause: scrub(err) });
        }
        // A lease that no longer exists (older servers answer 400; OpenBao 204) is revoked.
        if (!isGoneAnswer('revoke lease', err)) throw fail('revoke lease', err);
      }
    }
    // Vault may expire the token between the lookup and this call: "gone" then is success too.
    const token = 'gone' in info ? 'gone' : await revokeAccessor(accessor);
    await unindex(grantKey(handle.grantId), accessor);
    // The grant ends with every credential of it, as a postgres role or an STS session name would: a
    // later issue of the same grant than the one `handle` names (an issuer replica that lost its
    // partition while it issued, and announced nothing) replaced this one and is out there too.
    for (const other of await scan(handle.grantId)) {
      await revokeAccessor(other.accessor);
      await unindex(grantKey(handle.grantId), other.accessor);
      log.warn({ grantId: handle.grantId, accessor: other.accessor }, 'revoked another credential of the same grant, which no handle named');
    }
    log.info(
      { grantId: handle.grantId, accessor, leaseId, alreadyGone: token === 'gone' },
      token === 'gone' ? 'vault credential was already gone (expired or revoked): counted as revoked' : 'vault credential revoked',
    );
  }

  async function verifyRevoked(handle: RevocationHandle): Promise<VerifyResult> {
    const { accessor, leaseId } = checkHandle(handle);
    const info = await lookupAccessor(accessor);
    const tokenGone = !!info && 'gone' in info;
    let leaseGone = true;
    if (leaseId) {
      try {
        await client.write('sys/leases/lookup', { lease_id: leaseId });
        leaseGone = false;
      } catch (err) {
        if (!isGoneAnswer('lookup lease', err)) throw fail('lookup lease', err);
      }
    }
    const verified = tokenGone && leaseGone;
    return { verified, detail: `token ${tokenGone ? 'gone' : 'still valid'}${leaseId ? `, lease ${leaseGone ? 'gone' : 'still valid'}` : ''}` };
  }

  async function listIssued(): Promise<RevocationHandle[]> {
    return (await scan()).map((t) =>
      handleOf(t.grantId, t.mode === 'database' ? { mode: 'database', accessor: t.accessor, ...(t.role ? { role: t.role } : {}) } : { mode: 'token', accessor: t.accessor }, t.expiresAt),
    );
  }

  /** The token role's settings; undefined when it does not exist. */
  const readRole = async (): Promise<Record<string, unknown> | undefined> => {
    try {
      return (await client.read(`auth/token/roles/${config.tokenRole}`))?.data ?? {};
    } catch (err) {
      if (isVaultError(err, 404)) return undefined;
      throw fail('read token role', err);
    }
  };
  const roleMissing = (): Finding => ({
    severity: 'error',
    message: `${name}: token role ${config.tokenRole} does not exist; create auth/token/roles/${config.tokenRole} with orphan=true and allowed_policies listing the scopes' policies and ${config.carrierPolicies.join(', ')}`,
  });

  /** Policies the role would refuse (exact names only; globs are reported by checkSetup). */
  const notAllowed = (role: Record<string, unknown>, policies: string[]): string[] => {
    const allowed = Array.isArray(role.allowed_policies) ? role.allowed_policies.map(String) : [];
    return allowed.length === 0 ? [] : policies.filter((p) => !allowed.includes(p));
  };

  async function checkSetup(): Promise<Finding[]> {
    const findings: Finding[] = [];
    const self = (await call('lookup self', () => client.read('auth/token/lookup-self')))?.data ?? {};
    const entity = typeof self.entity_id === 'string' ? self.entity_id : '';
    const role = await readRole();
    if (entity) {
      const identityPolicies: string[] = Array.isArray(self.identity_policies) ? self.identity_policies.map(String) : [];
      findings.push({
        severity: 'warning',
        message:
          `${name}: jit's admin token belongs to identity entity ${entity}${identityPolicies.length ? ` (identity policies ${identityPolicies.join(', ')})` : ''}; ` +
          `a child of it would inherit that entity and its policies and Vault's audit log would name jit for the grantee. Tokens are issued through token role ${config.tokenRole}, which must stay orphan=true` +
          (role && role.orphan === true ? ' (it is)' : ' (it is not)'),
      });
    }
    if (!role) return [...findings, roleMissing()];
    if (role.orphan !== true) {
      findings.push({
        severity: 'error',
        message: `${name}: token role ${config.tokenRole} has orphan=false: every token would be a child of jit's admin token (its entity, identity policies, and revoked with it); jit refuses such tokens. Set orphan=true`,
      });
    }
    const globs = Array.isArray(role.allowed_policies_glob) ? role.allowed_policies_glob : [];
    const allowed = Array.isArray(role.allowed_policies) ? role.allowed_policies : [];
    if (allowed.length === 0 && globs.length === 0) {
      findings.push({
        severity: 'warning',
        message: `${name}: token role ${config.tokenRole} sets no allowed_policies: its tokens may carry any policy of jit's admin token; list the scopes' policies there`,
      });
    } else if (globs.length > 0) {
      findings.push({
        severity: 'warning',
        message: `${name}: token role ${config.tokenRole} allows policy globs (${globs.map(String).join(', ').slice(0, 200)}); prefer exact names in allowed_policies`,
      });
    }
    if (findings.length === 0) findings.push({ severity: 'info', message: `${name}: token role ${config.tokenRole} issues orphans; jit's admin token has no entity` });
    return findings;
  }

  async function checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]> {
    const problems = scopeProblems(scope);
    if (problems.length) return problems.map((p) => ({ severity: 'error', message: `${p.path} ${p.message}` }));
    const s = scope as VaultScope;
    const role = await readRole();
    if (!role) return [roleMissing()];
    const refused = notAllowed(role, s.mode === 'token' ? s.policies : config.carrierPolicies);
    if (refused.length > 0) {
      return [{ severity: 'error', message: `${name}: token role ${config.tokenRole} does not allow ${refused.join(', ')}; add them to its allowed_policies or no grant of this scope can be issued` }];
    }
    if (s.mode === 'database') {
      let d: any;
      try {
        d = (await client.read(`${mount}/roles/${s.role}`))?.data ?? {};
      } catch (err) {
        if (isVaultError(err, 404)) return [{ severity: 'error', message: `${name}: database role ${s.role} does not exist under ${mount}/roles` }];
        throw fail('read database role', err);
      }
      const maxTtl = Number(d.max_ttl) || 0;
      const gaps = revocationGaps(d.revocation_statements);
      const revocation: Finding[] = gaps.length
        ? [{ severity: 'warning', message: `${name}: database role ${s.role}'s revocation statements ${gaps.join('; and ')} (see POSTGRES_REVOCATION_STATEMENTS)` }]
        : [];
      if (maxTtl === 0 || maxTtl > ceilingSeconds) {
        return [
          ...revocation,
          {
            severity: 'warning',
            message: `${name}: database role ${s.role} has max_ttl ${maxTtl === 0 ? 'unset (the mount/system default applies)' : `${maxTtl}s`} above the tier ceiling ${ceilingSeconds}s; jit's carrier token still ends the lease at the grant's TTL, but set max_ttl <= ${ceilingSeconds}s so Vault's own backstop matches`,
          },
        ];
      }
      return [...revocation, { severity: 'info', message: `${name}: database role ${s.role} max_ttl ${maxTtl}s is within the ceiling ${ceilingSeconds}s` }];
    }
    const findings: Finding[] = [];
    for (const p of s.policies) {
      const text = await readPolicy(p);
      if (text === undefined) findings.push({ severity: 'error', message: `${name}: policy ${p} does not exist` });
    }
    for (const r of await reachOf(s.policies)) findings.push({ severity: 'error', message: `${name}: ${r}; jit refuses to issue this scope` });
    return findings;
  }

  return {
    kind: VAULT_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,
    validateScope: scopeProblems,
    issue,
    revoke,
    verifyRevoked,
    listIssued,
    checkTtl,
    checkSetup,
    // node-vault keeps no sockets of its own beyond the HTTP agent; the login session stops renewing.
    close: () => auth.close(),
  };
}

/** The registration: `registry.register(vaultSubstrate); registry.configure('vault:prod', config)`. */
export const vaultSubstrate = defineSubstrate<VaultConfig, VaultDeps>({
  kind: VAULT_KIND,
  configSchema: vaultConfigSchema,
  credentialFiles: (c) => (!c.auth ? [] : c.auth.method === 'approle' ? [{ setting: 'auth.secretIdFile', path: c.auth.secretIdFile }] : [{ setting: 'auth.jwtFile', path: c.auth.jwtFile }]),
  facts: (c) => ({ validateScope: scopeProblems, ...(c.maxTtlSeconds ? { maxTtlSeconds: c.maxTtlSeconds } : {}) }),
  create: createVaultSubstrate,
});
