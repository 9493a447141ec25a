import { startKafka, type KafkaHandle } from '@jit/testing';
import { createLogger } from '@jit/observability';
import { createKafkaBus } from './kafka-bus';
import { runBusContractSuite } from './testing/contract-suite';

// A private broker: the suite stops and restarts it, which must not disturb other suites.
runBusContractSuite('kafka', async () => {
  const kafka: KafkaHandle = await startKafka();
  const logger = createLogger({ name: 'bus-test', level: 'silent' });
  let n = 0;
  return {
    open: () => createKafkaBus({ brokers: kafka.brokers, clientId: `bus-contract-${++n}`, logger }),
    outage: { stop: () => kafka.stop(), start: () => kafka.start() },
    waitMs: 60_000,
    dispose: () => kafka.dispose(),
  };
});
