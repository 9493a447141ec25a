// How jit itself authenticates to Vault/OpenBao: a static token, AppRole (role id + secret id read
// from a file), or JWT / Kubernetes auth (a service-account token read from a file). A login token
// is renewed (renew-self) at a fraction of its TTL; when renewal fails, or Vault stops extending it
// (the token is near its max TTL), jit logs in again with the file's current content, so a rotated
// secret id or a re-projected service-account token is picked up. The expiry is reported as
// `jit_substrate_auth_expires_seconds{substrate}`.
// node-vault's own startTokenRenewal is not used: it mutates the shared client, cannot log in again
// and keeps renewing a capped token down to zero.
import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import { z } from 'zod';
import type { Logger, Registry } from '@jit/observability';
import { JitError } from '@jit/errors';
import { describeReadFailure, readSecretFile } from '@jit/service';
import { reportAuthExpiry } from '@jit/substrates';
import { VaultAuthFileUnreadable, VaultCredentialRefused, VaultLoginFailed } from './errors';

const MOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,3}$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;
const filePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => p.startsWith('/'), 'must be an absolute path');

/** Kubernetes projects the pod's service-account token here by default. */
export const KUBERNETES_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const vaultAuthSchema = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('approle'),
    /** Mount path of the AppRole auth method (`vault auth enable -path=<mount> approle`). */
    mount: z.string().regex(MOUNT).default('approle'),
    /** The role's role_id (an identifier, not a secret). */
    roleId: z.string().min(1).max(256),
    /** File holding the secret_id; read at every login, so a rotated one is used from the next login on. */
    secretIdFile: filePath,
  }),
  z.strictObject({
    method: z.literal('jwt'),
    mount: z.string().regex(MOUNT).default('jwt'),
    /** The JWT auth role to log in as. */
    role: z.string().regex(ROLE),
    /** File holding the JWT (a projected service-account token); read at every login. */
    jwtFile: filePath,
  }),
  z.strictObject({
    method: z.literal('kubernetes'),
    mount: z.string().regex(MOUNT).default('kubernetes'),
    role: z.string().regex(ROLE),
    jwtFile: filePath.default(KUBERNETES_TOKEN_FILE),
  }),
]);
export type VaultAuthConfig = z.output<typeof vaultAuthSchema>;

/** What happened to jit's own token (logs, tests). */
export type VaultAuthEvent =
  | { type: 'login'; method: string; accessor: string; expiresAt: number; renewable: boolean }
  | { type: 'renewed'; expiresAt: number; capped: boolean }
  | { type: 'login-failed'; error: JitError; retryInMs: number }
  | { type: 'renew-failed'; error: JitError };

