// The IAM Credentials client over gRPC: the adapter's own Google identity, the default client (or a
// plain-text loopback one for the contract server), and gRPC failures as secret-free catalogue errors.
import { IAMCredentialsClient } from '@google-cloud/iam-credentials';
import { GoogleAuth, grpc } from 'google-gax';
import type { JitError } from '@jit/errors';
import { SubstrateDenied, SubstrateFailed, SubstrateRejected, SubstrateUnreachable, SubstrateUpstreamFailed } from '@jit/substrates';
import { type GcpIamConfig, type GenerateAccessTokenResponse, type IamCredentialsApi } from './gcp-iam-config';

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

export function defaultClient(config: GcpIamConfig): IamCredentialsApi {
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
export function classifyGrpc(substrate: string, operation: string, err: unknown): JitError | undefined {
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
export function scrub(err: unknown): Error {
  const e = (err ?? {}) as { code?: unknown; name?: unknown };
  const label = typeof e.code === 'number' ? `gRPC ${grpc.status[e.code] ?? e.code}` : `gcp client ${String(e.code ?? e.name ?? 'error')}`;
  return Object.assign(new Error(label), typeof e.code === 'number' || typeof e.code === 'string' ? { code: e.code } : {});
}

export function timestampToDate(t: GenerateAccessTokenResponse['expireTime']): Date | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  const seconds = Number(String(t.seconds));
  if (!Number.isFinite(seconds)) return undefined;
  const d = new Date(seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
  return Number.isNaN(d.getTime()) ? undefined : d;
}
