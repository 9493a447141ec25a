// Public API of the GitLab sandbox: a stand-in GitLab (REST v4 + webhooks) for tests and the demo.
export { startSandbox, DEFAULT_GITLAB_VERSION } from './sandbox';
export type { Sandbox, SandboxOptions, SandboxPersistence, PushInput } from './sandbox';
export { issueCiIdToken, CI_ID_TOKEN_DEFAULT_TTL_SECONDS } from './ci-id-token';
export type { CiIdTokenInput } from './ci-id-token';
export { CI_ID_TOKEN_ROUTE, discoveryDocument } from './routes/oidc';
export { snapshotState, restoreState, readStateFile, writeStateFile, loadStateFile, createStateSaver } from './persist';
export { STATE_FORMAT_VERSION } from './persist-format';
export type { StateSaver, StateSaverOptions } from './persist';
export { parseSeed, validateSeed, loadSeedFile, seedSchema, DEMO_SEED_PATH } from './seed';
export type { Seed, SeedInput } from './seed';
export { SandboxSeedInvalid, SandboxSeedUnknownRef, SandboxNotFound, SandboxBadArgument, SandboxStateCorrupt, SandboxStateVersion, SandboxStateTooLarge, SandboxStateUnwritable } from './errors';
export type { Delivery, Tier, ApprovalSettings } from './model';
export { OAUTH_CODE_TTL_SECONDS, OAUTH_TOKEN_TTL_SECONDS } from './oauth';
export type { OAuthApplication } from './oauth';
