export type { BusMessage, CloudEventJson, EventBus, MessageHandler, ReplayOptions, SubscribeOptions, Subscription, TopicSpec } from './event-bus';
export { createEmbeddedBus } from './embedded-bus';
export { createKafkaBus } from './kafka-bus';
export type { KafkaBus, KafkaBusOptions } from './kafka-bus';
export type { EmbeddedBus, EmbeddedBusOptions } from './embedded-bus';
export type { FsyncPolicy, FileStoreStats } from './file-partition-log';
export { DLQ_EXTENSIONS } from './delivery';
export { DEFAULT_MAX_EVENT_BYTES, MAX_KEY_BYTES } from './validate';
export { JsonText, prepareEvent } from './prepared-event';
export { createSigningBus } from './signing-bus';
export type { PublishChain, PublishSigner } from './signing-bus';
export {
  BusAuthFailed,
  BusClosed,
  BusPartitionLost,
  BusRejected,
  BusTlsFailed,
  BusUnavailable,
  DirectoryLocked,
  EventTooLarge,
  HandlerFailed,
  InvalidEvent,
  InvalidKey,
  InvalidOptions,
  InvalidTopic,
  LogCorrupt,
  MalformedMessage,
  StorageFailed,
} from './errors';
export { followLog, followTopic, isAtOrAfter } from './follow-topic';
export type { FollowLogOptions, FollowTopicOptions, LogFollower, TopicFollower } from './follow-topic';
