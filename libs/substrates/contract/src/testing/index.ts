export { contractGrantId, runSubstrateContractSuite } from './run-substrate-contract-suite';
export type { ContractCase, ContractHarness, ContractSuiteOptions } from './run-substrate-contract-suite';
export { createMemorySubstrate } from './memory-substrate';
export type { MemoryOperation, MemorySubstrate, MemorySubstrateOptions } from './memory-substrate';
