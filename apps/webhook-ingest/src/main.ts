// Entry point of webhook-ingest (distributed mode): parse config, build the bus, serve the intake
// (and health, readiness and metrics on the ops listener), stop cleanly. All behaviour lives in @jit/ingest.
import Fastify, { LogController } from 'fastify';
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { TOPIC_GITLAB } from '@jit/contracts';
import { ingestPlugin } from '@jit/ingest';
import { createRegistry } from '@jit/observability';
import { createOpsServer, openSecret, runService } from '@jit/service';
import { parseConfig, signingSecrets, webhookSecrets } from './config';

/** Matches deploy/kafka/topics.yaml, so ensuring the topic never fights the deployed definition. */
const GITLAB_TOPIC_SPEC = { topic: TOPIC_GITLAB, partitions: 12, retentionMs: 14 * 24 * 3600 * 1000 };

await runService({
  name: 'webhook-ingest',
  parseConfig,
  inFlight: 'in-flight deliveries',
  stopTimeoutMs: 20_000,
  async start(config, logger) {
    const bus: EventBus =
      config.bus.kind === 'kafka'
        ? await createKafkaBus({ brokers: config.bus.brokers, clientId: config.bus.clientId, security: config.bus.security, logger, publishTimeoutMs: config.publishTimeoutMs })
        : await createEmbeddedBus({ dir: config.bus.dir, logger });
    try {
      await bus.ensureTopics([GITLAB_TOPIC_SPEC]);
    } catch (err) {
      // Topics are normally created by deploy/kafka; a principal without CreateTopics can still publish.
      logger.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, `could not ensure topic ${TOPIC_GITLAB}; publishing anyway`);
    }

    // X_FILE secrets are re-read when rotated; the plugin accepts the new one at once and the old one for graceMs.
    const tokens = openSecret({ ...config.auth.tokens, schema: webhookSecrets(), logger });
    const signing = openSecret({ ...config.auth.signingSecrets, schema: signingSecrets(), logger });
    const app = Fastify({
      loggerInstance: logger,
      // The intake logs one line per delivery itself; fastify's two per request would triple the volume.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: config.bodyLimit,
      // A sender that trickles its body cannot hold a connection: GitLab itself gives up after 10 s.
      requestTimeout: 30_000,
      forceCloseConnections: 'idle',
    });
    const registry = createRegistry({ defaultMetrics: true });
    await app.register(ingestPlugin, {
      bus,
      auth: { tokens, signingSecrets: signing, graceMs: config.auth.graceMs },
      bodyLimit: config.bodyLimit,
      publishTimeoutMs: config.publishTimeoutMs,
      dedupe: config.dedupe,
      registry,
      // health, readiness and metrics live on the ops listener, never on the port GitLab reaches
      healthRoutes: false,
      metricsRoute: false,
      logger,
    });
    const ops = createOpsServer({ registry, logger, closeWith: app, readiness: () => ({ ready: bus.isReady(), detail: { bus: bus.isReady() } }) });
    const address = await app.listen({ host: config.host, port: config.port });
    // the ops listener (readiness) opens only once the public port accepts connections
    const opsAddress = await ops.listen(config.ops);
    return {
      address,
      info: { ops: opsAddress, bus: bus.kind },
      async stop() {
        await app.close(); // stops accepting, answers in-flight requests, closes the dedupe log
        await bus.close(); // flushes the producer
        tokens.close();
        signing.close();
      },
    };
  },
});
