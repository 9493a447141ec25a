// revoke: the accessor must belong to the handle's grant; the revoked marker first (a late issue is
// refused), then the lease and the token, and every other credential of the grant. Also what proves a
// revoke (verifyRevoked) and what the orphan sweep finds (listIssued).
import { SubstrateInvalidHandle, SubstrateUpstreamFailed, type RevocationHandle, type VerifyResult } from '@jit/substrates';
import { isGoneAnswer, isVaultError, scrub } from './vault-answers';
import { NAME, VAULT_KIND, grantKey } from './vault-config';
import type { VaultIndex } from './vault-index';
import type { VaultContext } from './vault-session';

export function vaultRevoke(ctx: VaultContext, idx: VaultIndex) {
  const { name, log, now, client, fail, mount } = ctx;
  const { lookupAccessor, revokedEntry, revokeAccessor, unindex, scan, handleOf } = idx;
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

  return { revoke, verifyRevoked, listIssued };
}
