// Vault/OpenBao substrate. Two scope modes:
//  - token:    a token with the scope's policies (ttl = explicit_max_ttl = TTL, not renewable,
//              meta.jit_grant), revoked by accessor;
//  - database: dynamic DB credentials read through a per-grant "carrier" token (same TTL and
//              meta), so the lease is attributable to its grant and dies with the carrier at TTL
//              at the latest; revoked by lease, then by the carrier's accessor.
// The admin client is never mutated (node-vault's tokenCreate would swap its token).
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
  type Finding,
  type IssueRequest,
  type Issued,
  type Problem,
  type RevocationHandle,
  type Substrate,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import { VaultNotFound } from './errors';

export const VAULT_KIND = 'vault';

/** The part of a node-vault client the adapter uses (tests may inject their own). */
export interface VaultClientLike {
  read(path: string, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
  write(path: string, data: unknown, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
  list(path: string): Promise<any>;
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
    /** jit's admin token (see README for the policy it needs). */
    token: z.string().min(1),
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
  .strict();
export type VaultConfig = z.output<typeof vaultConfigSchema>;

export interface VaultDeps {
  clientFactory: VaultClientFactory;
  now: () => Date;
}

export type VaultScope =
  | { mode: 'token'; policies: string[] }
  | { mode: 'database'; role: string; /** Where users connect, without credentials; the secret's `url` is built from it. */ loginUrl?: string };

/**
 * A vault instance. `checkTtl` (the contract's backstop check) reports a database role whose
 * max_ttl exceeds the ceiling (or is unset) and missing roles/policies; a deployment runs it for
 * every vault scope of each policy version (libs/substrates/wiring `createPolicyAudit`).
 */
export type VaultSubstrate = Substrate & Required<Pick<Substrate, 'verifyRevoked' | 'listIssued' | 'close' | 'checkTtl'>>;

/** HCL of the carrier policy the operator installs (and attaches to jit's admin token). */
export function carrierPolicyHcl(databaseMount = 'database'): string {
  return `path "${databaseMount}/creds/*" {\n  capabilities = ["read"]\n}\n`;
}

const defaultFactory: VaultClientFactory = (o) =>
  vaultFactory({
    endpoint: o.endpoint,
    token: o.token,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    requestOptions: { timeout: o.timeoutMs },
  }) as unknown as VaultClientLike;

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

const isVaultError = (err: unknown, status: number, text?: RegExp): boolean =>
  statusOf(err) === status && (!text || vaultMessages(err).some((m) => text.test(m)));

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
      return (
        (status === 400 && messages.some((m) => /\binvalid accessor\b/.test(m))) ||
        (status === 403 && messages.length > 0 && messages.every((m) => m === 'bad token'))
      );
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
  const client = (deps.clientFactory ?? defaultFactory)({
    endpoint: config.addr,
    token: config.token,
    namespace: config.namespace,
    timeoutMs: config.requestTimeoutMs,
  });
  const mount = config.databaseMount;
  const fail = (op: string, err: unknown): JitError =>
    err instanceof JitError
      ? err
      : classifySubstrateError(name, op, scrub(err), (e) => (statusOf(e) === 404 ? VaultNotFound(name, op, { cause: e }) : undefined));

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
      if (typeof meta.jit_grant !== 'string' || meta.jit_instance !== name) return undefined;
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

  /** Every token this instance issued (the orphan sweep and the idempotency check). */
  const scan = async (): Promise<TokenInfo[]> => {
    const r = await call('list accessors', () => client.list('auth/token/accessors'));
    const keys = (Array.isArray(r?.data?.keys) ? r.data.keys : []).filter((k: unknown): k is string => typeof k === 'string');
    const infos = await mapLimit(keys, config.lookupConcurrency, lookupAccessor);
    return infos.filter((x): x is TokenInfo & { meta: Record<string, string> } => !!x && !('gone' in x));
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

  const handleOf = (grantId: string, ref: Record<string, string>, expiresAt: string): RevocationHandle => ({
    kind: VAULT_KIND,
    ...(name !== VAULT_KIND ? { instance: name } : {}),
    grantId,
    ref,
    expiresAt,
  });

  const tokenBody = (req: IssueRequest, meta: Record<string, string>, policies: string[]) => ({
    policies,
    ttl: `${req.ttlSeconds}s`,
    explicit_max_ttl: `${req.ttlSeconds}s`,
    renewable: false,
    no_default_policy: true,
    display_name: `jit-${req.grantId}`.slice(0, 100),
    meta: { jit_grant: req.grantId, jit_instance: name, jit_elevation: req.elevationId, jit_requester: req.requester, ...meta },
  });

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

    // A retry finds its own work: whatever this grant got before is revoked, so one stays live.
    for (const old of (await scan()).filter((t) => t.grantId === req.grantId)) {
      await revokeAccessor(old.accessor);
      log.info({ grantId: req.grantId, accessor: old.accessor }, 'revoked an earlier credential of the same grant');
    }

    if (scope.mode === 'token') {
      const r = await call('token create', () => client.write('auth/token/create', tokenBody(req, { jit_mode: 'token' }, scope.policies)));
      const auth = r?.auth;
      if (typeof auth?.client_token !== 'string' || typeof auth?.accessor !== 'string') throw fail('token create', new Error('no token in the answer'));
      const seconds = Math.min(req.ttlSeconds, Number(auth.lease_duration) || req.ttlSeconds);
      const expiresAt = new Date(started + seconds * 1000).toISOString();
      log.info({ grantId: req.grantId, accessor: auth.accessor, expiresAt }, 'vault token issued');
      return {
        secret: { token: auth.client_token, accessor: auth.accessor },
        handle: handleOf(req.grantId, { mode: 'token', accessor: auth.accessor }, expiresAt),
        expiresAt,
      };
    }

    const carrier = await call('carrier token create', () =>
      client.write('auth/token/create', tokenBody(req, { jit_mode: 'database', jit_role: scope.role }, config.carrierPolicies)),
    );
    const carrierToken = carrier?.auth?.client_token;
    const carrierAccessor = carrier?.auth?.accessor;
    if (typeof carrierToken !== 'string' || typeof carrierAccessor !== 'string') throw fail('carrier token create', new Error('no token in the answer'));
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
    const seconds = Math.min(req.ttlSeconds, Number(creds.lease_duration) || req.ttlSeconds, Number(carrier.auth.lease_duration) || req.ttlSeconds);
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

  async function checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]> {
    const problems = scopeProblems(scope);
    if (problems.length) return problems.map((p) => ({ severity: 'error', message: `${p.path} ${p.message}` }));
    const s = scope as VaultScope;
    if (s.mode === 'database') {
      let d: any;
      try {
        d = (await client.read(`${mount}/roles/${s.role}`))?.data ?? {};
      } catch (err) {
        if (isVaultError(err, 404)) return [{ severity: 'error', message: `${name}: database role ${s.role} does not exist under ${mount}/roles` }];
        throw fail('read database role', err);
      }
      const maxTtl = Number(d.max_ttl) || 0;
      if (maxTtl === 0 || maxTtl > ceilingSeconds) {
        return [
          {
            severity: 'warning',
            message: `${name}: database role ${s.role} has max_ttl ${maxTtl === 0 ? 'unset (the mount/system default applies)' : `${maxTtl}s`} above the tier ceiling ${ceilingSeconds}s; jit's carrier token still ends the lease at the grant's TTL, but set max_ttl <= ${ceilingSeconds}s so Vault's own backstop matches`,
          },
        ];
      }
      return [{ severity: 'info', message: `${name}: database role ${s.role} max_ttl ${maxTtl}s is within the ceiling ${ceilingSeconds}s` }];
    }
    const findings: Finding[] = [];
    for (const p of s.policies) {
      try {
        await client.read(`sys/policies/acl/${p}`);
      } catch (err) {
        if (isVaultError(err, 404)) findings.push({ severity: 'error', message: `${name}: policy ${p} does not exist` });
        else throw fail('read policy', err);
      }
    }
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
    // node-vault keeps no sockets of its own beyond the HTTP agent; nothing to release.
    close: async () => undefined,
  };
}

/** The registration: `registry.register(vaultSubstrate); registry.configure('vault:prod', config)`. */
export const vaultSubstrate = defineSubstrate<VaultConfig, VaultDeps>({
  kind: VAULT_KIND,
  configSchema: vaultConfigSchema,
  create: createVaultSubstrate,
});
