// @jit/service/testing: helpers for tests of processes that read their secrets from files.
export { atomicSecretDir } from './atomic-secret-dir';
export type { AtomicSecretDir } from './atomic-secret-dir';
export { configProblems } from './config-problems';
