// issue: a token through the operator's token role (orphan, ttl = explicit_max_ttl = the grant's
// window), indexed at once; in database mode a per-grant carrier token reads the credential, so the
// lease dies with it. One issue per grant at a time in this process; a retry revokes what the grant got
// before; a revoked grant (its marker) is refused before and after the token exists.
import { SubstrateInvalidScope, SubstrateRejected, SubstrateTtlTooLong, grantWindow, type IssueRequest, type Issued } from '@jit/substrates';
import { VaultGrantRevoked } from './errors';
import type { VaultScope } from './vault-config';
import { grantKey } from './vault-config';
import type { VaultIndex } from './vault-index';
import { scopeProblems } from './vault-scope';
import type { VaultContext } from './vault-session';

export function vaultIssue(ctx: VaultContext, idx: VaultIndex, reachOf: (policies: string[]) => Promise<string[]>): (req: IssueRequest) => Promise<Issued> {
  const { name, config, log, now, client, fail, call, mount, deployment } = ctx;
  const { indexEntry, scan, revokeAccessor, wasRevoked, unindex, handleOf } = idx;
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

  return issue;
}
