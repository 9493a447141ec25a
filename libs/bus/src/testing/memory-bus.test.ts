import { createMemoryStorage, openMemoryBus } from './memory-bus';
import { runBusContractSuite } from './contract-suite';

runBusContractSuite('memory', async () => {
  const storage = createMemoryStorage();
  return { open: () => openMemoryBus({ storage }), waitMs: 10_000 };
});
