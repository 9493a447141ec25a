// The GitLab sandbox, through jit's own client (gitbeaker and the requester over HTTP), holds to the
// GitLab contract suite.
import { startSandbox } from '@jit/gitlab-sandbox';
import { createGitlabClient } from './gitlab-client';
import { runGitlabContractSuite } from './testing/gitlab-contract-suite';

const token = (username: string) => `${username}-contract-token-0123456789`;

runGitlabContractSuite('GitLab sandbox', async (world) => {
  const sandbox = await startSandbox({
    port: 0,
    seed: {
      users: world.users.map((u) => ({ username: u.username, token: token(u.username), bot: u.bot ?? false, ...(u.email ? { email: u.email } : {}) })),
      groups: world.groups.map((g) => ({ path: g.path, members: [...g.members] })),
      projects: world.projects.map((p) => ({
        path: p.path,
        tier: p.tier,
        files: { ...p.files },
        members: Object.entries(world.access).map(([username, level]) => ({ username, access_level: level as 10 | 20 | 30 | 40 | 50 })),
      })),
    },
  });
  return {
    client: (username) => createGitlabClient({ url: sandbox.url, token: token(username), retry: { maxAttempts: 1 } }),
    statuses: (path, sha) =>
      sandbox
        .project(path)
        .statuses.filter((s) => s.sha === sha)
        .map((s) => ({ name: s.name, state: s.status, ...(s.description ? { description: s.description } : {}) })),
    close: () => sandbox.close(),
  };
});
