export { createMemoryBus, createMemoryStorage, openMemoryBus } from './memory-bus';
export type { MemoryBusOptions, MemoryBusStorage } from './memory-bus';
export { runBusContractSuite, testEvent } from './contract-suite';
export type { BusContractHarness } from './contract-suite';
