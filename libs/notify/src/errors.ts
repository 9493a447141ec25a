// Error catalogue of the notifier and the HTTP sink (JIT_ERR_NOTIFY_*). No message quotes a
// webhook URL or a response body: the URL is the secret, a body may echo it.
import { defineError } from '@jit/errors';

export const DeliveryRefused = defineError<[string, number]>(
  'JIT_ERR_NOTIFY_DELIVERY_REFUSED',
  'the receiver of %s answered HTTP %d; the message is parked as a dead letter (fix the channel or the URL setting)',
);
export const DeliveryFailed = defineError<[string, string]>('JIT_ERR_NOTIFY_DELIVERY_FAILED', 'delivery to %s failed (%s); retried with backoff, then parked as a dead letter', { retriable: true });
export const ChannelUnconfigured = defineError<[string, string]>(
  'JIT_ERR_NOTIFY_CHANNEL_UNCONFIGURED',
  'the policy routes to channel %s but this notifier has no URL for it in %s; the message is parked as a dead letter',
);
