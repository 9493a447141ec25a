// Topic names and event type strings (contract: DESIGN.md §4). Versioned; never reused for another shape.

/** System of record: every elevation lifecycle event. Key = elevation id. Unlimited retention. */
export const TOPIC_ELEVATIONS = 'jit.elevations.v1';
/** Raw, verified GitLab webhooks. Key = `<project_id>!<mr_iid>`. */
export const TOPIC_GITLAB = 'jit.gitlab.v1';
/** Notifications the notifier gave up on (per channel, after its retries). Key = elevation id. Unlimited retention. */
export const TOPIC_NOTIFY_DEAD_LETTERS = 'jit.notifications.dlq.v1';
/** Events the HTTP sink gave up on (after its retries). Key = elevation id. Unlimited retention. */
export const TOPIC_SINK_DEAD_LETTERS = 'jit.sink.dlq.v1';
/** Suffix appended to a topic to name its dead-letter topic. */
export const DEAD_LETTER_SUFFIX = '.dlq';

export const EVENT_TYPES = {
  requested: 'dev.jit.elevation.requested.v1',
  rejected: 'dev.jit.elevation.rejected.v1',
  withdrawn: 'dev.jit.elevation.withdrawn.v1',
  approvalRecorded: 'dev.jit.elevation.approval.recorded.v1',
  approved: 'dev.jit.elevation.approved.v1',
  bypassDetected: 'dev.jit.elevation.bypass.detected.v1',
  grantStarted: 'dev.jit.elevation.grant.started.v1',
  granted: 'dev.jit.elevation.granted.v1',
  grantFailed: 'dev.jit.elevation.grant.failed.v1',
  revokeRequested: 'dev.jit.elevation.revoke.requested.v1',
  revoked: 'dev.jit.elevation.revoked.v1',
  revokeFailed: 'dev.jit.elevation.revoke.failed.v1',
  expired: 'dev.jit.elevation.expired.v1',
  orphanRevoked: 'dev.jit.elevation.orphan.revoked.v1',
  /** One grant was issued more than once (two `granted` events, e.g. two issuer replicas): every credential is revoked. */
  grantDuplicated: 'dev.jit.elevation.grant.duplicated.v1',
  /** Someone fetched a sealed credential through the API (who, when, how authenticated; never the token). */
  credentialFetched: 'dev.jit.elevation.credential.fetched.v1',
  /** A policy version came into force: a verified policy merge (or the operator's pin of the first policy). */
  policyRatified: 'dev.jit.policy.ratified.v1',
  /** A merged policy-change MR failed verification: its version never comes into force. */
  policyRefused: 'dev.jit.policy.refused.v1',
  /** policy.yaml on the default branch changed outside a policy-change MR (push, mixed MR, force-push). */
  policyBypassDetected: 'dev.jit.policy.bypass.detected.v1',
  /** Who pushed to a branch of the elevations repo (not an elevation's own event: key `<project_id>@<branch>`). */
  pushRecorded: 'dev.jit.elevation.push.recorded.v1',
} as const;
export type ElevationEventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** Type of the CloudEvent that carries one ingested GitLab webhook on TOPIC_GITLAB. */
export const GITLAB_WEBHOOK_EVENT_TYPE = 'dev.jit.gitlab.webhook.v1';
/** Type of the CloudEvent that carries one ingested GitLab Push Hook on TOPIC_GITLAB. */
export const GITLAB_PUSH_EVENT_TYPE = 'dev.jit.gitlab.push.v1';

/** Kafka key of a push, on TOPIC_GITLAB and (pushRecorded) on TOPIC_ELEVATIONS: `<project_id>@<branch>`. */
export function pushKey(projectId: number, branch: string): string {
  return `${projectId}@${branch}`;
}

/** Elevation id: `gl-<project_id>-<mr_iid>`. */
export function elevationId(projectId: number, mrIid: number): string {
  return `gl-${projectId}-${mrIid}`;
}

/** What an elevation id looks like (the one pattern; `parseElevationId` reads its numbers). */
export const ELEVATION_ID_RE = /^gl-[0-9]+-[0-9]+$/;
/** The same, bounded for request parameters (a JSON Schema `pattern` of a route): at most 18 digits each. */
export const ELEVATION_ID_PATTERN = '^gl-[0-9]{1,18}-[0-9]{1,18}$';

/** The project id and MR iid an elevation id names; undefined when `id` is not one. */
export function parseElevationId(id: string): { projectId: number; mrIid: number } | undefined {
  if (!ELEVATION_ID_RE.test(id)) return undefined;
  const [, projectId, mrIid] = id.split('-');
  return { projectId: Number(projectId), mrIid: Number(mrIid) };
}

/** Grant id: elevation id + merge commit sha. */
export function grantId(elevation: string, mergeSha: string): string {
  return `${elevation}-${mergeSha}`;
}

/**
 * Kafka key (and CloudEvent subject) of the policy events of one elevations project: one key, so
 * they stay in order on one partition and the policy in force is a fold of them.
 */
export function policyKey(projectId: number): string {
  return `policy-${projectId}`;
}

/** Kafka key for TOPIC_GITLAB. */
export function gitlabKey(projectId: number, mrIid: number): string {
  return `${projectId}!${mrIid}`;
}
