// Test fixtures for @jit/contracts consumers: valid event data per type (override any field),
// a real age recipient and a real armored ciphertext (sealed to a throwaway key), sample YAML files.
import { EVENT_TYPES } from '../topics';
import type {
  ApprovalRecordedData,
  BypassDetectedData,
  ElevationApprovedData,
  ElevationExpiredData,
  ElevationGrantedData,
  ElevationRejectedData,
  ElevationRequestedData,
  ElevationRevokedData,
  ElevationWithdrawnData,
  EventDataByType,
  GrantFailedData,
  GrantStartedData,
  OrphanRevokedData,
  GrantDuplicatedData,
  CredentialFetchedData,
  PolicyBypassDetectedData,
  PolicyRatifiedData,
  PolicyRefusedData,
  PushRecordedData,
  RevokeFailedData,
  RevokeRequestedData,
} from '../event-data';
import { createElevationEvent, type CreateEventOptions, type ElevationEvent } from '../cloud-event';
import { createEventSigner, generateSigningKeyPem, type EventSigner } from '../event-signature';
import type { ElevationEventType } from '../topics';

/** A valid age X25519 recipient (its identity was thrown away). */
export const FIXTURE_RECIPIENT = 'age10wys8amqxkq0kekqv8f9c78f997c6jyfranp0acrfnfjf4rtyehq0hzxes';
/** Another valid age recipient (identity thrown away), registered to `alice` in the fixture policies. */
export const FIXTURE_OTHER_RECIPIENT = 'age1tgg57uczrrejpcv6hhs9mrarad2mvzjqceevxk2ty55dz9zplqhq8sq9v9';
/** A third valid age recipient (identity thrown away), registered to `maint`, who both requests and approves in tests. */
export const FIXTURE_MAINT_RECIPIENT = 'age1y93nuc6p9jyvhaed2eh6wtknstnfk90zgffrfzu9fvphj9dfwapsrxzueh';
/** Users the fixture policies register FIXTURE_RECIPIENT to: the tests' requesters, never their approvers. */
export const FIXTURE_RECIPIENT_USERS = ['dev', 'deploy-agent', 'migration-bot', 'olga', 'ci-bot'] as const;

/**
 * The `recipients:` section of the fixture policies (a request's recipient must be one of its
 * requester's keys): FIXTURE_RECIPIENT for FIXTURE_RECIPIENT_USERS, FIXTURE_OTHER_RECIPIENT for alice,
 * FIXTURE_MAINT_RECIPIENT for maint.
 */
export function fixtureRecipientsYaml(users: readonly string[] = FIXTURE_RECIPIENT_USERS): string {
  return `recipients:\n${users.map((u) => `  ${u}: [${FIXTURE_RECIPIENT}]\n`).join('')}  alice: [${FIXTURE_OTHER_RECIPIENT}]\n  maint: [${FIXTURE_MAINT_RECIPIENT}]\n`;
}
/** A real age ciphertext of the word "fixture", armored, sealed to FIXTURE_RECIPIENT. */
export const FIXTURE_SEALED =
  '-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSArNUtqR2dsaWk2OUE2endr\ndmNndloxa3FnaXcxVG1Ba3kyN1FMVFpYa0c4CnBIV0VPelJPZy9XVmJaREJjdG9J\ncFVuOVVvZFlaTnZzckVsQ2hlek9ncTAKLS0tIHhxeForb29ycDduRVVnOXIzSmoz\nQnZPK3BzT0plLzZHL251VzkzTGxldTAKNwQKOpCzlUMRBC9ohZDL01ZfMYKt+aEd\nXGjU2Wb+Y9NC9/SgKyAO\n-----END AGE ENCRYPTED FILE-----\n';

export const FIXTURE_ELEVATION = 'gl-42-7';
/** A policy version (blob sha of policy.yaml). */
export const FIXTURE_POLICY_VERSION = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c';
export const FIXTURE_HEAD_SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
export const FIXTURE_MERGE_SHA = 'f0e1d2c3b4a5968778695a4b3c2d1e0f12345678';
export const FIXTURE_GRANT = `${FIXTURE_ELEVATION}-${FIXTURE_MERGE_SHA}`;
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:30:00.000Z';

const handle = {
  kind: 'postgres',
  grantId: FIXTURE_GRANT,
  ref: { role: 'jit_gl_42_7' },
  expiresAt: T1,
};

