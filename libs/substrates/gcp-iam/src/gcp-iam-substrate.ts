// GCP IAM Credentials substrate: generateAccessToken for the scope's service account with
// lifetime = TTL. Access tokens cannot be revoked before they expire (canRevokeEarly = false), so
// the policy must not allow a TTL above maxTtlSeconds, and revoke records the decision only.
// This file composes the instance (issue, revoke, listIssued, checkTtl); README.md says which file owns what.
import { z } from 'zod';
import {
  SubstrateFailed,
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  classifySubstrateError,
  defineSubstrate,
  grantWindow,
  type Finding,
  type IssueRequest,
  type Issued,
  type Problem,
  type RevocationHandle,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import { GcpIamAlreadyIssued } from './errors';
import { GCP_IAM_KIND, gcpIamConfigSchema, gcpMaxTtlSeconds, type GcpIamConfig, type GcpIamExtra, type GcpIamSubstrate, type GenerateAccessTokenResponse } from './gcp-iam-config';
import { classifyGrpc, defaultClient, scrub, timestampToDate } from './gcp-grpc';
import { InMemoryIssuedLedger, type IssuedRecord } from './issued-ledger';
import { fetchIamPermissionsApi } from './minting-audit';
import { mintingCheck } from './minting-check';
import { gcpIamScopeSchema, isServiceAccountEmail, serviceAccountResource, validateGcpIamScope } from './scope';

const handleRefSchema = z.object({
  serviceAccount: z.string().refine(isServiceAccountEmail),
  expireTime: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
});

export function createGcpIamSubstrate(config: GcpIamConfig, deps: SubstrateDeps & Partial<GcpIamExtra>): GcpIamSubstrate {
  const name = deps.name;
  const log = deps.logger;
  const now = deps.now ?? (() => new Date());
  const ledger = deps.ledger ?? new InMemoryIssuedLedger();
  const client = (deps.client ?? defaultClient)(config);
  const maxTtlSeconds = gcpMaxTtlSeconds(config);
  const permissionsApi = deps.permissions ?? fetchIamPermissionsApi({ iam: config.iamUrl, resourcemanager: config.resourceManagerUrl, timeoutMs: config.timeoutMs });
  const checkMinting = mintingCheck(name, config, client, permissionsApi);

  const checkHandle = (handle: RevocationHandle): z.infer<typeof handleRefSchema> => {
    if (!handle || typeof handle !== 'object') throw SubstrateInvalidHandle(name, 'not an object');
    if (handle.kind !== GCP_IAM_KIND) throw SubstrateInvalidHandle(name, `kind is ${String(handle.kind).slice(0, 40)}, expected ${GCP_IAM_KIND}`);
    if (typeof handle.grantId !== 'string' || handle.grantId.length === 0) throw SubstrateInvalidHandle(name, 'grantId is missing');
    const parsed = handleRefSchema.safeParse(handle.ref);
    if (!parsed.success) {
      throw SubstrateInvalidHandle(name, `ref fields missing or malformed: ${[...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'ref'))].join(', ')}`);
    }
    return parsed.data;
  };

  const toHandle = (r: IssuedRecord): RevocationHandle => ({
    kind: GCP_IAM_KIND,
    ...(name !== GCP_IAM_KIND ? { instance: name } : {}),
    grantId: r.grantId,
    ref: { serviceAccount: r.serviceAccount, scopes: r.scopes.join(' '), expireTime: r.expiresAt.toISOString() },
    expiresAt: r.expiresAt.toISOString(),
  });

  /** Forget grants whose token expired more than a day ago (bounded memory). */
  const prune = (): void => {
    const horizon = now().getTime() - 86_400_000;
    for (const r of ledger.list()) if (r.expiresAt.getTime() < horizon) ledger.delete(r.grantId);
  };

  return {
    kind: GCP_IAM_KIND,
    name,
    maxTtlSeconds,
    canRevokeEarly: false,

    validateScope(scope: unknown): Problem[] {
      return validateGcpIamScope(scope);
    },

    async issue(req: IssueRequest): Promise<Issued> {
      if (typeof req?.grantId !== 'string' || req.grantId.length === 0 || req.grantId.length > 256) {
        throw SubstrateRejected(name, 'grantId must be a non-empty string of at most 256 characters');
      }
      if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1) throw SubstrateRejected(name, 'ttlSeconds must be a positive integer');
      if (req.ttlSeconds > maxTtlSeconds) throw SubstrateTtlTooLong(name, req.ttlSeconds, maxTtlSeconds);
      const problems = validateGcpIamScope(req.scope);
      if (problems.length > 0) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path || '(scope)'}: ${p.message}`).join('; '));
      const scope = gcpIamScopeSchema.parse(req.scope);
      // The token's lifetime never reaches past the grant's expiry: a token cannot be revoked, so one
      // minted late (a replica that lost its partition) dies with the grant, and none after it.
      const window = grantWindow(name, req, now());

      prune();
      const existing = ledger.get(req.grantId);
      if (existing) {
        throw GcpIamAlreadyIssued(req.grantId, `${existing.state}, token expires ${existing.expiresAt.toISOString()}`);
      }
      // Reserve first so a concurrent duplicate is refused; released if the call fails.
      const pending: IssuedRecord = {
        grantId: req.grantId,
        serviceAccount: scope.serviceAccount,
        scopes: scope.scopes,
        expiresAt: window.expiresAt,
        state: 'pending',
      };
      ledger.put(pending);
      let response: GenerateAccessTokenResponse;
      try {
        [response] = await client.generateAccessToken(
          {
            name: serviceAccountResource(scope.serviceAccount),
            scope: scope.scopes,
            delegates: (scope.delegates ?? []).map(serviceAccountResource),
            lifetime: { seconds: window.seconds },
          },
          // gax would retry UNAVAILABLE for up to 10 min; the issuer owns retries, so: one attempt.
          { timeout: config.timeoutMs, retry: null },
        );
      } catch (err) {
        ledger.delete(req.grantId);
        throw classifySubstrateError(name, 'generate access token', scrub(err), (e) => classifyGrpc(name, 'generate access token', e));
      }
      const token = response?.accessToken;
      const expiresAt = timestampToDate(response?.expireTime);
      if (typeof token !== 'string' || token.length === 0 || !expiresAt) {
        // A token may have been minted; keep the reservation so a retry cannot mint a second one.
        ledger.put({ ...pending, state: 'issued' });
        throw SubstrateFailed(name, 'generate access token: the answer lacked accessToken or expireTime');
      }
      const record: IssuedRecord = { ...pending, expiresAt, state: 'issued' };
      ledger.put(record);
      log.info({ grantId: req.grantId, serviceAccount: scope.serviceAccount, expiresAt: expiresAt.toISOString() }, 'gcp access token issued');
      const handle = toHandle(record);
      return { secret: { GOOGLE_OAUTH_ACCESS_TOKEN: token }, handle, expiresAt: handle.expiresAt };
    },

    async revoke(handle: RevocationHandle): Promise<void> {
      const ref = checkHandle(handle);
      const expiresAt = new Date(ref.expireTime);
      const r = ledger.get(handle.grantId);
      ledger.put({
        grantId: handle.grantId,
        serviceAccount: r?.serviceAccount ?? ref.serviceAccount,
        scopes:
          r?.scopes ??
          String(handle.ref.scopes ?? '')
            .split(' ')
            .filter(Boolean),
        expiresAt: new Date(Math.max(expiresAt.getTime(), r?.expiresAt.getTime() ?? 0)),
        state: 'revoked',
      });
      log.info({ grantId: handle.grantId, serviceAccount: ref.serviceAccount, expiresAt: ref.expireTime }, 'gcp access tokens cannot be revoked early; recorded, it ends at its natural expiry');
    },

    async verifyRevoked(handle: RevocationHandle): Promise<VerifyResult> {
      const ref = checkHandle(handle);
      const end = Math.max(Date.parse(ref.expireTime), ledger.get(handle.grantId)?.expiresAt.getTime() ?? 0);
      if (now().getTime() >= end) return { verified: true, detail: 'the access token reached its natural expiry' };
      return { verified: false, detail: `GCP access tokens cannot be revoked early; this one works until ${new Date(end).toISOString()}` };
    },

    async listIssued(): Promise<RevocationHandle[]> {
      const t = now().getTime();
      return ledger
        .list()
        .filter((r) => r.state === 'issued' && r.expiresAt.getTime() > t)
        .map(toHandle);
    },

    async checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]> {
      const problems = validateGcpIamScope(scope);
      if (problems.length > 0) return problems.map((p) => ({ severity: 'error' as const, message: `${p.path || '(scope)'}: ${p.message}` }));
      const s = gcpIamScopeSchema.parse(scope);
      const findings = await checkMinting(s);
      if (ceilingSeconds > maxTtlSeconds) {
        findings.push({ severity: 'info', message: `${name}: the tier allows ${ceilingSeconds}s but GCP tokens last at most ${maxTtlSeconds}s here; longer requests are refused at issue` });
      }
      return findings;
    },

    async close(): Promise<void> {
      await client.close();
    },
  };
}

/** The registration: `registry.register(gcpIamSubstrate)`, then `configure('gcp-iam:prod', {...})`. */
export const gcpIamSubstrate = defineSubstrate<GcpIamConfig, GcpIamExtra>({
  kind: GCP_IAM_KIND,
  configSchema: gcpIamConfigSchema as unknown as z.ZodType<GcpIamConfig>,
  credentialFiles: (c) => (c.keyFilename ? [{ setting: 'keyFilename', path: c.keyFilename }] : []),
  facts: (c) => ({ validateScope: validateGcpIamScope, maxTtlSeconds: gcpMaxTtlSeconds(c) }),
  create: createGcpIamSubstrate,
});
