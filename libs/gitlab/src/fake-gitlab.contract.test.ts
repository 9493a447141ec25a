// FakeGitlab (the in-memory GitlabClient other libs' unit tests use) holds to the GitLab contract suite.
import { createFakeGitlab } from './testing/fake-gitlab';
import { runGitlabContractSuite } from './testing/gitlab-contract-suite';

runGitlabContractSuite('FakeGitlab', async (world) => {
  const fake = createFakeGitlab({ botUsername: world.bot });
  for (const u of world.users) if (u.username !== world.bot) fake.addUser(u.username, { bot: u.bot, email: u.email });
  for (const g of world.groups) fake.addGroup(g.path, [...g.members]);
  world.projects.forEach((p, i) => fake.addProject({ id: 100 + i, path: p.path, tier: p.tier, files: { ...p.files } }));
  const byPath = (path: string) => [...fake.projects.values()].find((p) => p.path === path)!;
  return {
    client: (username) => fake.client(username),
    statuses: (path, sha) => byPath(path).statuses.filter((s) => s.sha === sha),
  };
});
