// Entry point of webhook-ingest (distributed mode): parse config, build the bus, serve the intake,
// stop cleanly. All behaviour lives in @jit/ingest.
import Fastify, { LogController } from 'fastify';
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { TOPIC_GITLAB } from '@jit/contracts';
import { ingestPlugin } from '@jit/ingest';
import { createLogger, createRegistry } from '@jit/observability';
import { ConfigError, parseConfig } from './config';

/** Matches deploy/kafka/topics.yaml, so ensuring the topic never fights the deployed definition. */
const GITLAB_TOPIC_SPEC = { topic: TOPIC_GITLAB, partitions: 12, retentionMs: 14 * 24 * 3600 * 1000 };

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: 'webhook-ingest', level: config.logLevel });
  const bus: EventBus =
    config.bus.kind === 'kafka'
      ? await createKafkaBus({ brokers: config.bus.brokers, clientId: config.bus.clientId, logger, publishTimeoutMs: config.publishTimeoutMs })
      : await createEmbeddedBus({ dir: config.bus.dir, logger });
  try {
    await bus.ensureTopics([GITLAB_TOPIC_SPEC]);
  } catch (err) {
    // Topics are normally created by deploy/kafka; a principal without CreateTopics can still publish.
    logger.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, `could not ensure topic ${TOPIC_GITLAB}; publishing anyway`);
  }

  const app = Fastify({
    loggerInstance: logger,
    // The intake logs one line per delivery itself; fastify's two per request would triple the volume.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // A sender that trickles its body cannot hold a connection: GitLab itself gives up after 10 s.
    requestTimeout: 30_000,
    forceCloseConnections: 'idle',
  });
  await app.register(ingestPlugin, {
    bus,
    auth: config.auth,
    bodyLimit: config.bodyLimit,
    publishTimeoutMs: config.publishTimeoutMs,
    dedupe: config.dedupe,
    registry: createRegistry({ defaultMetrics: true }),
    logger,
  });
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info({ address, bus: bus.kind }, 'webhook-ingest listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: draining in-flight deliveries');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 20 s; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    try {
      await app.close(); // stops accepting, answers in-flight requests, closes the dedupe log
      await bus.close(); // flushes the producer
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`webhook-ingest failed to start: ${err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)}\n`);
  process.exit(1);
});
