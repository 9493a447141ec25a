// GCP IAM Credentials substrate: generateAccessToken for the scope's service account with
// lifetime = TTL. Access tokens cannot be revoked before they expire (canRevokeEarly = false), so
// the policy must not allow a TTL above maxTtlSeconds, and revoke records the decision only.
import { IAMCredentialsClient } from '@google-cloud/iam-credentials';
import { GoogleAuth, grpc, type CallOptions } from 'google-gax';
import { z } from 'zod';
import type { JitError } from '@jit/errors';
import {
  SubstrateDenied,
  SubstrateFailed,
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  SubstrateUnreachable,
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
import { GcpIamAlreadyIssued } from './errors';
import { InMemoryIssuedLedger, type IssuedLedger, type IssuedRecord } from './issued-ledger';
import { MINTING_SCOPES, fetchIamPermissionsApi, projectOfServiceAccount, type IamPermissionsApi } from './minting-audit';
import { gcpIamScopeSchema, isServiceAccountEmail, serviceAccountResource, validateGcpIamScope, type GcpIamScope } from './scope';

export const GCP_IAM_KIND = 'gcp-iam';
/** generateAccessToken's default ceiling. */
export const GCP_DEFAULT_MAX_TTL_SECONDS = 3600;
/** Ceiling with the org policy constraints/iam.allowServiceAccountCredentialLifetimeExtension. */
export const GCP_EXTENDED_MAX_TTL_SECONDS = 43_200;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
/** Lifetime of the token the policy audit mints to ask Google what the account may do. */
const AUDIT_TOKEN_SECONDS = 300;

const restBase = z
  .string()
  .url()
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname.replace(/^\[|\]$/g, '')));
  }, 'must be https (http is accepted for loopback hosts only)')
  .transform((u) => u.replace(/\/+$/, ''));

export const gcpIamConfigSchema = z.strictObject({
  /** The org allows tokens up to 12 h for these service accounts (org policy constraint above). */
  allowExtendedLifetime: z.boolean().default(false),
  /** Another gRPC endpoint (a private endpoint, or the local contract server in tests). */
  endpoint: z
    .strictObject({
      host: z.string().min(1).max(253),
      port: z.number().int().min(1).max(65_535),
      /** Plain-text gRPC without credentials: loopback hosts only. */
      insecure: z.boolean().default(false),
    })
    .refine((e) => !e.insecure || LOOPBACK.has(e.host), { message: 'insecure is allowed for loopback hosts only', path: ['insecure'] })
    .optional(),
  /**
   * Credentials file of the adapter's own identity: a workload identity federation configuration
   * (`type: external_account`, no key in it) or a service-account key. Default: Application Default
   * Credentials (GOOGLE_APPLICATION_CREDENTIALS, GKE Workload Identity's metadata server, gcloud).
   */
  keyFilename: z.string().min(1).optional(),
  projectId: z.string().min(1).max(64).optional(),
  /** Base URLs of the IAM and Resource Manager REST APIs (the policy audit's testIamPermissions); http only on loopback. */
  iamUrl: restBase.default('https://iam.googleapis.com'),
  resourceManagerUrl: restBase.default('https://cloudresourcemanager.googleapis.com'),
  /** Deadline of one generateAccessToken call; the service decides about retries. */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
});
export type GcpIamConfig = z.infer<typeof gcpIamConfigSchema>;

