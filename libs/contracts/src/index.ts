export {
  TOPIC_ELEVATIONS,
  TOPIC_GITLAB,
  TOPIC_NOTIFY_DEAD_LETTERS,
  TOPIC_SINK_DEAD_LETTERS,
  DEAD_LETTER_SUFFIX,
  EVENT_TYPES,
  GITLAB_WEBHOOK_EVENT_TYPE,
  GITLAB_PUSH_EVENT_TYPE,
  elevationId,
  ELEVATION_ID_PATTERN,
  ELEVATION_ID_RE,
  parseElevationId,
  grantId,
  gitlabKey,
  policyKey,
  pushKey,
} from './topics';
export type { ElevationEventType } from './topics';
export { MAX_TTL_SECONDS, ageRecipientSchema, eventErrorSchema, eventProblemSchema, leftoverObjectSchema, revocationHandleSchema } from './event-fields';
export type { EventError, LeftoverObjectData, RevocationHandleData } from './event-fields';
export { EVENT_NAME_BY_TYPE, SCHEMA_ID_BASE, eventDataSchemas, eventDataSchemasStrict, schemaFileStem, schemaId, isPolicyEventType } from './event-data';
export type {
  EventName,
  EventDataByType,
  ElevationRequestedData,
  ElevationRejectedData,
  ElevationWithdrawnData,
  CredentialFetchedData,
  ApprovalRecordedData,
  ElevationApprovedData,
  BypassDetectedData,
  ElevationGrantedData,
  GrantFailedData,
  GrantStartedData,
  RevokeRequestedData,
  ElevationRevokedData,
  RevokeFailedData,
  ElevationExpiredData,
  OrphanRevokedData,
  PolicyRatifiedData,
  PolicyRefusedData,
  PolicyBypassDetectedData,
  PushRecordedData,
} from './event-data';
export { createElevationEvent, parseElevationEvent, deterministicEventId, eventKey } from './cloud-event';
export { displayJson, displayText, markdownCode, markdownText, terminalText } from './display-text';
export { detectAllSecretLike, detectSecretLike, findSecretLike, scanSecretLike, SECRET_KINDS } from './secret-like';
export type { SecretKind, SecretLikeFinding } from './secret-like';
export type { CloudEventJson, Severity, ElevationEvent, AnyElevationEvent, CreateEventOptions, ParseEventResult } from './cloud-event';
export { AGE_RECIPIENT_RE, isAgeRecipient } from './age-recipient';
export { InvalidEvent, UnknownEventType, SecretInEvent, InvalidDuration, InvalidSigningKey } from './errors';
export { parseDuration, tryParseDuration, formatDuration, MAX_DURATION_SECONDS } from './duration';
export type { DurationResult } from './duration';
export { formatPath } from './problem';
export type { Problem, ParseResult } from './problem';
export { loadYaml, REQUEST_YAML_LIMITS, POLICY_YAML_LIMITS } from './yaml-load';
export type { YamlLimits, LoadedYaml, LoadYamlResult } from './yaml-load';
export { parseElevationRequest, contentHash, REQUEST_API_VERSION, REQUEST_KIND, MIN_JUSTIFICATION_CHARS } from './elevation-request';
export type { ElevationRequest, ParseRequestResult } from './elevation-request';
export { parsePolicy, POLICY_MAX_TTL_SECONDS } from './policy';
export { NOTIFY_CHANNEL_KINDS, NOTIFY_EVENT_NAMES } from './policy-schema';
export type { NotifyChannelKind } from './policy-schema';
export type { NotifyRoute, PolicyNotifications, Policy, PolicyTier, PolicyBreakGlass, PolicyApprovers, PolicyScope, PolicyTarget, ParsePolicyResult } from './policy';

// --- GitLab webhook (normalized), owned by webhook-ingest (issue 3) ---
export {
  GITLAB_EVENT_HEADERS,
  GitlabActorSchema,
  GitlabNoteSchema,
  GitlabWebhookEventSchema,
  GitlabWebhookDataSchema,
  GitlabPushEventSchema,
  GitlabPushDataSchema,
  parseGitlabWebhook,
} from './gitlab-webhook';
export type { GitlabActor, GitlabNote, GitlabWebhookEvent, GitlabWebhookData, GitlabWebhookProblem, GitlabWebhookParseResult, GitlabPushEvent, GitlabPushData } from './gitlab-webhook';
export {
  KEY_ID_ATTRIBUTE,
  SIGNATURE_ATTRIBUTE,
  SIGNED_BY,
  PRODUCED_BY,
  canonicalJson,
  checkProducer,
  describeRefusal,
  producerTrust,
  createEventSigner,
  createEventVerifier,
  credentialStatement,
  generateSigningKeyPem,
  keyIdOf,
  parsePublicKey,
  signCredential,
  verifyBytes,
  verifyCredentialSignature,
} from './event-signature';
export { CHAIN_ATTRIBUTE, UNENDED_GRACE_MS, chainKeyOf, eventDigest, isEventDigest, linkEvent, verifyEventLog } from './event-chain';
export type { ChainProblem, ChainProblemKind, ChainReport, VerifyLogOptions } from './event-chain';
export type { CredentialSignature, CredentialStatementInput, EventSigner, EventVerifier, ProducerCheck, ProducerRole, ProducerTrust, PublicSigningKey, SignatureCheck } from './event-signature';