/** Valid data for each event type (elevation gl-42-7); spread your overrides over it. */
export const sampleData: { [K in ElevationEventType]: () => EventDataByType[K] } = {
  [EVENT_TYPES.requested]: (): ElevationRequestedData => ({
    elevationId: FIXTURE_ELEVATION,
    projectId: 42,
    mrIid: 7,
    mrUrl: 'https://gitlab.example.com/platform/elevations/-/merge_requests/7',
    requester: 'carol',
    target: 'orders-db',
    scope: 'write',
    tier: 'reversible-write',
    declaredTier: 'reversible-write',
    ttlSeconds: 1800,
    justification: 'backfill order totals after INC-4411',
    rollbackPlan: 'restore from the 02:00 snapshot',
    recipient: FIXTURE_RECIPIENT,
    breakGlass: false,
    contentHash: 'e'.repeat(64),
    requestPath: 'elevations/backfill.yaml',
    headSha: FIXTURE_HEAD_SHA,
    policyVersion: 'b'.repeat(40),
    requiredApprovals: 1,
    eligibleApprovers: ['alice', 'bob'],
  }),
  [EVENT_TYPES.rejected]: (): ElevationRejectedData => ({
    elevationId: FIXTURE_ELEVATION,
    projectId: 42,
    mrIid: 7,
    requester: 'carol',
    headSha: FIXTURE_HEAD_SHA,
    problems: [{ path: 'spec.ttl', message: 'ttl 8h exceeds the tier ceiling 2h', line: 5, column: 8 }],
  }),
  [EVENT_TYPES.withdrawn]: (): ElevationWithdrawnData => ({
    elevationId: FIXTURE_ELEVATION,
    projectId: 42,
    mrIid: 7,
    by: 'carol',
    reason: 'merge request closed',
  }),
  [EVENT_TYPES.approvalRecorded]: (): ApprovalRecordedData => ({
    elevationId: FIXTURE_ELEVATION,
    projectId: 42,
    mrIid: 7,
    approver: 'alice',
    action: 'approved',
    counted: true,
    headSha: FIXTURE_HEAD_SHA,
    at: T0,
  }),
  [EVENT_TYPES.approved]: (): ElevationApprovedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    projectId: 42,
    mrIid: 7,
    requester: 'carol',
    target: 'orders-db',
    scope: 'write',
    tier: 'reversible-write',
    ttlSeconds: 1800,
    recipient: FIXTURE_RECIPIENT,
    breakGlass: false,
    approvers: ['alice'],
    contentHash: 'e'.repeat(64),
    mergeSha: FIXTURE_MERGE_SHA,
    policyVersion: 'b'.repeat(40),
    requestPath: 'elevations/backfill.yaml',
  }),
  [EVENT_TYPES.bypassDetected]: (): BypassDetectedData => ({
    elevationId: FIXTURE_ELEVATION,
    projectId: 42,
    mrIid: 7,
    mergeSha: FIXTURE_MERGE_SHA,
    reasons: ['merged with 0 of 1 required approvals'],
  }),
  [EVENT_TYPES.granted]: (): ElevationGrantedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    target: 'orders-db',
    scope: 'write',
    substrate: 'postgres',
    handle: { ...handle, ref: { ...handle.ref } },
    sealedCredential: FIXTURE_SEALED,
    issuedAt: T0,
    expiresAt: T1,
    requester: 'carol',
  }),
  [EVENT_TYPES.grantStarted]: (): GrantStartedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    substrate: 'gcp-iam',
  }),
  [EVENT_TYPES.grantFailed]: (): GrantFailedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    error: { code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', message: 'postgres unreachable', retriable: true },
    attempts: 5,
  }),
  [EVENT_TYPES.revokeRequested]: (): RevokeRequestedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    requestedBy: 'alice',
    reason: 'work finished early',
  }),
  [EVENT_TYPES.revoked]: (): ElevationRevokedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    handle: { ...handle, ref: { ...handle.ref } },
    verified: true,
    revokedAt: '2026-01-01T00:30:01.000Z',
    latenessMs: 1000,
    cause: 'ttl',
  }),
  [EVENT_TYPES.revokeFailed]: (): RevokeFailedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    attempt: 1,
    nextAttemptAt: '2026-01-01T00:30:05.000Z',
    error: { code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', message: 'postgres unreachable', retriable: true },
  }),
  [EVENT_TYPES.expired]: (): ElevationExpiredData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    expiredAt: T1,
    note: 'gcp access tokens cannot be revoked early',
  }),
  [EVENT_TYPES.orphanRevoked]: (): OrphanRevokedData => ({
    grantId: FIXTURE_GRANT,
    substrate: 'postgres',
    handle: { ...handle, ref: { ...handle.ref } },
    elevationId: FIXTURE_ELEVATION,
  }),
  [EVENT_TYPES.grantDuplicated]: (): GrantDuplicatedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    substrate: 'postgres',
    issues: 2,
    handles: [{ ...handle, ref: { ...handle.ref } }],
    afterEnd: false,
  }),
  [EVENT_TYPES.credentialFetched]: (): CredentialFetchedData => ({
    elevationId: FIXTURE_ELEVATION,
    grantId: FIXTURE_GRANT,
    by: 'carol',
    via: 'ci-id-token',
    at: T0,
    ci: { projectPath: 'apps/agent', projectId: '7', ref: 'main', refType: 'branch', pipelineId: '100', jobId: '200' },
  }),
  [EVENT_TYPES.policyRatified]: (): PolicyRatifiedData => ({
    projectId: 42,
    version: FIXTURE_POLICY_VERSION,
    path: 'policy.yaml',
    commitSha: FIXTURE_MERGE_SHA,
    how: 'merge',
    mrIid: 9,
    approvers: ['sam', 'sue'],
    mergedBy: 'maint',
    ratifiedAt: T1,
  }),
  [EVENT_TYPES.policyRefused]: (): PolicyRefusedData => ({
    projectId: 42,
    mrIid: 9,
    version: FIXTURE_POLICY_VERSION,
    mergeSha: FIXTURE_MERGE_SHA,
    reasons: ['merged with 1 of 2 required policyApprover approvals'],
  }),
  [EVENT_TYPES.policyBypassDetected]: (): PolicyBypassDetectedData => ({
    projectId: 42,
    version: FIXTURE_POLICY_VERSION,
    commitSha: FIXTURE_MERGE_SHA,
    reasons: ['policy.yaml was changed on the default branch outside a policy-change MR'],
  }),
  [EVENT_TYPES.pushRecorded]: (): PushRecordedData => ({
    projectId: 42,
    branch: 'req-backfill',
    pusher: 'dev',
    pusherId: 7,
    before: '0000000000000000000000000000000000000000',
    after: FIXTURE_HEAD_SHA,
    commits: [FIXTURE_HEAD_SHA],
    totalCommits: 1,
    at: '2026-01-01T00:00:00.000Z',
  }),
};