export interface GenerateAccessTokenRequest {
  name: string;
  scope: string[];
  delegates: string[];
  lifetime: { seconds: number };
}
export interface GenerateAccessTokenResponse {
  accessToken?: string | null;
  expireTime?: { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | null;
}
/** The slice of IAMCredentialsClient the adapter uses; fakes implement it too. */
export interface IamCredentialsApi {
  generateAccessToken(request: GenerateAccessTokenRequest, options?: CallOptions): Promise<[GenerateAccessTokenResponse, ...unknown[]]>;
  close(): Promise<void>;
}

export interface GcpIamExtra {
  /** Builds the IAM Credentials client (default: @google-cloud/iam-credentials over gRPC). */
  client: (config: GcpIamConfig) => IamCredentialsApi;
  /** Where issued grants are remembered (default: per-process memory). */
  ledger: IssuedLedger;
  /** The REST calls of the policy audit (default: fetch to iamUrl / resourceManagerUrl). */
  permissions: IamPermissionsApi;
  now: () => Date;
}

export interface GcpIamSubstrate extends Substrate {
  checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]>;
  verifyRevoked(handle: RevocationHandle): Promise<VerifyResult>;
  listIssued(): Promise<RevocationHandle[]>;
  close(): Promise<void>;
}

/**
 * The adapter's own Google identity: `keyFilename` (an external_account federation config or a key),
 * else Application Default Credentials. google-auth-library reads the file: for external_account it
 * exchanges the subject token (a file, URL or executable) at the STS `token_url` and, with
 * `service_account_impersonation_url`, impersonates the service account jit acts as.
 */
export function adapterAuth(config: Pick<GcpIamConfig, 'keyFilename' | 'projectId'>): GoogleAuth {
  return new GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    ...(config.keyFilename ? { keyFilename: config.keyFilename } : {}),
    ...(config.projectId ? { projectId: config.projectId } : {}),
  });
}

function defaultClient(config: GcpIamConfig): IamCredentialsApi {
  const e = config.endpoint;
  const client = new IAMCredentialsClient({
    ...(e ? { servicePath: e.host, apiEndpoint: e.host, port: e.port } : {}),
    // Plain-text loopback: no Google credentials at all, and no metadata-server lookup to find them.
    ...(e?.insecure ? { sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' } : { auth: adapterAuth(config) }),
    ...(config.projectId ? { projectId: config.projectId } : {}),
  });
  return client as unknown as IamCredentialsApi;
}

/** gRPC status -> catalogue error. The server's `details` text is not copied (it may echo input). */
function classifyGrpc(substrate: string, operation: string, err: unknown): JitError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'number') return undefined;
  const what = `${operation}: ${grpc.status[code] ?? `gRPC ${code}`}`;
  const opts = { cause: err };
  switch (code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return SubstrateUnreachable(substrate, what, opts);
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.ABORTED:
    case grpc.status.INTERNAL:
      return SubstrateUpstreamFailed(substrate, what, opts);
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return SubstrateDenied(substrate, what, opts);
    case grpc.status.NOT_FOUND:
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.UNIMPLEMENTED:
      return SubstrateRejected(substrate, what, opts);
    default:
      return SubstrateFailed(substrate, what, opts);
  }
}

/** The cause we keep: gRPC status (or network code), never the server's `details` or metadata. */
function scrub(err: unknown): Error {
  const e = (err ?? {}) as { code?: unknown; name?: unknown };
  const label = typeof e.code === 'number' ? `gRPC ${grpc.status[e.code] ?? e.code}` : `gcp client ${String(e.code ?? e.name ?? 'error')}`;
  return Object.assign(new Error(label), typeof e.code === 'number' || typeof e.code === 'string' ? { code: e.code } : {});
}

