// jit's connection to one Vault instance: a client per token jit holds, jit's own login (vault-auth.ts),
// every call made with the current token (a 403 because Vault no longer knows it logs in again and
// tries once more), and Vault's failures turned into secret-free catalogue errors.
import vaultFactory from 'node-vault';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import { classifySubstrateError, type SubstrateDeps } from '@jit/substrates';
import { VaultNotFound } from './errors';
import { scrub, statusOf } from './vault-answers';
import { createVaultAuth, type VaultAuth } from './vault-auth';
import type { VaultClientFactory, VaultClientLike, VaultClientOptions, VaultConfig, VaultDeps } from './vault-config';

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

/** What the index, issue, revoke and audit files of an instance share. */
export interface VaultContext {
  name: string;
  config: VaultConfig;
  log: Logger;
  now: () => Date;
  /** Calls with jit's current token (vault-session.ts). */
  client: VaultClientLike;
  /** A failed call as a secret-free JitError. */
  fail: (op: string, err: unknown) => JitError;
  /** Runs `fn`, failures through `fail`. */
  call: <T>(op: string, fn: () => Promise<T>) => Promise<T>;
  /** Mount of the database secrets engine. */
  mount: string;
  /** Names this deployment in token metadata and the index. */
  deployment: string;
}

/** The instance's context and jit's own login (closed with the instance). */
export function createVaultSession(config: VaultConfig, deps: SubstrateDeps & Partial<VaultDeps>): { ctx: VaultContext; auth: VaultAuth } {
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
  const fail = (op: string, err: unknown): JitError =>
    err instanceof JitError ? err : classifySubstrateError(name, op, scrub(err), (e) => (statusOf(e) === 404 ? VaultNotFound(name, op, { cause: e }) : undefined));

  const call = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw fail(op, err);
    }
  };

  const ctx: VaultContext = { name, config, log, now, client, fail, call, mount: config.databaseMount, deployment: config.deployment ?? config.tokenRole };
  return { ctx, auth };
}
