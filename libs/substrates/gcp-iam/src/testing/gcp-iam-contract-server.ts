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

export interface GcpIamContractServerOptions {
  serviceAccounts?: ContractServiceAccount[];
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
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const out = this.rest(req.method ?? '', req.url ?? '', String(req.headers.authorization ?? ''), Buffer.concat(chunks).toString('utf8'));
        res.writeHead(out.status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(out.body));
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
    this.requests.push({ name: String(req.name ?? ''), scope: [...(req.scope ?? [])], delegates: [...(req.delegates ?? [])], ...(req.lifetime ? { lifetime: { seconds: req.lifetime.seconds ?? 0, nanos: req.lifetime.nanos ?? 0 } } : {}) });
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
