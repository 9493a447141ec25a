// The gcp-iam adapter's vocabulary: its kind and TTL ceilings, the instance config
// (`gcpIamConfigSchema`, strict), the slice of the IAM Credentials client it uses (injectable) and
// the instance's type.
import type { CallOptions } from 'google-gax';
import { z } from 'zod';
import type { Finding, RevocationHandle, Substrate, VerifyResult } from '@jit/substrates';
import type { IssuedLedger } from './issued-ledger';
import type { IamPermissionsApi } from './minting-audit';

export const GCP_IAM_KIND = 'gcp-iam';
/** generateAccessToken's default ceiling. */
export const GCP_DEFAULT_MAX_TTL_SECONDS = 3600;
/** Ceiling with the org policy constraints/iam.allowServiceAccountCredentialLifetimeExtension. */
export const GCP_EXTENDED_MAX_TTL_SECONDS = 43_200;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

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

/** A token's longest lifetime: 1 h, or 12 h where the organisation allows extended lifetimes. */
export function gcpMaxTtlSeconds(config: Partial<Pick<GcpIamConfig, 'allowExtendedLifetime'>>): number {
  return config.allowExtendedLifetime ? GCP_EXTENDED_MAX_TTL_SECONDS : GCP_DEFAULT_MAX_TTL_SECONDS;
}
