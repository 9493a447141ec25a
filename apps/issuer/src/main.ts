// Entry point of the issuer (distributed mode): parse config once, compose, listen, and on
// SIGTERM/SIGINT stop consuming, finish the grant in flight and close substrates and the bus.
import { runService } from '@jit/service';
import { parseConfig } from './config';
import { buildServer } from './server';

await runService({
  name: 'issuer',
  parseConfig,
  inFlight: 'the grant in flight',
  async start(config, logger) {
    const { app, ops } = await buildServer(config, { logger });
    const address = await app.listen({ host: config.host, port: config.port });
    // the ops listener (readiness) opens only once the public port accepts connections
    const opsAddress = await ops.listen(config.ops);
    return { address, info: { ops: opsAddress, substrates: Object.keys(config.substrates) }, stop: () => app.close() };
  },
});