/** The calls the session makes; the substrate hands in clients built by its factory. */
export interface VaultAuthClient {
  read(path: string, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
  write(path: string, data: unknown, requestOptions?: { headers?: Record<string, string> }): Promise<any>;
}

export interface VaultAuthOptions {
  /** Instance name (`vault:prod`): the gauge's label and every message's subject. */
  name: string;
  /**
   * The static token, or how to log in. `live`: the token comes from a file (`tokenRef: file:`) and
   * this reads it now, so a rotated token is used by the next call.
   */
  auth: { method: 'token'; token: string; live?: () => string } | VaultAuthConfig;
  /** A client sending no token (login) and one per token (renew, lookup, revoke). */
  loginClient: VaultAuthClient;
  clientFor: (token: string) => VaultAuthClient;
  /** Share of the TTL after which the token is renewed (or a capped one replaced). */
  renewFraction: number;
  logger: Logger;
  metrics?: Registry;
  /** Turns a failed call into a secret-free JitError (the substrate's classifier). */
  fail: (op: string, err: unknown) => JitError;
  readFile?: (path: string) => Promise<string>;
  now?: () => number;
  onEvent?: (event: VaultAuthEvent) => void;
  /** Delays between failed logins (default 1 s doubling to 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export interface VaultAuth {
  /** A token valid now; logs in first when there is none (or it expired). Throws VaultLoginFailed. */
  token(): Promise<string>;
  /**
   * Called when Vault refused `token` (403): if Vault no longer knows it (revoked, expired early), a
   * login method gets a new one and true is returned so the caller may retry once. A static token
   * read from a file: the file's new token (true), or — the file not rotated yet — a retriable
   * JIT_ERR_VAULT_CREDENTIAL_REFUSED is thrown.
   */
  refused(token: string): Promise<boolean>;
  /** When the current token expires (ms since epoch; Infinity = never; undefined = none yet). */
  expiresAt(): number | undefined;
  /** Stops renewing; a token jit logged in for is revoked (best effort). */
  close(): Promise<void>;
}

interface Session {
  token: string;
  expiresAt: number;
  renewable: boolean;
  /** TTL the login granted (s): a renewal giving less means Vault capped it at the max TTL. */
  ttl: number;
}

/** Seconds from a Vault auth/lookup answer; 0 = no expiry. */
const seconds = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

export function createVaultAuth(options: VaultAuthOptions): VaultAuth {
  const { name, auth, logger: log, fail } = options;
  const now = options.now ?? Date.now;
  const readFile = options.readFile ?? (async (p: string) => readSecretFile(p));
  const emit = (e: VaultAuthEvent) => options.onEvent?.(e);
  const backoffFactory = new ExponentialBackoff({ initialDelay: options.retryInitialMs ?? 1000, maxDelay: options.retryMaxMs ?? 30_000 });
  let session: Session | undefined;
  let loggingIn: Promise<Session> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let backoff: IBackoff<unknown> | undefined;
  let closed = false;

  const schedule = (delayMs: number, what: () => Promise<void>) => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void what().catch(() => undefined), Math.max(0, delayMs));
    timer.unref();
  };

  /** Reads a credential file, trimmed; a failure names the setting and path, never content. */
  const readSecret = async (setting: string, path: string): Promise<string> => {
    let text: string;
    try {
      text = (await readFile(path)).trim();
    } catch (err) {
      throw VaultAuthFileUnreadable(name, setting, path, describeReadFailure(err));
    }
    if (!text) throw VaultAuthFileUnreadable(name, setting, path, 'the file is empty; put the credential in it');
    return text;
  };

  /**
   * The error of a failed login: Vault's own answer (the secret cut out if it was echoed), never the
   * request. A credential Vault refused is retriable too: it is read from its file at every login, and
   * a secret manager may destroy the old secret id before the mounted file shows the new one.
   */
  const loginError = (err: unknown, secret: string): JitError => {
    const classified = fail('login', err);
    const answer = classified.cause instanceof Error ? classified.cause.message : classified.code;
    const detail = secret.length >= 4 ? answer.split(secret).join('[redacted]') : answer;
    const mount = auth.method === 'token' ? 'token' : auth.mount;
    const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
    const refused = status === 400 || status === 401 || status === 403;
    if (refused) log.warn({ method: auth.method, mount, status }, 'vault refused the login credential read from its file; retried (a rotation in progress is picked up when the file changes)');
    return VaultLoginFailed(name, auth.method, mount, detail, { retriable: classified.retriable || refused });
  };

  const login = async (): Promise<Session> => {
    if (auth.method === 'token') throw new Error('unreachable: a static token is never logged in');
    let body: Record<string, string>;
    let secret: string;
    if (auth.method === 'approle') {
      secret = await readSecret('auth.secretIdFile', auth.secretIdFile);
      body = { role_id: auth.roleId, secret_id: secret };
    } else {
      secret = await readSecret('auth.jwtFile', auth.jwtFile);
      body = { role: auth.role, jwt: secret };
    }
    let r: any;
    try {
      r = await options.loginClient.write(`auth/${auth.mount}/login`, body);
    } catch (err) {
      throw loginError(err, secret);
    }
    const a = r?.auth;
    if (typeof a?.client_token !== 'string' || a.client_token === '') throw loginError(new Error('no token in the login answer'), secret);
    const ttl = seconds(a.lease_duration);
    const s: Session = { token: a.client_token, ttl, renewable: a.renewable === true, expiresAt: ttl ? now() + ttl * 1000 : Infinity };
    log.info({ method: auth.method, mount: auth.mount, accessor: a.accessor, ttlSeconds: ttl, renewable: s.renewable }, 'logged in to vault');
    emit({ type: 'login', method: auth.method, accessor: String(a.accessor ?? ''), expiresAt: s.expiresAt, renewable: s.renewable });
    return s;
  };

  /** One login at a time; on success the session is replaced and its renewal planned. */
  const loginOnce = (): Promise<Session> => {
    loggingIn ??= login()
      .then((s) => {
        const old = session;
        session = s;
        backoff = undefined;
        plan(s);
        if (old && old.token !== s.token) void revokeSelf(old.token);
        return s;
      })
      .finally(() => {
        loggingIn = undefined;
      });
    return loggingIn;
  };

  /** Background login: on failure keep the old token (while it lasts) and try again with backoff. */
  const relogin = async (): Promise<void> => {
    try {
      await loginOnce();
    } catch (err) {
      const error = err instanceof JitError ? err : fail('login', err);
      backoff = (backoff ?? backoffFactory).next(undefined);
      const retryInMs = backoff.duration;
      log.warn({ err: { code: error.code, message: error.message }, retryInMs }, 'vault login failed; trying again');
      emit({ type: 'login-failed', error, retryInMs });
      schedule(retryInMs, relogin);
    }
  };

  const renew = async (s: Session): Promise<void> => {
    if (session !== s) return; // replaced (a rotated static token): its own renewal is planned
    let r: any;
    try {
      r = await options.clientFor(s.token).write('auth/token/renew-self', {});
    } catch (err) {
      const error = fail('renew token', err);
      log.warn({ err: { code: error.code, message: error.message } }, auth.method === 'token' ? 'vault token renewal failed' : 'vault token renewal failed; logging in again');
      emit({ type: 'renew-failed', error });
      if (auth.method === 'token') {
        // A static token cannot be replaced: try again while it lives.
        if (s.expiresAt !== Infinity) schedule(Math.min(30_000, (s.expiresAt - now()) / 2), () => renew(s));
        return;
      }
      return relogin();
    }
    if (session !== s) return;
    const ttl = seconds(r?.auth?.lease_duration);
    // Vault caps a renewal at the token's max TTL: less than the TTL it started with means the end is near.
    const capped = ttl < s.ttl || r?.auth?.renewable === false;
    const next: Session = { ...s, expiresAt: ttl ? now() + ttl * 1000 : Infinity, renewable: r?.auth?.renewable !== false };
    session = next;
    emit({ type: 'renewed', expiresAt: next.expiresAt, capped });
    log.debug({ ttlSeconds: ttl, capped }, 'vault token renewed');
    if (!capped) return plan(next);
    if (auth.method === 'token') {
      log.warn({ expiresAt: new Date(next.expiresAt).toISOString() }, "jit's static vault token reached its max TTL and cannot be renewed further; configure AppRole or Kubernetes auth");
      return;
    }
    schedule((next.expiresAt - now()) * options.renewFraction, relogin);
  };

  /** What to do next for a fresh (or freshly renewed) session. */
  function plan(s: Session): void {
    if (s.expiresAt === Infinity) return;
    const delay = (s.expiresAt - now()) * options.renewFraction;
    if (s.renewable) schedule(delay, () => renew(s));
    else if (auth.method !== 'token') schedule(delay, relogin);
  }

  const revokeSelf = async (token: string): Promise<void> => {
    try {
      await options.clientFor(token).write('auth/token/revoke-self', {});
    } catch (err) {
      log.debug({ err: fail('revoke own token', err).message }, 'could not revoke a replaced vault token; it expires on its own');
    }
  };

  // A static token: learn its TTL once (background) so it is renewed and reported; a login method: log in now.
  /** A static token becomes the one in force: learned once in the background (its TTL), so it is renewed and reported. */
  const adopt = (token: string): Promise<unknown> => {
    const s0: Session = { token, expiresAt: Infinity, renewable: false, ttl: 0 };
    session = s0;
    return options
      .clientFor(token)
      .read('auth/token/lookup-self')
      .then((r) => {
        const d = r?.data ?? {};
        const ttl = seconds(d.ttl);
        if (session !== s0 || !ttl) return;
        session = { token, expiresAt: now() + ttl * 1000, renewable: d.renewable === true, ttl: seconds(d.creation_ttl) || ttl };
        plan(session);
      })
      .catch((err) => log.warn({ err: fail('lookup self', err).message }, "could not look up jit's vault token; its expiry is not reported"));
  };

  /** The static token now: from its file when it has one (a rotated token is adopted), else the configured one. */
  const staticToken = (): string => {
    if (auth.method !== 'token') throw new Error('unreachable: not a static token');
    const token = auth.live?.().trim() || auth.token;
    if (session?.token !== token && !closed) {
      if (session) log.info({}, "jit's vault token was rotated in its file; the new one is used from now on");
      void adopt(token);
    }
    return token;
  };

  /**
   * Vault refused a static token read from a file. A secret manager may revoke the old token before
   * the mounted file shows the new one (kubelet syncs a secret volume a minute or two later): the
   * file is read again, and while it still holds the refused token the call is retriable.
   */
  const staticRefused = async (token: string): Promise<boolean> => {
    if (staticToken() !== token) return true;
    try {
      await options.clientFor(token).read('auth/token/lookup-self');
      return false; // the token is fine: the call itself is denied
    } catch (err) {
      if ((err as { response?: { statusCode?: number } })?.response?.statusCode !== 403) return false;
    }
    if (staticToken() !== token) return true; // rotated meanwhile
    log.warn({}, "vault refused jit's token read from its file; retried (a rotation in progress is picked up when the file changes)");
    throw VaultCredentialRefused(name);
  };

  let started: Promise<unknown>;
  if (auth.method === 'token') {
    started = adopt(auth.live?.().trim() || auth.token);
  } else {
    started = relogin();
  }
  void started;

  const unreport = reportAuthExpiry(options.metrics, name, () => session?.expiresAt, now);

  return {
    async token() {
      const s = session;
      if (auth.method === 'token') return staticToken();
      if (s && s.expiresAt > now() + 1000) return s.token;
      return (await loginOnce()).token;
    },
    async refused(token) {
      if (closed) return false;
      if (auth.method === 'token') return auth.live ? staticRefused(token) : false;
      if (session && session.token !== token) return true; // already replaced
      try {
        await options.clientFor(token).read('auth/token/lookup-self');
        return false; // the token is fine: the call itself is denied
      } catch (err) {
        if ((err as { response?: { statusCode?: number } })?.response?.statusCode !== 403) return false;
      }
      log.warn({}, "vault no longer accepts jit's token; logging in again");
      await loginOnce();
      return true;
    },
    expiresAt: () => session?.expiresAt,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      unreport();
      await loggingIn?.catch(() => undefined);
      if (auth.method !== 'token' && session) await revokeSelf(session.token);
      session = undefined;
    },
  };
}
