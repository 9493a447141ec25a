// jit's index of the accessors it created (`<indexMount>/data/jit/<deployment>/<instance>/<grant>/<accessor>`)
// and the revoked grants' markers (`.../revoked~/<grant>`): lookups that re-check each token's own
// metadata, the scan of one grant or of all, and revoke by accessor ("gone" counts as revoked).
import type { RevocationHandle } from '@jit/substrates';
import { isGoneAnswer, isVaultError, scrub, statusOf } from './vault-answers';
import { VAULT_KIND, grantKey, vaultIndexPath } from './vault-config';
import type { VaultContext } from './vault-session';

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

export interface TokenInfo {
  accessor: string;
  grantId: string;
  mode: 'token' | 'database';
  role?: string;
  expiresAt: string;
}

export function vaultIndex(ctx: VaultContext) {
  const { name, config, log, client, fail, deployment } = ctx;
  const index = `${config.indexMount}/metadata/${vaultIndexPath(config, name)}`;
  const indexEntry = (grantId: string, accessor: string) => `${config.indexMount}/data/${vaultIndexPath(config, name)}/${grantKey(grantId)}/${accessor}`;
  // A revoked grant's marker, in a folder of the index whose name ("revoked~") no scan walks (the
  // index's names are [A-Za-z0-9._-]): an issue of a grant revoked here is refused, so a replica that
  // lost its partition mid-issue and wakes after the revoke creates nothing that outlives the grant.
  const revokedEntry = (grantId: string) => `${config.indexMount}/data/${vaultIndexPath(config, name)}/revoked~/${grantKey(grantId)}`;

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

  return { index, indexEntry, revokedEntry, lookupAccessor, unindex, scan, revokeAccessor, wasRevoked, handleOf };
}
export type VaultIndex = ReturnType<typeof vaultIndex>;
