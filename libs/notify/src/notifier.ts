// The notifier: a consumer group of its own on jit.elevations.v1 that posts what the policy's
// notification routes ask for to Slack, Teams and generic webhooks. It only reads the log and
// writes its own dead letters, so a slow or dead receiver never holds up the gate, the issuer or
// the revoker (they are other groups).
//
// Delivery is at-least-once. The group's committed offset is the record of what was delivered:
// an event's offset is committed only once every channel it routes to has been posted to (or
// dead-lettered), so a restart resumes after the last finished event and re-posts nothing before
// it. A crash between a post and the commit redelivers that event: its channels may get it once
// more (Kafka commits at the end of each fetched batch, so after a crash the few events handled
// since the last commit may each be posted once more). Within a process, each (event, channel)
// delivered is remembered, so a retry of the event skips channels that already have it.
//
// Each post is retried with exponential backoff (cockatiel) up to `retry.maxAttempts`, then the
// event is parked on jit.notifications.dlq.v1 with the channel's name, the error code and the
// attempts, and the group moves on. Channels of one event are posted concurrently.
import { LRUCache } from 'lru-cache';
import type { Registry } from 'prom-client';
import type { BusMessage, CloudEventJson, EventBus, Subscription } from '@jit/bus';
import { PRODUCED_BY, TOPIC_ELEVATIONS, TOPIC_NOTIFY_DEAD_LETTERS, checkProducer, describeRefusal, type NotifyChannelKind, type PolicyNotifications, type ProducerTrust } from '@jit/contracts';
import { JitError } from '@jit/errors';
import { createLedger, type Ledger } from '@jit/ledger';
import { refusedEventsCounter, type Logger } from '@jit/observability';
import { ChannelUnconfigured } from './errors';
import { ageSeconds, deliveryMetrics } from './metrics';
import { buildNotice, notifyEventName, type Notice } from './notice';
import { postJson, type FetchLike, type RetrySettings } from './post-json';
import { routeEvent } from './route';
import { slackMessage } from './slack-message';
import { teamsMessage } from './teams-message';
import { webhookMessage } from './webhook-message';

/** Channel name → webhook URL: a secret setting, read live (a rotated file is used from the next post). */
export interface ChannelUrls {
  current(): Record<string, string>;
}

export interface NotifierOptions {
  bus: EventBus;
  /** The policy's notifications in force now (undefined: nobody is notified). */
  notifications: () => PolicyNotifications | undefined;
  channels: ChannelUrls;
  /** The setting that holds the URLs, named in errors (JIT_NOTIFY_CHANNELS). */
  channelsSetting?: string;
  groupId: string;
  retry: RetrySettings;
  logger: Logger;
  registry?: Registry;
  fetch?: FetchLike;
  /** jit's public URL, for the jit link. */
  publicUrl?: string;
  /** Each event of the log, at start (replay) and as it comes (e.g. the policy store's fold). */
  onEvent?: (event: CloudEventJson) => void;
  /** After the start-up replay, before consuming (e.g. load the policy in force). */
  afterReplay?: () => Promise<void>;
  /** Called when a policy event is handled (e.g. refresh the policy in force). */
  onPolicyEvent?: (event: CloudEventJson) => Promise<void>;
  /**
   * The producers' keys. Every event must be signed by its type's producer (PRODUCED_BY: a request,
   * a bypass, an approval by a gate; a grant by an issuer; a revocation by a revoker), or it is
   * neither announced nor folded: a forged request would send approvers to the forger's link, a
   * forged bypass raise a false alarm. Counted in jit_events_refused_total{consumer="notifier"}.
   */
  trust: ProducerTrust;
  /** (event, channel) pairs remembered as delivered within this process. Default 10000. */
  dedupeSize?: number;
}

export interface Notifier {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once consuming. */
  isRunning(): boolean;
}

type Render = (n: Notice) => unknown;
const RENDER: Record<NotifyChannelKind, Render> = { slack: slackMessage, teams: teamsMessage, webhook: webhookMessage };

