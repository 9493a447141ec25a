// Error catalogue of libs/ledger. Documented in docs/errors.md (## ledger).
import { defineError } from '@jit/errors';

/** A list() filter the ledger cannot apply (unparseable date, unknown state). */
export const InvalidFilter = defineError<[string]>('JIT_ERR_LEDGER_INVALID_FILTER', 'invalid ledger filter: %s; pass states from ELEVATION_STATES and dates as ISO 8601 strings or Date objects', {
  statusCode: 400,
});
