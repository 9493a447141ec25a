// The adapter's configuration, its IAM/STS constants and the types shared by its files: parsed
// once by the registry (configSchema), handed down as a plain object.
import { z } from 'zod';
import type { Finding, RevocationHandle, Substrate, VerifyResult } from '@jit/substrates';
import { AWS_REGION_RE, parseRoleArn } from './scope';

export const AWS_STS_KIND = 'aws-sts';
/** STS refuses sessions shorter than 15 minutes. */
export const STS_MIN_DURATION_SECONDS = 900;
/** STS's hard ceiling (a role's MaxSessionDuration may be lower). */
export const STS_MAX_DURATION_SECONDS = 43_200;
/** IAM's fixed quotas per role: tags, and characters of all inline policies together (no whitespace). */
export const ROLE_TAG_LIMIT = 50;
export const ROLE_INLINE_POLICY_LIMIT = 10_240;
/** Share of a quota above which the adapter warns (maintain, policy audit). */
export const QUOTA_WARN_RATIO = 0.8;
/** Kept free on top of the reserved revoke denies: a retry adds a pattern, concurrent issues race. */
export const RESERVE_SLACK_CHARS = 512;
/** Of each managed shard's 6,144 characters, this much is not counted as room (statements around the entries, a shard not quite full). */
export const MANAGED_SHARD_SLACK_CHARS = 1_024;

export const awsStsConfigSchema = z.strictObject({
  region: z.string().regex(AWS_REGION_RE, 'an AWS region such as eu-west-1'),
  /** Custom endpoint (moto, a VPC endpoint); default: the SDK's regional endpoints. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Static keys of the adapter's own identity. Default: the SDK's provider chain - environment, web
   * identity (IRSA: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), EKS Pod Identity / ECS container
   * credentials, shared config, instance metadata - with short-lived, refreshed credentials.
   */
  credentials: z.strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() }).optional(),
  /** Role ARNs this instance may assume and sweeps (listIssued, cleanupExpiredDenies). Empty = any role, sweep only roles seen. */
  roles: z
    .array(z.string().refine((s) => parseRoleArn(s) !== undefined, 'an IAM role ARN'))
    .max(1000)
    .default([]),
  maxTtlSeconds: z.number().int().min(STS_MIN_DURATION_SECONDS).max(STS_MAX_DURATION_SECONDS).default(STS_MAX_DURATION_SECONDS),
  /** Set SourceIdentity = `<requester>@<grant tag>` (the role's trust policy must allow sts:SetSourceIdentity). */
  sourceIdentity: z.boolean().default(true),
  /** Kept on top of a session's expiry before its deny policy may go (clock skew). */
  expiryMarginSeconds: z.number().int().min(0).max(3600).default(300),
  /**
   * IAM's quota of managed policies attached per role in this account (default 10, up to 20 on
   * request). jit fills the slots the role's own policies leave free (keeping one for swaps) with
   * compacted deny policies it creates; 0 = inline policies only (no iam:CreatePolicy needed).
   */
  attachedPoliciesPerRole: z.number().int().min(0).max(20).default(10),
});
export type AwsStsConfig = z.infer<typeof awsStsConfigSchema>;

/** The one method of an AWS SDK v3 client the adapter uses; fakes implement it too. */
export interface AwsSender {
  send(command: object): Promise<unknown>;
  destroy?(): void;
}
export interface AwsClients {
  sts: AwsSender;
  iam: AwsSender;
}

export interface AwsStsExtra {
  /** Builds the STS and IAM clients (default: real SDK clients from the config). */
  clients: (config: AwsStsConfig) => AwsClients;
  /** Clock (tests). */
  now: () => Date;
}

export interface CleanupResult {
  /** `<role name>/<policy name>` of every deny policy removed. */
  removedDenies: string[];
  /** Ledger tags removed (grants whose sessions have all expired). */
  removedLedgerEntries: number;
  /** Per-grant revoke denies (and older shards) folded into a compacted shard and removed. */
  compactedDenies: number;
}

/** How full one role's IAM quotas are with what jit writes and must be able to write. */
export interface RoleQuotaUsage {
  roleName: string;
  tags: number;
  tagLimit: number;
  /** Characters of every inline policy on the role (jit's denies and the role's own). */
  inlineChars: number;
  /** Characters of jit's managed deny shards attached to the role. */
  managedChars: number;
  /** Characters the revoke denies of the live, unrevoked grants still need (folded into shards). */
  reservedChars: number;
  /** Inline room kept free on top (a revoke's own policy first, a shard written beside what it replaces). */
  headroomChars: number;
  inlineLimit: number;
  /** Room jit counts in managed shards: free attachment slots (one kept for swaps) times 6,144 less slack. */
  managedLimit: number;
  /** Managed policies attached to the role (its own and jit's), and the configured quota. */
  attachedPolicies: number;
  attachedLimit: number;
  liveGrants: number;
}

export interface AwsStsSubstrate extends Substrate {
  verifyRevoked(handle: RevocationHandle): Promise<VerifyResult>;
  checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]>;
  checkSetup(): Promise<Finding[]>;
  /** IAM quota use of a role this instance assumes (tags, inline policy characters, reservation). */
  quotaUsage(roleArn: string): Promise<RoleQuotaUsage>;
  listIssued(): Promise<RevocationHandle[]>;
  close(): Promise<void>;
  /** Remove deny policies and ledger tags whose sessions have expired on their own. */
  cleanupExpiredDenies(now?: Date): Promise<CleanupResult>;
}
