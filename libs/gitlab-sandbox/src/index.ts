// Public API of the GitLab sandbox: a stand-in GitLab (REST v4 + webhooks) for tests and the demo.
export { startSandbox, DEFAULT_GITLAB_VERSION } from './sandbox';
export type { Sandbox, SandboxOptions, PushInput } from './sandbox';
export { parseSeed, validateSeed, loadSeedFile, seedSchema, DEMO_SEED_PATH } from './seed';
export type { Seed, SeedInput } from './seed';
export { SandboxSeedInvalid, SandboxSeedUnknownRef, SandboxNotFound, SandboxBadArgument } from './errors';
export type { Delivery, Tier, ApprovalSettings } from './model';
