// The Substrate contract (DESIGN.md §5): what every credential backend implements.

export interface Problem {
  /** Field path, e.g. `targets.orders-db.scopes.write.grant`. */
  path: string;
  message: string;
}

/** What a safety check found: `info` = checked and fine, `warning` = works but unsafe, `error` = broken or unsafe. */
export interface Finding {
  severity: 'info' | 'warning' | 'error';
  /** Human-readable and secret-free (names roles, mounts, servers; never a password or token). */
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
  /**
   * The grant's absolute expiry (ISO 8601; the issuer passes the approval's time + the approved TTL).
   * Every adapter bounds its credential by it (`grantWindow`): a late issue never outlives the grant,
   * and a request at or past it is refused (JIT_ERR_SUBSTRATE_GRANT_EXPIRED) without creating anything.
   */
  notAfter?: string;
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

/**
 * Something the grantee left behind that could act with another role's rights once the grant is
 * gone (postgres: a SECURITY DEFINER function, a trigger, a view), and what revoke did with it.
 * Names come from the backend's catalogue, control characters removed; never a secret.
 */
export interface LeftoverObject {
  /** `function`, `procedure`, `trigger`, `event trigger`, `view`, `materialized view`, ... */
  kind: string;
  /** Qualified name as the backend prints it, e.g. `app.escalate(text)`, `public.orders.audit_trg`. */
  name: string;
  /** `dropped` = removed by revoke; `kept` = left in place (`note` says why it is harmless now). */
  action: 'dropped' | 'kept';
  note?: string;
}

/** What revoke found and did beyond ending the credential; adapters with nothing to say return nothing. */
export interface RevokeReport {
  leftovers: LeftoverObject[];
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
  /** Idempotent: already gone = success. May report what the grantee left behind (published with `elevation.revoked`). */
  revoke(handle: RevocationHandle): Promise<void | RevokeReport>;
  /** Probe that a revoked credential no longer works, where the adapter can. */
  verifyRevoked?(handle: RevocationHandle): Promise<VerifyResult>;
  /** Credentials this adapter created (by name/metadata), for the orphan sweep. */
  listIssued?(): Promise<RevocationHandle[]>;
  /**
   * The structural check: proves the credential developers and agents hold by default cannot
   * write (e.g. postgres attempts writes in a rolled-back transaction). Findings name the role and
   * server, never a credential. A deployment runs it once per instance for every policy version
   * (libs/substrates/wiring `createPolicyAudit`).
   */
  checkDefaultIsReadOnly?(): Promise<Finding[]>;
  /**
   * The backstop check: whether the backend's own expiry for `scope` (e.g. a Vault database role's
   * `max_ttl`) is within `ceilingSeconds`, the TTL ceiling of the scope's tier. A `warning` means
   * the backend would let a credential outlive the ceiling if jit's revocation failed; an `error`
   * that the scope cannot work (role or policy missing). Never throws for a malformed scope (an
   * `error` finding instead); may throw (or reject) when the backend cannot be asked — the audit
   * turns that into a finding. Findings name role/mount/target, never a credential.
   */
  checkTtl?(scope: unknown, ceilingSeconds: number): Promise<Finding[]>;
  /**
   * How jit itself is set up on the backend, once per instance (e.g. Vault: jit's admin token has an
   * identity entity, the token role it issues through is not orphan; postgres: a superuser admin, a
   * schema on the admin's search_path others can create in, no reserved connection slot). `warning` = works but a grantee
   * could gain from it, `error` = issuing is unsafe or will fail. Same rules as checkTtl.
   */
  checkSetup?(): Promise<Finding[]>;
  /**
   * Housekeeping the revoker's periodic sweep runs (e.g. aws-sts removes deny policies whose
   * sessions have expired on their own). Must be idempotent and safe to run on every replica.
   */
  maintain?(now: Date): Promise<void>;
  close?(): Promise<void>;
}
