// What the read API answers (GET /v1/elevations, GET /v1/elevations/:id): the ledger's view of an
// elevation without its sealed credential.
import type { ElevationState } from '@jit/ledger';

export type Elevation = Omit<ElevationState, 'sealedCredential' | 'credentialSignature'>;
