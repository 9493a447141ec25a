// Entry point of approval-gate (distributed mode): parse config once, build the bus, serve the
// catalog/health/metrics and consume jit.gitlab.v1. All behaviour lives in @jit/gate.
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { createLogger } from '@jit/observability';
import { ConfigError, parseConfig } from './config';
import { GATE_TOPIC_SPECS, buildGateServer } from './server';
import { substrateFacts } from './substrate-facts';

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
  const logger = createLogger({ name: 'approval-gate', level: config.logLevel });
  const bus: EventBus =
    config.bus.kind === 'kafka'
      ? await createKafkaBus({ brokers: config.bus.brokers, clientId: config.bus.clientId, logger })
      : await createEmbeddedBus({ dir: config.bus.dir, logger });
  await bus.ensureTopics(GATE_TOPIC_SPECS);
  const facts = substrateFacts(logger, { gcpExtendedLifetime: config.gcpExtendedLifetime });
  const app = await buildGateServer({
    bus,
    gitlab: config.gitlab,
    elevationsProject: config.elevationsProject,
    ...(config.botUsername ? { botUsername: config.botUsername } : {}),
    substrates: facts.catalog,
    policyRefreshMs: config.policyRefreshMs,
    logger,
  });
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info({ address, bus: bus.kind }, 'approval-gate listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing the webhook in flight');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 20 s; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    try {
      await app.close(); // stops the gate's subscriptions after the handler in flight
      await facts.close();
      await bus.close();
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
  process.stderr.write(
    `approval-gate failed to start: ${err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)}\n`,
  );
  process.exit(1);
});
