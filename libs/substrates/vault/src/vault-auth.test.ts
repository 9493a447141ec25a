import { describe, expect, it } from 'vitest';
import { createLogger, createRegistry } from '@jit/observability';
import { JitError } from '@jit/errors';
import { createVaultAuth, type VaultAuthClient, type VaultAuthEvent } from './vault-auth';
import { vaultConfigSchema } from './vault-config';

const logger = createLogger({ name: 'vault-auth-unit', level: 'silent' });
const vaultError = (status: number, errors: string[]) => Object.assign(new Error(`Status ${status}`), { response: { statusCode: status, body: { errors } } });
const fail = (op: string, err: unknown) =>
  new JitError('JIT_ERR_SUBSTRATE_REJECTED', `${op} failed`, {
    cause: new Error(`vault HTTP 400: ${(err as { response?: { body?: { errors?: string[] } } }).response?.body?.errors?.join('; ') ?? ''}`),
  });

function client(answer: (path: string, data?: unknown) => unknown): VaultAuthClient {
  const run = async (path: string, data?: unknown) => {
    const r = answer(path, data);
    if (r instanceof Error) throw r;
    return r;
  };
  return { read: (p) => run(p), write: (p, d) => run(p, d) };
}

describe('vault auth (unit)', () => {
  it('cuts the secret id out of a Vault answer that echoes it', async () => {
    const secret = 'e1c2a3b4-SECRET-ID-0001';
    const auth = createVaultAuth({
      name: 'vault',
      auth: { method: 'approle', mount: 'approle', roleId: 'r', secretIdFile: '/run/secret-id' },
      loginClient: client(() => vaultError(400, [`invalid secret_id "${secret}"`])),
      clientFor: () => client(() => ({})),
      renewFraction: 0.5,
      logger,
      fail,
      readFile: async () => `${secret}\n`,
      retryInitialMs: 60_000,
    });
    const err = await auth.token().then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e as JitError,
    );
    await auth.close();
    expect(err).toMatchObject({ code: 'JIT_ERR_VAULT_LOGIN_FAILED' });
    expect(err.message).toContain('[redacted]');
    expect(JSON.stringify({ m: err.message, c: String(err.cause), j: err })).not.toContain(secret);
  });

  it('renews a static token whose lookup shows a TTL and reports its expiry; never logs in', async () => {
    const events: VaultAuthEvent[] = [];
    const registry = createRegistry();
    const paths: string[] = [];
    const auth = createVaultAuth({
      name: 'vault:static',
      auth: { method: 'token', token: 'hvs.static' },
      loginClient: client((p) => (paths.push(`login ${p}`), new Error('no login'))),
      clientFor: () =>
        client((p) => {
          paths.push(p);
          if (p === 'auth/token/lookup-self') return { data: { ttl: 1, creation_ttl: 1, renewable: true } };
          if (p === 'auth/token/renew-self') return { auth: { lease_duration: 1, renewable: true } };
          return {};
        }),
      renewFraction: 0.2,
      logger,
      metrics: registry,
      fail,
      onEvent: (e) => events.push(e),
    });
    try {
      await expect.poll(() => events.some((e) => e.type === 'renewed'), { timeout: 5000 }).toBe(true);
      const sample = (await registry.getSingleMetric('jit_substrate_auth_expires_seconds')!.get()).values[0];
      expect(sample?.labels).toEqual({ substrate: 'vault:static' });
      expect(sample?.value).toBeGreaterThan(0);
      expect(sample?.value).toBeLessThanOrEqual(1);
      expect(await auth.token()).toBe('hvs.static');
      expect(paths.some((p) => p.startsWith('login'))).toBe(false);
    } finally {
      await auth.close();
    }
    // closed: no sample any more
    expect((await registry.getSingleMetric('jit_substrate_auth_expires_seconds')!.get()).values).toEqual([]);
  });
});

describe('vault auth settings', () => {
  it('refuses both a token and a login method, and neither, with a stable code and no value', () => {
    const both = vaultConfigSchema.safeParse({ addr: 'http://127.0.0.1:8200', token: 'hvs.VALUE', auth: { method: 'kubernetes', role: 'jit' }, tokenRole: 'jit' });
    expect(both.success).toBe(false);
    expect(both.error!.issues.map((i) => i.message).join()).toContain('JIT_ERR_VAULT_AUTH_CONFLICT');
    const neither = vaultConfigSchema.safeParse({ addr: 'http://127.0.0.1:8200', tokenRole: 'jit' });
    expect(neither.error!.issues.map((i) => i.message).join()).toContain('JIT_ERR_VAULT_AUTH_CONFLICT');
  });

  it('defaults the Kubernetes token file and the mounts, and wants absolute file paths', () => {
    const k = vaultConfigSchema.parse({ addr: 'http://127.0.0.1:8200', auth: { method: 'kubernetes', role: 'jit' }, tokenRole: 'jit' });
    expect(k.auth).toEqual({ method: 'kubernetes', mount: 'kubernetes', role: 'jit', jwtFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    expect(k.renewFraction).toBe(0.5);
    const rel = vaultConfigSchema.safeParse({ addr: 'http://127.0.0.1:8200', auth: { method: 'approle', roleId: 'r', secretIdFile: 'secret-id' }, tokenRole: 'jit' });
    expect(rel.success).toBe(false);
  });
});
