export { contractGrantId, runSubstrateContractSuite } from './run-substrate-contract-suite';
export type { ContractCase, ContractHarness, ContractSuiteOptions, Foothold, GranteeAttacks } from './run-substrate-contract-suite';
export { createMemorySubstrate } from './memory-substrate';
export type { MemoryOperation, MemorySubstrate, MemorySubstrateOptions } from './memory-substrate';
