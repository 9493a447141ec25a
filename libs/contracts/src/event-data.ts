// Event data schemas (contract: DESIGN.md §4): one zod schema and one TS type per EVENT_TYPES entry.
// Producers validate strictly (unknown keys rejected, so nothing stray — a secret — rides along);
// consumers read tolerantly (unknown keys stripped), so a newer producer never breaks an older reader.
import { z } from 'zod';
import { EVENT_TYPES } from './topics';
import {
  elevationIdS,
  eventErrorSchema,
  eventProblemSchema,
  grantIdS,
  leftoversS,
  MAX_TTL_SECONDS,
  nameS,
  positiveIntS,
  recipientS,
  revocationHandleSchema,
  sealedCredentialS,
  SHA256_RE,
  shaS,
  textS,
  timeS,
  usernameS,
} from './event-fields';

// Shapes are kept apart from the objects so each exists in a strict (producer) and a tolerant (consumer) form.
const shapes = {
  requested: {
    elevationId: elevationIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    mrUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    requester: usernameS,
    target: nameS,
    scope: nameS,
    /** Effective tier: the higher of the declared tier and the scope's tier (or the break-glass tier). */
    tier: nameS,
    declaredTier: nameS,
    ttlSeconds: positiveIntS.max(MAX_TTL_SECONDS),
    justification: textS(4000).min(1),
    rollbackPlan: textS(4000).optional(),
    recipient: recipientS,
    breakGlass: z.boolean(),
    /** sha256 hex of the request file bytes. */
    contentHash: z.string().regex(SHA256_RE, 'must be a sha256 hex digest'),
    requestPath: textS(1024).min(1),
    headSha: shaS,
    /** Blob sha or sha256 of policy.yaml the request was validated against. */
    policyVersion: textS(128).min(1),
    requiredApprovals: z.number().int().min(0).max(100),
    eligibleApprovers: z.array(usernameS).max(10_000),
  },
  rejected: {
    elevationId: elevationIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    requester: usernameS.optional(),
    headSha: shaS.optional(),
    problems: z.array(eventProblemSchema).min(1).max(500),
  },
  withdrawn: {
    elevationId: elevationIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    by: usernameS.optional(),
    reason: textS(2000).min(1),
  },
  approvalRecorded: {
    elevationId: elevationIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    approver: usernameS,
    action: z.enum(['approved', 'unapproved']),
    /** Whether this approval counts towards the tier's required approvals. */
    counted: z.boolean(),
    /** Why it does not count (absent when counted). */
    reason: z.enum(['bot', 'agent', 'author', 'committer', 'not_eligible', 'stale', 'unknown_user', 'recipient_owner']).optional(),
    headSha: shaS.optional(),
    at: timeS,
  },
  approved: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    requester: usernameS,
    target: nameS,
    scope: nameS,
    tier: nameS,
    ttlSeconds: positiveIntS.max(MAX_TTL_SECONDS),
    recipient: recipientS,
    breakGlass: z.boolean(),
    approvers: z.array(usernameS).max(1000),
    contentHash: z.string().regex(SHA256_RE, 'must be a sha256 hex digest'),
    mergeSha: shaS,
    policyVersion: textS(128).min(1),
    requestPath: textS(1024).min(1),
  },
  bypassDetected: {
    elevationId: elevationIdS,
    projectId: positiveIntS,
    mrIid: positiveIntS,
    mergeSha: shaS.optional(),
    reasons: z.array(textS(2000)).min(1).max(100),
  },
  granted: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    target: nameS,
    scope: nameS,
    /** Substrate kind or instance name (`vault:prod`). */
    substrate: z.string().min(1).max(128),
    handle: revocationHandleSchema,
    /** ASCII-armored age ciphertext of the credential, sealed to the request's recipient. */
    sealedCredential: sealedCredentialS,
    issuedAt: timeS,
    expiresAt: timeS,
    requester: usernameS,
    /** The issuer's Ed25519 signature of (elevation id, grant id, expiry, sha256 of sealedCredential); the CLI checks it. */
    credentialSignature: z
      .object({
        kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a key id (RFC 7638 thumbprint, base64url)'),
        signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature'),
      })
      .optional(),
  },
  grantStarted: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    /** Substrate instance about to issue (one whose credentials cannot be revoked early). */
    substrate: z.string().min(1).max(128),
  },
  grantFailed: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    error: eventErrorSchema,
    attempts: positiveIntS,
  },
  revokeRequested: {
    elevationId: elevationIdS,
    grantId: grantIdS.optional(),
    requestedBy: usernameS,
    reason: textS(2000).min(1),
  },
  revoked: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    handle: revocationHandleSchema,
    /** true = the substrate was probed and the credential no longer works. */
    verified: z.boolean(),
    verifyDetail: textS(2000).optional(),
    revokedAt: timeS,
    /** revokedAt minus the moment revocation was due (expiresAt, or the revoke request); may be negative. */
    latenessMs: z.number().int(),
    cause: z.enum(['ttl', 'requested', 'reconciliation']),
    /** Objects the grantee left that could run with another role's rights (e.g. SECURITY DEFINER functions), and what revoke did. */
    leftovers: leftoversS.optional(),
  },
  revokeFailed: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    attempt: positiveIntS,
    nextAttemptAt: timeS,
    error: eventErrorSchema,
  },
  expired: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    expiredAt: timeS,
    note: textS(2000).optional(),
  },
  orphanRevoked: {
    grantId: z.string().min(1).max(200),
    substrate: z.string().min(1).max(128),
    handle: revocationHandleSchema.extend({ grantId: z.string().min(1).max(200) }),
    elevationId: elevationIdS.optional(),
    leftovers: leftoversS.optional(),
  },
  grantDuplicated: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    /** Substrate instance of the newest issue. */
    substrate: z.string().min(1).max(128),
    /** Distinct `granted` events of the grant on the log so far (2 or more). */
    issues: z.number().int().min(2).max(10_000),
    /** Every distinct revocation handle they carried: the revoker revokes and verifies each. */
    handles: z.array(revocationHandleSchema).min(1).max(100),
    /** The grant had already ended when the newest `granted` came: it is revoked at once. */
    afterEnd: z.boolean(),
  },
  credentialFetched: {
    elevationId: elevationIdS,
    grantId: grantIdS,
    /** GitLab username of the caller (GET /user, or the CI ID token's user_login). */
    by: usernameS,
    /** How the caller authenticated: their GitLab token, or a GitLab CI ID token. */
    via: z.enum(['gitlab-token', 'ci-id-token']),
    at: timeS,
    /** For a CI ID token: the job that fetched it (claims of the token; never the token). */
    ci: z
      .object({
        projectPath: textS(255).min(1),
        projectId: textS(32).optional(),
        ref: textS(255).optional(),
        refType: textS(16).optional(),
        pipelineId: textS(32).optional(),
        jobId: textS(32).optional(),
      })
      .optional(),
  },
  policyRatified: {
    projectId: positiveIntS,
    /** Blob sha of policy.yaml: the version events and the catalog name. */
    version: shaS,
    path: textS(1024).min(1),
    /** Commit the version is read at (the merge commit; for a pin, the default branch's head then). */
    commitSha: shaS,
    /** `merge`: a verified policy-change MR; `pin`: the operator pinned the first policy's hash. */
    how: z.enum(['merge', 'pin']),
    mrIid: positiveIntS.optional(),
    /** The policyApprovers whose approvals were verified (empty for a pin). */
    approvers: z.array(usernameS).max(1000),
    mergedBy: usernameS.optional(),
    previousVersion: shaS.optional(),
    ratifiedAt: timeS,
  },
  policyRefused: {
    projectId: positiveIntS,
    mrIid: positiveIntS,
    version: shaS.optional(),
    mergeSha: shaS.optional(),
    reasons: z.array(textS(2000)).min(1).max(100),
    /** The version that stays in force. */
    inForce: shaS.optional(),
  },
  policyBypassDetected: {
    projectId: positiveIntS,
    /** The unratified version found on the default branch (absent when the file is unreadable). */
    version: shaS.optional(),
    /** The commit that last changed policy.yaml (or the merge commit of the MR that did). */
    commitSha: shaS.optional(),
    /** The MR that brought it, when there is one (a mixed MR). */
    mrIid: positiveIntS.optional(),
    reasons: z.array(textS(2000)).min(1).max(100),
    inForce: shaS.optional(),
  },
  pushRecorded: {
    projectId: positiveIntS,
    branch: textS(255).min(1),
    /** GitLab username of who pushed (the Push Hook's `user_username`), never a commit's author line. */
    pusher: usernameS,
    pusherId: positiveIntS,
    /** Previous head (40 zeros: the push created the branch). */
    before: shaS,
    after: shaS,
    /** Commits GitLab listed for the push (at most 20 in GitLab; capped at 100 here). */
    commits: z.array(shaS).max(100),
    totalCommits: z.number().int().min(0),
    at: timeS,
  },
} as const;

