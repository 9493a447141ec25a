// gcp-iam-contract-server: a FAKE of google.iam.credentials.v1.IAMCredentials for tests. It is not
// Google: it serves the published proto (shipped in @google-cloud/iam-credentials) over real gRPC
// on 127.0.0.1 and implements GenerateAccessToken's documented request/response contract:
//   - name must be `projects/-/serviceAccounts/<email or unique id>` (the `-` is required),
//   - at least one scope, lifetime 1..3600 s (default 3600; up to 43200 s for service accounts
//     marked as covered by constraints/iam.allowServiceAccountCredentialLifetimeExtension),
//   - NOT_FOUND for an unknown service account or delegate, PERMISSION_DENIED when the caller may
//     not mint tokens for it, INVALID_ARGUMENT for malformed input,
// and answers `{ accessToken, expireTime }`. It also says whether a token it minted is still live,
// which Google does not offer this way: that is the stand-in for "use the token against an API".
// Over HTTP (`restUrl`) it serves the published REST shape of testIamPermissions, called with a token
// it minted (the caller is that token's service account):
//   POST /v1/projects/{project}:testIamPermissions                      (Resource Manager v1)
//   POST /v1/projects/{project|-}/serviceAccounts/{email}:testIamPermissions (IAM v1)
// body `{ permissions: [...] }` (no wildcards) -> `{ permissions: [the subset held] }`, `{}` when none;
// 401 UNAUTHENTICATED without a live token, 403 PERMISSION_DENIED "insufficient authentication
// scopes" when the token's OAuth scopes do not cover the API (IAM: iam, cloud-platform; Resource
// Manager: cloud-platform(.read-only), cloudplatformprojects(.readonly), iam.test), 404 for an unknown
// service account. Google's error body: `{ error: { code, message, status } }`.
// With `federation` it also serves workload identity federation as an external_account credentials
// file drives it (google-auth-library's IdentityPoolClient):
//   POST /v1/token  (Security Token Service, RFC 8693 token exchange, form-encoded): the subject
//        token is checked by the test's `verify` (the pool provider's issuer/keys) and the audience
//        against the pool provider's; answers `{ access_token, issued_token_type, token_type, expires_in }`
//        or `{ error: 'invalid_grant' | 'invalid_request' | 'unsupported_grant_type', error_description }`.
//   POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken  (IAM Credentials REST), called
//        with a federated token whose principal the service account lists in `impersonators`;
//        body `{ scope, lifetime: '3600s' }` -> `{ accessToken, expireTime }` (RFC 3339).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GrpcClient, grpc } from 'google-gax';

export interface ContractServiceAccount {
  email: string;
  uniqueId?: string;
  /** The caller holds roles/iam.serviceAccountTokenCreator on it (default true). */
  tokenCreator?: boolean;
  /** Covered by the lifetime-extension org policy (lifetime up to 43200 s). */
  extendedLifetime?: boolean;
  /** Federated principals (what `federation.verify` returns) that may mint its tokens (roles/iam.workloadIdentityUser). */
  impersonators?: string[];
  /** What this account may do, by resource (`projects/<id>`, `projects/-/serviceAccounts/<email>`): testIamPermissions answers from it. */
  holds?: Record<string, string[]>;
}

export interface RecordedRestRequest {
  path: string;
  permissions: string[];
  /** The service account whose token made the call (undefined: no live token). */
  caller?: string;
}

export interface MintedToken {
  serviceAccount: string;
  scopes: string[];
  delegates: string[];
  expiresAt: Date;
}

export interface RecordedRequest {
  name: string;
  scope: string[];
  delegates: string[];
  lifetime?: { seconds: string | number; nanos?: number };
}

export interface ContractFederation {
  /** The pool provider's audience (`//iam.googleapis.com/projects/<n>/locations/global/workloadIdentityPools/<pool>/providers/<p>`). */
  audience: string;
  /** The provider's check of a subject token: its principal, or undefined when the token is not trusted. */
  verify(subjectToken: string): Promise<string | undefined>;
}

