// Composes the notifier process (distributed mode): Kafka bus, the policy in force (folded from the
// log's policy events, read from GitLab at the ratified commit, refreshed on each policy event and
// every JIT_POLICY_REFRESH_MS), the webhook URLs (JIT_NOTIFY_CHANNELS[_FILE], re-read when rotated)
// and the notifier; the HTTP sink when JIT_SINK_URL is set; health, readiness and metrics on the ops listener. main.ts supplies config;
// tests inject deps.
import Fastify, { type FastifyInstance } from 'fastify';
import { createKafkaBus, type EventBus } from '@jit/bus';
import { producerTrust } from '@jit/contracts';
import { createGitlabClient, type FetchFn } from '@jit/gitlab';
import { createLogger, createRegistry, type Logger } from '@jit/observability';
import { createNotifier, notifyChannelsSchema, openHttpSink, type FetchLike, type HttpSink, type Notifier } from '@jit/notify';
import { createPolicyStore, type SubstrateCatalog } from '@jit/policy';
import { createOpsServer, gitlabClientToken, openGitlabToken, openSecret } from '@jit/service';
import type { NotifierAppConfig } from './config';

export interface NotifierServerDeps {
  logger?: Logger;
  /** A bus to use instead of connecting to config.kafka (closed by the caller). */
  bus?: EventBus;
  /** GitLab transport (tests). */
  gitlabFetch?: FetchFn;
  /** Webhook transport (tests); default global fetch. */
  fetch?: FetchLike;
}

export interface NotifierServer {
  /** Closing it stops consuming, finishes the deliveries in flight and closes clients. */
  app: FastifyInstance;
  /** /healthz, /readyz, /metrics: listen on config.ops; closed with `app`. */
  ops: FastifyInstance;
  notifier: Notifier;
  sink?: HttpSink;
}

/**
 * The notifier issues nothing: it takes a policy the gate ratified as it is, so every substrate a
 * target names is accepted here (the gate and the issuer check them against real instances).
 */
const ANY_SUBSTRATE: SubstrateCatalog = new Proxy({}, { get: () => ({ validateScope: () => [] }) });

export async function buildServer(config: NotifierAppConfig, deps: NotifierServerDeps = {}): Promise<NotifierServer> {
  const logger = deps.logger ?? createLogger({ name: 'notifier', level: config.logLevel as 'info' });
  const ownBus = !deps.bus;
  const bus =
    deps.bus ?? (await createKafkaBus({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, sessionTimeoutMs: config.kafka.sessionTimeoutMs, security: config.kafka.security, logger }));
  const cleanups: Array<() => Promise<unknown>> = [];
  if (ownBus) cleanups.push(() => bus.close());
  try {
    const registry = createRegistry({ defaultMetrics: true });
    const token = openGitlabToken(config.gitlab, logger);
    cleanups.unshift(async () => token.close());
    const gitlab = createGitlabClient({ url: config.gitlab.url, token: gitlabClientToken(token), ...(deps.gitlabFetch ? { fetch: deps.gitlabFetch } : {}), logger });
    const project = await gitlab.projects.show(config.elevationsProject);
    const policyStore = createPolicyStore({ gitlab, projectId: project.id, substrates: ANY_SUBSTRATE, logger });
    const refresh = async () => {
      const status = await policyStore.refresh();
      if (status.error) logger.warn({ code: status.error.code }, 'no policy in force yet: nobody is notified until one is ratified');
    };
    const urls = openSecret({
      setting: 'JIT_NOTIFY_CHANNELS',
      value: config.notify.channels.value,
      ...(config.notify.channels.file ? { file: config.notify.channels.file } : {}),
      schema: notifyChannelsSchema(),
      logger,
    });
    cleanups.unshift(async () => urls.close());
    const notifier = createNotifier({
      bus,
      groupId: config.kafka.groupId,
      notifications: () => policyStore.peek()?.policy.notifications,
      channels: urls,
      retry: config.notify.retry,
      logger,
      registry,
      trust: producerTrust(config.signing.trusted),
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      onEvent: (event) => void policyStore.apply(event),
      afterReplay: () => refresh().catch((err: unknown) => logger.warn({ code: (err as { code?: string })?.code }, 'policy refresh failed')),
      // a ratification changes who hears what: load it now (a failure keeps the version in force; the timer retries)
      onPolicyEvent: () => refresh().catch((err: unknown) => logger.warn({ code: (err as { code?: string })?.code }, 'policy refresh failed')),
    });
    await notifier.start();
    cleanups.unshift(() => notifier.stop());
    let sink: HttpSink | undefined;
    if (config.sink) {
      const opened = openHttpSink(config.sink, { bus, logger, registry, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
      cleanups.unshift(async () => opened.close());
      sink = opened.sink;
      await sink.start();
      cleanups.unshift(() => sink!.stop());
    }
    const timer = setInterval(() => void refresh().catch(() => undefined), config.policyRefreshMs);
    timer.unref();
    cleanups.unshift(async () => clearInterval(timer));

    const app = Fastify({ loggerInstance: logger });
    const ops = createOpsServer({
      registry,
      logger,
      closeWith: app,
      readiness: () => ({
        ready: bus.isReady() && notifier.isRunning() && (!sink || sink.isRunning()),
        detail: { bus: bus.isReady(), policy: policyStore.status().version ?? null, channels: Object.keys(urls.current()).length, sink: sink ? sink.isRunning() : 'off' },
      }),
    });
    app.addHook('onClose', async () => {
      for (const c of cleanups) await c().catch((err: unknown) => logger.warn({ err: { name: (err as Error)?.name } }, 'error while closing'));
    });
    return { app: app as unknown as FastifyInstance, ops, notifier, ...(sink ? { sink } : {}) };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
}
