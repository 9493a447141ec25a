// The "tokens that mint more tokens" check. GCP access tokens cannot be revoked, and TTL is their
// only end; a token whose service account may create access tokens, sign JWTs/blobs, delegate, act
// as another account or create keys - and whose OAuth scopes let it call the IAM APIs - hands the
// grantee credentials that outlive the grant (a key never expires). The check asks Google what the
// service account itself may do (testIamPermissions, called as that account) on its project and on
// itself, and only for scopes that can reach those APIs.

/** Permissions that turn one token into more credentials (or a workload running as another account). */
export const MINTING_PERMISSIONS = [
  'iam.serviceAccounts.getAccessToken',
  'iam.serviceAccounts.getOpenIdToken',
  'iam.serviceAccounts.signBlob',
  'iam.serviceAccounts.signJwt',
  'iam.serviceAccounts.implicitDelegation',
  'iam.serviceAccounts.actAs',
  'iam.serviceAccountKeys.create',
] as const;

const AUTH = 'https://www.googleapis.com/auth/';
/**
 * OAuth scopes that let a token use those permissions: the IAM and IAM Credentials APIs accept
 * `iam` and `cloud-platform`; `actAs` is exercised by the APIs that start workloads (Compute with
 * `compute`, everything with `cloud-platform`). Every other scope is safe in this respect.
 */
export const MINTING_SCOPES: Readonly<Record<string, readonly string[]>> = {
  [`${AUTH}cloud-platform`]: MINTING_PERMISSIONS,
  [`${AUTH}iam`]: MINTING_PERMISSIONS,
  [`${AUTH}compute`]: ['iam.serviceAccounts.actAs'],
};

/** The REST calls of the check (Google's published shapes; tests point them at the contract server). */
export interface IamPermissionsApi {
  /**
   * `POST {base}/v1/{resource}:testIamPermissions` with `{ permissions }` as the holder of
   * `accessToken`; answers the subset it holds. `api` picks the base: Resource Manager for
   * `projects/<id>`, IAM for `projects/-/serviceAccounts/<email>`.
   */
  testIamPermissions(api: 'resourcemanager' | 'iam', resource: string, permissions: string[], accessToken: string): Promise<string[]>;
}

export interface RestBases {
  iam: string;
  resourcemanager: string;
  timeoutMs: number;
}

/** An error of a REST call: the HTTP status and Google's `error.status`, never the message (it may echo input). */
export class GoogleRestError extends Error {
  constructor(
    readonly response: { statusCode: number },
    readonly googleStatus: string,
  ) {
    super(`HTTP ${response.statusCode}${googleStatus ? ` ${googleStatus}` : ''}`);
    this.name = 'GoogleRestError';
  }
}

export function fetchIamPermissionsApi(bases: RestBases): IamPermissionsApi {
  return {
    async testIamPermissions(api, resource, permissions, accessToken) {
      const res = await fetch(`${bases[api]}/v1/${resource}:testIamPermissions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ permissions }),
        signal: AbortSignal.timeout(bases.timeoutMs),
      });
      const body = (await res.json().catch(() => ({}))) as { permissions?: unknown; error?: { status?: unknown } };
      if (!res.ok) throw new GoogleRestError({ statusCode: res.status }, typeof body.error?.status === 'string' ? body.error.status : '');
      // Google leaves `permissions` out when the caller holds none of them.
      return Array.isArray(body.permissions) ? body.permissions.filter((p): p is string => typeof p === 'string') : [];
    },
  };
}

/** `<name>@<project>.iam.gserviceaccount.com` -> project id; other Google SA domains carry none. */
export function projectOfServiceAccount(email: string): string | undefined {
  return /^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
}