export interface GcpIamContractServerOptions {
  serviceAccounts?: ContractServiceAccount[];
  /** Serve STS token exchange and REST impersonation for this workload identity pool provider. */
  federation?: ContractFederation;
  /** Clock for expireTime and liveness (tests). */
  now?: () => Date;
}

type Fault = { code: grpc.status; details: string } | { hang: true };

const NAME_RE = /^projects\/([^/]+)\/serviceAccounts\/([^/]+)$/;

function protoDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@google-cloud/iam-credentials/package.json')), 'build', 'protos');
}

export class GcpIamContractServer {
  readonly requests: RecordedRequest[] = [];
  readonly restRequests: RecordedRestRequest[] = [];
  /** Federated tokens the STS issued: principal per token. */
  private readonly federated = new Map<string, { principal: string; expiresAt: Date }>();
  /** Token exchanges the STS answered (audience and whether the subject token was trusted; never the token). */
  readonly exchanges: Array<{ audience: string; principal?: string }> = [];
  private readonly federation: ContractFederation | undefined;
  private readonly accounts = new Map<string, ContractServiceAccount>();
  private readonly tokens = new Map<string, MintedToken>();
  private readonly faults: Fault[] = [];
  private readonly now: () => Date;
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private http: Server | undefined;
  private restBase = '';

  constructor(options: GcpIamContractServerOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.federation = options.federation;
    for (const sa of options.serviceAccounts ?? []) this.addServiceAccount(sa);
  }

  get port(): number {
    return this.boundPort;
  }

  /** Base URL of the REST surface (testIamPermissions of IAM and Resource Manager), e.g. http://127.0.0.1:1234. */
  get restUrl(): string {
    return this.restBase;
  }

  addServiceAccount(sa: ContractServiceAccount): void {
    this.accounts.set(sa.email, sa);
    if (sa.uniqueId) this.accounts.set(sa.uniqueId, sa);
  }

  /** The next call fails with this status (or never answers, to trip the client deadline). */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Who a live token belongs to; undefined when unknown or expired. */
  tokenInfo(token: string | undefined): MintedToken | undefined {
    const t = token === undefined ? undefined : this.tokens.get(token);
    return t && t.expiresAt.getTime() > this.now().getTime() ? t : undefined;
  }

  async start(): Promise<number> {
    const pkg = new GrpcClient({ grpc }).loadProto(protoDir(), 'google/iam/credentials/v1/iamcredentials.proto') as any;
    const service = pkg.google.iam.credentials.v1.IAMCredentials.service as grpc.ServiceDefinition;
    const server = new grpc.Server();
    const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb({ code: grpc.status.UNIMPLEMENTED, details: 'not implemented by gcp-iam-contract-server' } as grpc.ServiceError, null);
    server.addService(service, {
      GenerateAccessToken: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => this.generateAccessToken(call, cb),
      GenerateIdToken: unimplemented,
      SignBlob: unimplemented,
      SignJwt: unimplemented,
    });
    this.boundPort = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    this.server = server;
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const method = req.method ?? '';
        const url = req.url ?? '';
        const authorization = String(req.headers.authorization ?? '');
        const text = Buffer.concat(chunks).toString('utf8');
        void this.federationRest(method, url, authorization, text)
          .then((fed) => fed ?? this.rest(method, url, authorization, text))
          .then((out) => res.writeHead(out.status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(out.body)));
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    this.http = http;
    this.restBase = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
    const h = this.http;
    this.http = undefined;
    if (h) await new Promise<void>((resolve) => h.close(() => resolve()));
  }

