export type {
  BusMessage,
  CloudEventJson,
  EventBus,
  MessageHandler,
  ReplayOptions,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './event-bus';
