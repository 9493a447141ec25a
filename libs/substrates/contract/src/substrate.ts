// The Substrate contract (DESIGN.md §5): what every credential backend implements.

export interface Problem {
  /** Field path, e.g. `targets.orders-db.scopes.write.grant`. */
  path: string;
  message: string;
}

export interface Finding {
  severity: 'info' | 'warning' | 'error';
  message: string;
}

export interface IssueRequest {
  /** Elevation id + merge sha; everything created is named after it (jit_<grant>, jit-<grant>). */
  grantId: string;
  elevationId: string;
  /** Requester's GitLab username (SourceIdentity, metadata). */
  requester: string;
  target: string;
  scopeName: string;
  /** The scope object from policy.yaml, already validated by validateScope. */
  scope: Record<string, unknown>;
  /** The target's connection settings from policy.yaml, secret references resolved by the app. */
  connection: Record<string, unknown>;
  ttlSeconds: number;
}

/** Secret-free data needed to revoke (and to find) an issued credential. Serialisable JSON. */
export interface RevocationHandle {
  kind: string;
  /** Named instance, e.g. `vault:prod`. */
  instance?: string;
  grantId: string;
  /** Adapter-specific, never secret (role name, lease id, accessor, session id). */
  ref: Record<string, string | number | boolean>;
  expiresAt: string;
}

export interface Issued {
  /** The credential; sealed to the requester, never logged. Adapter-defined shape (url, token, keys). */
  secret: Record<string, string>;
  handle: RevocationHandle;
  expiresAt: string;
}

export interface VerifyResult {
  /** true = probed and the credential no longer works. */
  verified: boolean;
  detail?: string;
}

export interface Substrate {
  readonly kind: string;
  /** Instance name (`vault:prod`); defaults to kind. */
  readonly name: string;
  validateScope(scope: unknown, connection?: unknown): Problem[];
  /** Longest TTL this substrate can honour (e.g. 3600 s for GCP tokens); undefined = no limit. */
  readonly maxTtlSeconds?: number;
  /** Whether revoke() ends the credential before its natural expiry. */
  readonly canRevokeEarly: boolean;
  issue(req: IssueRequest): Promise<Issued>;
  /** Idempotent: already gone = success. */
  revoke(handle: RevocationHandle): Promise<void>;
  /** Probe that a revoked credential no longer works, where the adapter can. */
  verifyRevoked?(handle: RevocationHandle): Promise<VerifyResult>;
  /** Credentials this adapter created (by name/metadata), for the orphan sweep. */
  listIssued?(): Promise<RevocationHandle[]>;
  checkDefaultIsReadOnly?(): Promise<Finding[]>;
  /**
   * Housekeeping the revoker's periodic sweep runs (e.g. aws-sts removes deny policies whose
   * sessions have expired on their own). Must be idempotent and safe to run on every replica.
   */
  maintain?(now: Date): Promise<void>;
  close?(): Promise<void>;
}