export type EventName = keyof typeof EVENT_TYPES;
type Shapes = typeof shapes;

/** grant id must belong to the elevation it names. */
function grantBelongs(d: { elevationId?: string; grantId?: string }): boolean {
  return d.elevationId === undefined || d.grantId === undefined || d.grantId.startsWith(`${d.elevationId}-`);
}
const grantBelongsIssue = { message: 'grantId must start with `<elevationId>-`', path: ['grantId'] };

function build<K extends EventName>(name: K, strict: boolean) {
  const shape = shapes[name] as Shapes[K];
  const base = strict ? z.strictObject(shape) : z.object(shape);
  return base.refine((d) => grantBelongs(d as { elevationId?: string; grantId?: string }), grantBelongsIssue);
}

function buildAll(strict: boolean) {
  return {
    requested: build('requested', strict),
    rejected: build('rejected', strict),
    withdrawn: build('withdrawn', strict),
    approvalRecorded: build('approvalRecorded', strict),
    approved: build('approved', strict),
    bypassDetected: build('bypassDetected', strict),
    grantStarted: build('grantStarted', strict),
    granted: build('granted', strict),
    grantFailed: build('grantFailed', strict),
    revokeRequested: build('revokeRequested', strict),
    revoked: build('revoked', strict),
    revokeFailed: build('revokeFailed', strict),
    expired: build('expired', strict),
    orphanRevoked: build('orphanRevoked', strict),
    grantDuplicated: build('grantDuplicated', strict),
    credentialFetched: build('credentialFetched', strict),
    policyRatified: build('policyRatified', strict),
    policyRefused: build('policyRefused', strict),
    policyBypassDetected: build('policyBypassDetected', strict),
    pushRecorded: build('pushRecorded', strict),
  };
}

