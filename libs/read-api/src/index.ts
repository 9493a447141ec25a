export { readApiPlugin } from './read-api-plugin';
export type { ReadApiOptions } from './read-api-plugin';
export { startLedgerProjection } from './projection';
export type { LedgerProjection, LedgerProjectionOptions } from './projection';
export { createElevationMetrics, eventTypeLabel, ELEVATION_METRIC_NAMES } from './elevation-metrics';
export type { ElevationMetrics } from './elevation-metrics';
export { BadQuery, CredentialEnded, CredentialNotGranted, ElevationNotFound } from './errors';
export { signingKeysPlugin } from './signing-keys-plugin';
export type { SigningKeysOptions, SigningRole } from './signing-keys-plugin';
