// The all-in-one process's optional consumers of the log, each its own consumer group and never in
// the pipeline's way: the chat notifier (JIT_NOTIFY_CHANNELS) and the HTTP sink to a SIEM (JIT_SINK_URL).
import type { EventBus } from '@jit/bus';
import type { ProducerTrust } from '@jit/contracts';
import { createNotifier, notifyChannelsSchema, openHttpSink, type HttpSink, type Notifier } from '@jit/notify';
import type { Logger, Registry } from '@jit/observability';
import type { PolicyStore } from '@jit/policy';
import { openSecret } from '@jit/service';
import type { JitConfig } from './config';

interface Parts {
  bus: EventBus;
  registry: Registry;
  logger: Logger;
  /** Where what is opened here registers its stop. */
  closers: Array<() => Promise<unknown>>;
}

/**
 * The notifier, when JIT_NOTIFY_CHANNELS (or its file) names webhook URLs: routed by the policy in
 * force (which the gate keeps fresh). Undefined without channels.
 */
export function openChatNotifier(config: JitConfig, p: Parts & { policyStore: PolicyStore; trust: ProducerTrust }): Notifier | undefined {
  if (!config.notify.channels.file && Object.keys(config.notify.channels.value).length === 0) return undefined;
  const { logger } = p;
  const urls = openSecret({
    setting: 'JIT_NOTIFY_CHANNELS',
    value: config.notify.channels.value,
    ...(config.notify.channels.file ? { file: config.notify.channels.file } : {}),
    schema: notifyChannelsSchema(),
    logger,
  });
  p.closers.push(async () => urls.close());
  return createNotifier({
    bus: p.bus,
    groupId: 'jit-notifier',
    notifications: () => p.policyStore.peek()?.policy.notifications,
    channels: urls,
    retry: config.notify.retry,
    logger: logger.child({ component: 'notifier' }),
    registry: p.registry,
    trust: p.trust,
    publicUrl: config.publicUrl,
  });
}

/** The HTTP sink, when JIT_SINK_URL is set: every event to the SIEM, signed, in batches. */
export function openSink(config: JitConfig, p: Parts): HttpSink | undefined {
  if (!config.sink) return undefined;
  const opened = openHttpSink(config.sink, { bus: p.bus, logger: p.logger.child({ component: 'sink' }), registry: p.registry });
  p.closers.push(async () => opened.close());
  return opened.sink;
}