/** A valid event of `type` with sample data merged with `overrides`. */
export function sampleEvent<T extends ElevationEventType>(type: T, overrides: Partial<EventDataByType[T]> = {}, options: Partial<CreateEventOptions> = {}): ElevationEvent<T> {
  const data = { ...sampleData[type](), ...overrides } as EventDataByType[T];
  return createElevationEvent(type, data, { source: '/jit/test', time: T0, ...options });
}

/** The policy.yaml example of DESIGN.md §3. */
export const SAMPLE_POLICY_YAML = `tiers:
  cosmetic:         { ttlMax: 4h,  approvals: 1, approvers: { anyHuman: true } }
  reversible-write: { ttlMax: 2h,  approvals: 1, approvers: { groups: [platform] } }
  semi-destructive: { ttlMax: 1h,  approvals: 2, approvers: { groups: [platform-leads] }, requireRollbackPlan: true }
  destructive:      { ttlMax: 30m, approvals: 2, approvers: { users: [alice, bob] }, requireRollbackPlan: true }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent, migration-bot]          # may request, may never approve
${fixtureRecipientsYaml()}policyApprovers: { groups: [security] , approvals: 2 }
targets:
  orders-db:
    substrate: postgres                         # or vault | aws-sts | gcp-iam
    # secrets by reference only
    connection: { secretRef: env:ORDERS_DB_ADMIN_URL }
    scopes:
      write:  { tier: reversible-write, grant: "INSERT, UPDATE ON ALL TABLES IN SCHEMA public" }
      ddl:    { tier: semi-destructive, grant: "CREATE ON SCHEMA public" }
`;

/** A valid request file (DESIGN.md §3) for orders-db/write, sealed to FIXTURE_RECIPIENT. */
export const SAMPLE_REQUEST_YAML = `apiVersion: jit/v1
kind: ElevationRequest
spec:
  target: orders-db
  scope: write
  ttl: 30m
  riskTier: reversible-write
  justification: "backfill order totals after INC-4411 (min 20 chars)"
  rollbackPlan: "restore from the 02:00 snapshot; script in runbook R-17"
  recipient: ${FIXTURE_RECIPIENT}
  breakGlass: false
`;

/**
 * A request file for orders-db/write (30m, reversible-write, sealed to FIXTURE_RECIPIENT) with any
 * field overridden; `undefined` leaves a field out.
 */
export function requestYaml(spec: Record<string, string | boolean | undefined>): string {
  const full: Record<string, string | boolean | undefined> = {
    target: 'orders-db',
    scope: 'write',
    ttl: '30m',
    riskTier: 'reversible-write',
    justification: 'backfill order totals after INC-4411',
    recipient: FIXTURE_RECIPIENT,
    ...spec,
  };
  const lines = ['apiVersion: jit/v1', 'kind: ElevationRequest', 'spec:'];
  for (const [k, v] of Object.entries(full)) if (v !== undefined) lines.push(`  ${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`);
  return `${lines.join('\n')}\n`;
}

/** A fresh Ed25519 key for a test producer: the PEM (for a key file) and its signer. */
export function createTestSigningKey(): { pem: string; signer: EventSigner } {
  const pem = generateSigningKeyPem();
  return { pem, signer: createEventSigner(pem) };
}
