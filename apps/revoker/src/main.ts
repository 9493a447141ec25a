// Entry point of the revoker (distributed mode): parse config once, compose, listen, and on
// SIGTERM/SIGINT stop consuming, finish the grant in flight and close substrates and the bus.
import { createLogger } from '@jit/observability';
import { ConfigError, parseConfig } from './config';
import { buildServer } from './server';

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
  const logger = createLogger({ name: 'revoker', level: config.logLevel });
  const { app } = await buildServer(config, { logger });
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info({ address, substrates: Object.keys(config.substrates) }, 'revoker listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing the revocations in flight');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    try {
      await app.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err: { name: (err as Error)?.name } }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`revoker failed to start: ${err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err)}\n`);
  process.exit(1);
});