function timestampToDate(t: GenerateAccessTokenResponse['expireTime']): Date | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  const seconds = Number(String(t.seconds));
  if (!Number.isFinite(seconds)) return undefined;
  const d = new Date(seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const handleRefSchema = z.object({
  serviceAccount: z.string().refine(isServiceAccountEmail),
  expireTime: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
});

/** A token's longest lifetime: 1 h, or 12 h where the organisation allows extended lifetimes. */
function gcpMaxTtlSeconds(config: Partial<Pick<GcpIamConfig, 'allowExtendedLifetime'>>): number {
  return config.allowExtendedLifetime ? GCP_EXTENDED_MAX_TTL_SECONDS : GCP_DEFAULT_MAX_TTL_SECONDS;
}
export function createGcpIamSubstrate(config: GcpIamConfig, deps: SubstrateDeps & Partial<GcpIamExtra>): GcpIamSubstrate {
  const name = deps.name;
  const log = deps.logger;
  const now = deps.now ?? (() => new Date());
  const ledger = deps.ledger ?? new InMemoryIssuedLedger();
  const client = (deps.client ?? defaultClient)(config);
  const maxTtlSeconds = gcpMaxTtlSeconds(config);
  const permissionsApi = deps.permissions ?? fetchIamPermissionsApi({ iam: config.iamUrl, resourcemanager: config.resourceManagerUrl, timeoutMs: config.timeoutMs });

  /**
   * Which credential-minting permissions the scope's service account holds where its OAuth scopes
   * let a token use them. Asked as the account itself: jit mints a short audit token (it never
   * leaves this process) and calls testIamPermissions on the account's project (a grant there
   * covers every account in it) and on the account itself.
   */
  async function checkMinting(scope: GcpIamScope): Promise<Finding[]> {
    const reachable = [...new Set(scope.scopes.flatMap((s) => MINTING_SCOPES[s] ?? []))];
    if (reachable.length === 0) {
      return [{ severity: 'info', message: `${name}: ${scope.serviceAccount} with scopes ${scope.scopes.join(' ')}: none of them reaches the IAM APIs, so the token cannot mint more credentials` }];
    }
    let audit: string;
    try {
      const [r] = await client.generateAccessToken(
        {
          name: serviceAccountResource(scope.serviceAccount),
          scope: ['https://www.googleapis.com/auth/cloud-platform'],
          delegates: (scope.delegates ?? []).map(serviceAccountResource),
          lifetime: { seconds: AUDIT_TOKEN_SECONDS },
        },
        { timeout: config.timeoutMs, retry: null },
      );
      if (typeof r?.accessToken !== 'string' || !r.accessToken) throw SubstrateFailed(name, 'audit token: the answer lacked accessToken');
      audit = r.accessToken;
    } catch (err) {
      throw classifySubstrateError(name, 'audit token', scrub(err), (e) => classifyGrpc(name, 'audit token', e));
    }
    const project = projectOfServiceAccount(scope.serviceAccount) ?? config.projectId;
    const where: Array<{ api: 'resourcemanager' | 'iam'; resource: string; label: string }> = [
      ...(project ? [{ api: 'resourcemanager' as const, resource: `projects/${project}`, label: `project ${project} (every service account in it)` }] : []),
      { api: 'iam', resource: serviceAccountResource(scope.serviceAccount), label: 'itself' },
    ];
    const findings: Finding[] = [];
    for (const w of where) {
      let held: string[];
      try {
        held = (await permissionsApi.testIamPermissions(w.api, w.resource, reachable, audit)).filter((p) => reachable.includes(p));
      } catch (err) {
        throw classifySubstrateError(name, `testIamPermissions on ${w.resource}`, err);
      }
      if (held.length > 0) {
        findings.push({
          severity: 'error',
          message:
            `${name}: ${scope.serviceAccount} holds ${held.join(', ')} on ${w.label}, and the scope's OAuth scopes (${scope.scopes.filter((s) => MINTING_SCOPES[s]).join(' ')}) let its token use them: ` +
            'the grantee can mint tokens, signed JWTs or keys that outlive the grant (a key never expires, and GCP tokens cannot be revoked). Remove those permissions from the account, or use product scopes (e.g. devstorage.read_write, bigquery) instead of cloud-platform/iam',
        });
      }
    }
    if (!project) {
      findings.push({ severity: 'warning', message: `${name}: cannot tell the project of ${scope.serviceAccount}; set projectId so project-wide grants are checked too` });
    }
    if (findings.length === 0) {
      findings.push({ severity: 'info', message: `${name}: ${scope.serviceAccount} holds none of ${reachable.join(', ')} on ${where.map((w) => w.label).join(' or ')}` });
    }
    return findings;
  }

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
