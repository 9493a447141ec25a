// @jit/notify: the notifier (Slack, Teams, webhooks, routed by the policy) and the HTTP sink.
export { createNotifier } from './notifier';
export type { ChannelUrls, Notifier, NotifierOptions } from './notifier';
export { buildNotice, notifyEventName } from './notice';
export type { Notice, NoticeOptions } from './notice';
export { routeEvent } from './route';
export type { RouteFacts } from './route';
export { slackMessage, SLACK_LIMITS } from './slack-message';
export type { SlackMessage } from './slack-message';
export { teamsMessage, TEAMS_LIMITS, ADAPTIVE_CARD_CONTENT_TYPE } from './teams-message';
export type { TeamsMessage } from './teams-message';
export { webhookMessage } from './webhook-message';
export type { WebhookMessage } from './webhook-message';
export { markdownEscape, slackEscape, truncate } from './escape';
export { postJson } from './post-json';
export type { FetchLike, PostOptions, RetrySettings } from './post-json';
export { ChannelUnconfigured, DeliveryFailed, DeliveryRefused } from './errors';
export { notifyEnv, notifyFromEnv, notifyChannelsSchema, checkNotifyBudget, worstDeliveryMs } from './notify-env';
export type { NotifyConfig } from './notify-env';
