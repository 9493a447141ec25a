import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedBus } from './embedded-bus';
import { runBusContractSuite } from './testing/contract-suite';

runBusContractSuite('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jit-bus-contract-'));
  return {
    open: () => createEmbeddedBus({ dir }),
    waitMs: 10_000,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});