  /** STS and REST impersonation (workload identity federation); undefined for every other path. */
  private async federationRest(method: string, url: string, authorization: string, text: string): Promise<{ status: number; body: unknown } | undefined> {
    const fed = this.federation;
    const path = decodeURIComponent(url.split('?')[0] ?? '');
    if (!fed || method !== 'POST') return undefined;
    if (path === '/v1/token') {
      const oauthError = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });
      const form = new URLSearchParams(text);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange')
        return oauthError('unsupported_grant_type', 'grant_type must be urn:ietf:params:oauth:grant-type:token-exchange');
      if (form.get('requested_token_type') !== 'urn:ietf:params:oauth:token-type:access_token')
        return oauthError('invalid_request', 'requested_token_type must be urn:ietf:params:oauth:token-type:access_token');
      const type = form.get('subject_token_type') ?? '';
      if (!['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'].includes(type)) return oauthError('invalid_request', 'Invalid subject_token_type');
      const audience = form.get('audience') ?? '';
      if (audience !== fed.audience) {
        this.exchanges.push({ audience });
        return oauthError('invalid_target', 'The target service indicated by the "audience" parameters is invalid.');
      }
      const principal = await fed.verify(form.get('subject_token') ?? '').catch(() => undefined);
      this.exchanges.push({ audience, ...(principal ? { principal } : {}) });
      if (!principal) return oauthError('invalid_grant', 'The subject token could not be verified.');
      const token = `ya29.fed-${randomBytes(24).toString('base64url')}`;
      this.federated.set(token, { principal, expiresAt: new Date(this.now().getTime() + 3600_000) });
      return { status: 200, body: { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 } };
    }
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    if (!m) return undefined;
    const error = (code: number, status: string, message: string) => ({ status: code, body: { error: { code, message, status } } });
    const bearer = /^Bearer (\S+)$/.exec(authorization)?.[1];
    const caller = bearer === undefined ? undefined : this.federated.get(bearer);
    if (!caller || caller.expiresAt.getTime() <= this.now().getTime()) {
      return error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    const sa = this.accounts.get(m[1] as string);
    if (!sa) return error(404, 'NOT_FOUND', 'Not found; service account does not exist');
    if (!(sa.impersonators ?? []).includes(caller.principal)) {
      return error(403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    }
    let body: { scope?: unknown; lifetime?: unknown };
    try {
      body = JSON.parse(text || '{}') as typeof body;
    } catch {
      return error(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const scopes = Array.isArray(body.scope) ? body.scope.map(String) : [];
    if (scopes.length === 0) return error(400, 'INVALID_ARGUMENT', 'at least one scope is required');
    const seconds = typeof body.lifetime === 'string' && /^\d+s$/.test(body.lifetime) ? Number(body.lifetime.slice(0, -1)) : 3600;
    if (seconds < 1 || seconds > 3600) return error(400, 'INVALID_ARGUMENT', 'lifetime must be between 1s and 3600s');
    const expiresAt = new Date(Math.floor((this.now().getTime() + seconds * 1000) / 1000) * 1000);
    const accessToken = `ya29.fake-${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { serviceAccount: sa.email, scopes, delegates: [], expiresAt });
    return { status: 200, body: { accessToken, expireTime: expiresAt.toISOString() } };
  }

  private rest(method: string, url: string, authorization: string, text: string): { status: number; body: unknown } {
    const error = (code: number, status: string, message: string) => ({ status: code, body: { error: { code, message, status } } });
    const path = decodeURIComponent(url.split('?')[0] ?? '');
    const project = /^\/v1\/(projects\/[^/:]+):testIamPermissions$/.exec(path);
    const account = /^\/v1\/(projects\/[^/]+\/serviceAccounts\/[^/:]+):testIamPermissions$/.exec(path);
    if (method !== 'POST' || (!project && !account)) return error(404, 'NOT_FOUND', `The requested URL ${path.slice(0, 100)} was not found on this server.`);
    let permissions: unknown;
    try {
      permissions = (JSON.parse(text || '{}') as { permissions?: unknown }).permissions ?? [];
    } catch {
      return error(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const token = /^Bearer (\S+)$/.exec(authorization)?.[1];
    const caller = this.tokenInfo(token);
    this.restRequests.push({ path, permissions: Array.isArray(permissions) ? permissions.map(String) : [], ...(caller ? { caller: caller.serviceAccount } : {}) });
    if (!caller) {
      return error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    const auth = 'https://www.googleapis.com/auth/';
    const accepted = account ? ['iam', 'cloud-platform'] : ['cloud-platform', 'cloud-platform.read-only', 'cloudplatformprojects', 'cloudplatformprojects.readonly', 'iam.test'];
    if (!caller.scopes.some((s) => accepted.some((a) => s === `${auth}${a}`))) return error(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
    if (!Array.isArray(permissions) || permissions.some((p) => typeof p !== 'string' || p.includes('*'))) {
      return error(400, 'INVALID_ARGUMENT', 'Permissions with wildcards (such as * or storage.*) are not allowed.');
    }
    let resource = (project ?? account)![1] as string;
    if (account) {
      const email = resource.split('/').at(-1) as string;
      const sa = this.accounts.get(email);
      if (!sa) return error(404, 'NOT_FOUND', `Unknown service account`);
      resource = `projects/-/serviceAccounts/${sa.email}`;
    }
    const held = new Set(this.accounts.get(caller.serviceAccount)?.holds?.[resource] ?? []);
    const granted = (permissions as string[]).filter((p) => held.has(p));
    return { status: 200, body: granted.length > 0 ? { permissions: granted } : {} };
  }

  private fail(cb: grpc.sendUnaryData<unknown>, code: grpc.status, details: string): void {
    cb({ code, details, name: 'Error', message: details, metadata: new grpc.Metadata() } as grpc.ServiceError, null);
  }

  private resolveAccount(resource: string, field: string, cb: grpc.sendUnaryData<unknown>): ContractServiceAccount | undefined {
    const m = NAME_RE.exec(resource);
    if (!m) {
      this.fail(cb, grpc.status.INVALID_ARGUMENT, `${field} must be of the form projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}`);
      return undefined;
    }
    if (m[1] !== '-') {
      this.fail(cb, grpc.status.INVALID_ARGUMENT, `${field}: the - wildcard character is required; replacing it with a project ID is invalid`);
      return undefined;
    }
    const sa = this.accounts.get(m[2] as string);
    if (!sa) this.fail(cb, grpc.status.NOT_FOUND, `Not found; service account ${m[2]} does not exist`);
    return sa;
  }

  private generateAccessToken(call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>): void {
    const req = call.request as { name?: string; scope?: string[]; delegates?: string[]; lifetime?: { seconds?: string | number; nanos?: number } | null };
    this.requests.push({
      name: String(req.name ?? ''),
      scope: [...(req.scope ?? [])],
      delegates: [...(req.delegates ?? [])],
      ...(req.lifetime ? { lifetime: { seconds: req.lifetime.seconds ?? 0, nanos: req.lifetime.nanos ?? 0 } } : {}),
    });
    const fault = this.faults.shift();
    if (fault) {
      if ('hang' in fault) return; // never answers: the client's deadline fires
      return this.fail(cb, fault.code, fault.details);
    }
    const sa = this.resolveAccount(String(req.name ?? ''), 'name', cb);
    if (!sa) return;
    const delegates = req.delegates ?? [];
    for (const d of delegates) if (!this.resolveAccount(d, 'delegates', cb)) return;
    if (sa.tokenCreator === false) {
      return this.fail(cb, grpc.status.PERMISSION_DENIED, "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).");
    }
    const scopes = req.scope ?? [];
    if (scopes.length === 0) return this.fail(cb, grpc.status.INVALID_ARGUMENT, 'at least one scope is required');
    if (scopes.some((s) => !/^(https:\/\/www\.googleapis\.com\/auth\/\S+|openid|email|profile)$/.test(s))) {
      return this.fail(cb, grpc.status.INVALID_ARGUMENT, 'invalid OAuth scope');
    }
    const seconds = req.lifetime ? Number(req.lifetime.seconds ?? 0) : 3600;
    const max = sa.extendedLifetime ? 43_200 : 3600;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > max) {
      return this.fail(cb, grpc.status.INVALID_ARGUMENT, `lifetime must be between 1s and ${max}s`);
    }
    const expiresAt = new Date(Math.floor((this.now().getTime() + seconds * 1000) / 1000) * 1000);
    const accessToken = `ya29.fake-${randomBytes(32).toString('base64url')}`;
    this.tokens.set(accessToken, { serviceAccount: sa.email, scopes: [...scopes], delegates: [...delegates], expiresAt });
    cb(null, { accessToken, expireTime: { seconds: Math.floor(expiresAt.getTime() / 1000), nanos: 0 } });
  }
}
