export { createLedger } from './ledger';
export { ELEVATION_STATES } from './types';
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
  RecordedApproval,
  RequestVersion,
  PushRecord,
  GrantOnTarget,
} from './types';
export { createChainHeads } from './chain-heads';
export type { ChainHeads } from './chain-heads';