export function createNotifier(o: NotifierOptions): Notifier {
  const ledger: Ledger = createLedger({ maxTimeline: 1 });
  const delivered = new LRUCache<string, true>({ max: o.dedupeSize ?? 10_000 });
  const metrics = deliveryMetrics(o.registry);
  const stopping = new AbortController();
  const setting = o.channelsSetting ?? 'JIT_NOTIFY_CHANNELS';
  let sub: Subscription | undefined;
  const refused = refusedEventsCounter(o.registry);
  let refusals = 0;
  /** False (and counted, logged) for an event no trusted producer signed. */
  const trusted = (event: CloudEventJson): boolean => {
    const check = checkProducer(o.trust, event, PRODUCED_BY);
    if (check.ok) return true;
    const r = describeRefusal(check, event);
    refused.inc({ consumer: 'notifier', ...r.labels });
    if (refusals++ < 100) o.logger.warn(r.fields, r.message);
    return false;
  };

  async function deadLetter(event: CloudEventJson, key: string, channel: string, err: JitError, attempts: number): Promise<void> {
    const { jitdlqchannel: _c, jitdlqcode: _k, jitdlqattempts: _a, jitdlqgroup: _g, ...original } = event;
    await o.bus.publish(TOPIC_NOTIFY_DEAD_LETTERS, key, { ...original, jitdlqchannel: channel, jitdlqcode: err.code, jitdlqattempts: attempts, jitdlqgroup: o.groupId });
    metrics.deliveries.inc({ consumer: 'notifier', channel, outcome: 'dead' });
    o.logger.warn({ channel, code: err.code, attempts, eventId: event.id, type: event.type, reason: err.message }, 'notification parked as a dead letter');
  }

  async function deliver(message: BusMessage, notice: Notice, channel: string, kind: NotifyChannelKind): Promise<void> {
    const mark = `${message.event.id}\u0000${channel}`;
    if (delivered.has(mark)) {
      metrics.deliveries.inc({ consumer: 'notifier', channel, outcome: 'duplicate' });
      return;
    }
    const url = o.channels.current()[channel];
    let attempts = 0;
    try {
      if (!url) throw ChannelUnconfigured(channel, setting);
      attempts = await postJson({
        name: channel,
        url,
        body: JSON.stringify(RENDER[kind](notice)),
        contentType: 'application/json',
        retry: o.retry,
        signal: stopping.signal,
        ...(o.fetch ? { fetch: o.fetch } : {}),
        onAttemptFailed: (err, n) => {
          attempts = n;
          metrics.failures.inc({ consumer: 'notifier', channel, code: (err as JitError).code ?? 'unknown' });
        },
      });
    } catch (err) {
      // stopping: leave the event uncommitted; the next start (or group member) posts it
      if (stopping.signal.aborted) throw err;
      const e = err instanceof JitError ? err : ChannelUnconfigured(channel, setting);
      await deadLetter(message.event, message.key, channel, e, attempts);
      delivered.set(mark, true);
      return;
    }
    delivered.set(mark, true);
    metrics.deliveries.inc({ consumer: 'notifier', channel, outcome: 'delivered' });
    o.logger.info({ channel, kind, attempts, eventId: message.event.id, type: message.event.type, elevationId: notice.elevationId }, 'notification delivered');
  }

  async function handle(message: BusMessage): Promise<void> {
    const event = message.event;
    if (!trusted(event)) return;
    o.onEvent?.(event);
    const name = notifyEventName(event.type);
    if (name.startsWith('policy.')) await o.onPolicyEvent?.(event);
    ledger.apply(event);
    const elevationId = typeof (event.data as { elevationId?: unknown })?.elevationId === 'string' ? (event.data as { elevationId: string }).elevationId : undefined;
    const state = elevationId ? ledger.get(elevationId) : undefined;
    const notifications = o.notifications();
    const channels = routeEvent(notifications, { name, ...(state ? { tier: state.tier, target: state.target, breakGlass: state.breakGlass } : {}) });
    if (channels.length > 0) {
      const notice = buildNotice(event, state, { ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) });
      await Promise.all(channels.map((ch) => deliver(message, notice, ch, notifications!.channels[ch]!.kind)));
    }
    metrics.lag.set({ consumer: 'notifier' }, ageSeconds(event.time));
  }

  return {
    async start() {
      await o.bus.ensureTopics([{ topic: TOPIC_NOTIFY_DEAD_LETTERS, retentionMs: -1 }]);
      // what the log already says about each elevation (a grant's notice names its request's justification)
      await o.bus.replay(TOPIC_ELEVATIONS, (m) => {
        if (!checkProducer(o.trust, m.event, PRODUCED_BY).ok) return;
        o.onEvent?.(m.event);
        ledger.apply(m.event);
      });
      await o.afterReplay?.();
      // a new group starts at the end: a first start announces what happens from now on, not the history
      sub = await o.bus.subscribe({ topic: TOPIC_ELEVATIONS, groupId: o.groupId, handler: handle, startFrom: 'latest', maxAttempts: 20, retryBackoffMs: 1000 });
    },
    async stop() {
      stopping.abort();
      await sub?.stop();
      sub = undefined;
    },
    isRunning: () => sub !== undefined,
  };
}
