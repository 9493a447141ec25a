export {
  TOPIC_ELEVATIONS,
  TOPIC_GITLAB,
  DEAD_LETTER_SUFFIX,
  EVENT_TYPES,
  GITLAB_WEBHOOK_EVENT_TYPE,
  elevationId,
  grantId,
  gitlabKey,
} from './topics';
export type { ElevationEventType } from './topics';
