export { readApiPlugin } from './read-api-plugin';
export type { ReadApiOptions } from './read-api-plugin';
export { startLedgerProjection } from './projection';
export type { LedgerProjection } from './projection';
export { BadQuery, CredentialEnded, CredentialNotGranted, ElevationNotFound } from './errors';