/** Tolerant schemas: what consumers parse with (unknown keys stripped). Published as JSON Schema. */
export const eventDataSchemas = buildAll(false);
/** Strict schemas: what producers validate against (unknown keys rejected). */
export const eventDataSchemasStrict = buildAll(true);

export type ElevationRequestedData = z.infer<typeof eventDataSchemas.requested>;
export type ElevationRejectedData = z.infer<typeof eventDataSchemas.rejected>;
export type ElevationWithdrawnData = z.infer<typeof eventDataSchemas.withdrawn>;
export type ApprovalRecordedData = z.infer<typeof eventDataSchemas.approvalRecorded>;
export type ElevationApprovedData = z.infer<typeof eventDataSchemas.approved>;
export type BypassDetectedData = z.infer<typeof eventDataSchemas.bypassDetected>;
export type ElevationGrantedData = z.infer<typeof eventDataSchemas.granted>;
export type GrantStartedData = z.infer<typeof eventDataSchemas.grantStarted>;
export type GrantFailedData = z.infer<typeof eventDataSchemas.grantFailed>;
export type RevokeRequestedData = z.infer<typeof eventDataSchemas.revokeRequested>;
export type ElevationRevokedData = z.infer<typeof eventDataSchemas.revoked>;
export type RevokeFailedData = z.infer<typeof eventDataSchemas.revokeFailed>;
export type ElevationExpiredData = z.infer<typeof eventDataSchemas.expired>;
export type OrphanRevokedData = z.infer<typeof eventDataSchemas.orphanRevoked>;
export type GrantDuplicatedData = z.infer<typeof eventDataSchemas.grantDuplicated>;
export type CredentialFetchedData = z.infer<typeof eventDataSchemas.credentialFetched>;
export type PolicyRatifiedData = z.infer<typeof eventDataSchemas.policyRatified>;
export type PolicyRefusedData = z.infer<typeof eventDataSchemas.policyRefused>;
export type PolicyBypassDetectedData = z.infer<typeof eventDataSchemas.policyBypassDetected>;
export type PushRecordedData = z.infer<typeof eventDataSchemas.pushRecorded>;

