// Entry point of the notifier (distributed mode): parse config once, compose, open the ops
// listener, and on SIGTERM/SIGINT stop consuming, let the deliveries in flight end (an aborted one
// is posted again by the next start) and close the bus.
import { runService } from '@jit/service';
import { parseConfig } from './config';
import { buildServer } from './server';

await runService({
  name: 'notifier',
  parseConfig,
  inFlight: 'the notifications in flight',
  async start(config, logger) {
    const { app, ops } = await buildServer(config, { logger });
    await app.ready();
    const address = await ops.listen(config.ops);
    return { address, info: { ops: address }, stop: () => app.close() };
  },
});
