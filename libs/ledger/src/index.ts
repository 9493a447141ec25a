export { createLedger, ELEVATION_STATES } from './ledger';
export { InvalidFilter } from './errors';
export type {
  Ledger,
  LedgerOptions,
  ElevationState,
  ElevationStateName,
  ApprovalEntry,
  TimelineEntry,
  ApplyResult,
  ListFilter,
  LiveGrant,
  OrphanRecord,
} from './ledger';
export { createChainHeads } from './chain-heads';
export type { ChainHeads } from './chain-heads';
