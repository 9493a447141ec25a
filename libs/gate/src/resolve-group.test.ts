import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '@jit/bus/testing';
import type { GitlabClient } from '@jit/gitlab';
import { createFakeGitlab } from '@jit/gitlab/testing';
import { createLogger } from '@jit/observability';
import { createPolicyStore } from '@jit/policy';
import { createGate } from './approval-gate';

describe('approver groups', () => {
  it('finds the bots among group members through the users API (GitLab members do not say)', async () => {
    const gl = createFakeGitlab({ botUsername: 'jit-bot' });
    gl.addUser('carol');
    gl.addUser('ci-bot', { bot: true });
    gl.addGroup('platform', ['carol', 'ci-bot']);
    const client = gl.client();
    // as real GitLab answers /groups/:id/members/all: no bot flag
    const gitlab: GitlabClient = {
      ...client,
      groupMembers: { all: async (g) => (await client.groupMembers.all(g)).map((u) => ({ ...u, bot: false })) },
    };
    const logger = createLogger({ name: 't', level: 'silent' });
    const gate = createGate({
      bus: createMemoryBus(),
      gitlab,
      policyStore: createPolicyStore({ gitlab, projectId: 1, substrates: {}, logger }),
      logger,
      botUsername: 'jit-bot',
    });
    expect(await gate.resolveGroup('platform')).toEqual([
      { username: 'carol', bot: false },
      { username: 'ci-bot', bot: true },
    ]);
  });
});