/** Data type by event type string. */
export interface EventDataByType {
  [EVENT_TYPES.requested]: ElevationRequestedData;
  [EVENT_TYPES.rejected]: ElevationRejectedData;
  [EVENT_TYPES.withdrawn]: ElevationWithdrawnData;
  [EVENT_TYPES.approvalRecorded]: ApprovalRecordedData;
  [EVENT_TYPES.approved]: ElevationApprovedData;
  [EVENT_TYPES.bypassDetected]: BypassDetectedData;
  [EVENT_TYPES.granted]: ElevationGrantedData;
  [EVENT_TYPES.grantStarted]: GrantStartedData;
  [EVENT_TYPES.grantFailed]: GrantFailedData;
  [EVENT_TYPES.revokeRequested]: RevokeRequestedData;
  [EVENT_TYPES.revoked]: ElevationRevokedData;
  [EVENT_TYPES.revokeFailed]: RevokeFailedData;
  [EVENT_TYPES.expired]: ElevationExpiredData;
  [EVENT_TYPES.orphanRevoked]: OrphanRevokedData;
  [EVENT_TYPES.grantDuplicated]: GrantDuplicatedData;
  [EVENT_TYPES.credentialFetched]: CredentialFetchedData;
  [EVENT_TYPES.policyRatified]: PolicyRatifiedData;
  [EVENT_TYPES.policyRefused]: PolicyRefusedData;
  [EVENT_TYPES.policyBypassDetected]: PolicyBypassDetectedData;
  [EVENT_TYPES.pushRecorded]: PushRecordedData;
}

/** Whether an event type is one of the policy events (keyed and subjected by policyKey, no elevation id). */
export function isPolicyEventType(type: string): boolean {
  return type === EVENT_TYPES.policyRatified || type === EVENT_TYPES.policyRefused || type === EVENT_TYPES.policyBypassDetected;
}

/** `dev.jit.elevation.requested.v1` -> `requested`. */
export const EVENT_NAME_BY_TYPE: Readonly<Record<string, EventName>> = Object.freeze(Object.fromEntries(Object.entries(EVENT_TYPES).map(([name, type]) => [type, name as EventName])));

/** Published schema file stem: `dev.jit.elevation.requested.v1` -> `elevation.requested`. */
export function schemaFileStem(type: string): string {
  return type.replace(/^dev\.jit\./, '').replace(/\.v1$/, '');
}

/** Base of every published schema id; the file is `libs/contracts/schemas/<stem>.v1.json`. */
export const SCHEMA_ID_BASE = 'https://schemas.jit.dev/events/';

/** The `dataschema` / `$id` of an event type's published JSON Schema. */
export function schemaId(type: string): string {
  return `${SCHEMA_ID_BASE}${schemaFileStem(type)}.v1.json`;
}
