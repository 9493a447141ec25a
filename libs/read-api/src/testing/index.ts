// Test doubles for hosts of the read API that test something else (the CLI's tables, --wait):
// every request comes from one caller (default carol, the fixtures' requester) who sees everything,
// and fetches are recorded in memory.
import type { FastifyInstance } from 'fastify';
import type { Caller } from '@jit/identity-contract';
import type { ElevationState } from '@jit/ledger';
import type { ElevationAccess } from '@jit/policy';

export interface AuditorReader {
  access: ElevationAccess;
  recordFetch: (e: ElevationState, caller: Caller) => Promise<void>;
  fetches: Array<{ elevationId: string; by: string }>;
  /** Sets `request.caller` on every request of `app` (in place of the auth plugin). */
  actAs(app: FastifyInstance): void;
}

export function auditorReader(caller: Caller = { username: 'carol', bot: false, via: 'gitlab-token' }): AuditorReader {
  const fetches: AuditorReader['fetches'] = [];
  return {
    access: { viewOf: async () => ({ auditor: true, sees: () => true }) },
    recordFetch: async (e, c) => void fetches.push({ elevationId: e.id, by: c.username }),
    fetches,
    actAs(app) {
      app.decorateRequest('caller', undefined);
      app.addHook('onRequest', async (req) => {
        req.caller = caller;
      });
    },
  };
}
