export { createRevoker } from './revoker';
export type { LiveGrant, MrNotifier, Revoker, RevokerOptions, SubstrateLookup } from './revoker-types';
export { DueQueue } from './due-queue';
export { CannotRevokeEarly, RevokeFailed } from './errors';
