// Test doubles of libs/gitlab for other libs' unit tests.
export { createFakeGitlab } from './fake-gitlab';
export type { FakeGitlab, FakeProject, FakeMergeRequest, FakeCommitStatus } from './fake-gitlab';
