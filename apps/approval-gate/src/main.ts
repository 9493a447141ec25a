// Entry point of approval-gate (distributed mode): parse config once, build the bus, serve the
// catalog (health/metrics on the ops listener) and consume jit.gitlab.v1. All behaviour lives in @jit/gate.
import { createEmbeddedBus, createKafkaBus, type EventBus } from '@jit/bus';
import { createEventSigner } from '@jit/contracts';
import { runService } from '@jit/service';
import { parseConfig } from './config';
import { GATE_TOPIC_SPECS, buildGateServer } from './server';
import { staticSubstrateCatalog } from '@jit/substrate-wiring';

await runService({
  name: 'approval-gate',
  parseConfig,
  inFlight: 'the webhook in flight',
  stopTimeoutMs: 20_000,
  async start(config, logger) {
    const bus: EventBus =
      config.bus.kind === 'kafka'
        ? await createKafkaBus({ brokers: config.bus.brokers, clientId: config.bus.clientId, sessionTimeoutMs: config.bus.sessionTimeoutMs, security: config.bus.security, logger })
        : await createEmbeddedBus({ dir: config.bus.dir, logger });
    await bus.ensureTopics(GATE_TOPIC_SPECS);
    const { app, ops } = await buildGateServer({
      bus,
      signer: createEventSigner(config.signingKeyPem),
      trustedGateKeys: config.trustedGateKeys,
      gitlab: config.gitlab,
      elevationsProject: config.elevationsProject,
      ...(config.botUsername ? { botUsername: config.botUsername } : {}),
      // every adapter kind's static facts: the gate opens no substrate connection
      substrates: staticSubstrateCatalog(config.substrateSettings),
      policyRefreshMs: config.policyRefreshMs,
      ...(config.policyPin ? { policyPin: config.policyPin } : {}),
      reconcileIntervalMs: config.reconcileIntervalMs,
      auth: config.auth,
      logger,
    });
    const address = await app.listen({ host: config.host, port: config.port });
    // the ops listener (readiness) opens only once the public port accepts connections
    const opsAddress = await ops.listen(config.ops);
    return {
      address,
      info: { ops: opsAddress, bus: bus.kind },
      async stop() {
        await app.close(); // stops the gate's subscriptions after the handler in flight
        await bus.close();
      },
    };
  },
});
