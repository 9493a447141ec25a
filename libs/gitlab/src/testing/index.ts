// Test doubles of libs/gitlab for other libs' unit tests, and the contract suite both GitLab doubles pass.
export { createFakeGitlab } from './fake-gitlab';
export type { FakeGitlab, FakeProject, FakeMergeRequest, FakeCommitStatus } from './fake-gitlab';
export { runGitlabContractSuite, GITLAB_CONTRACT_WORLD } from './gitlab-contract-suite';
export type { GitlabContractHarness, GitlabContractWorld } from './gitlab-contract-suite';
