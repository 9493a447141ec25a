// Test doubles of @jit/identity (unit tests only; integration suites use the GitLab sandbox).
export { createFakeGitlabIdentity } from './fake-gitlab-identity';
export type { FakeGitlabIdentity } from './fake-gitlab-identity';
