// Approver groups → their members, as the jit bot sees them on GitLab (inherited members
// included), with GitLab's bot flag checked through the users API (the members API does not carry
// it). Shared by the gate (approval rules, the catalog) and the read API's access checks, so "who is
// in a group" is decided one way everywhere.
import { GitlabNotFound, type GitlabClient } from '@jit/gitlab';
import type { Logger } from '@jit/observability';
import type { GroupResolver } from '@jit/policy';
import { LRUCache } from 'lru-cache';

export function createGroupResolver(gitlab: Pick<GitlabClient, 'groupMembers' | 'users'>, log: Pick<Logger, 'error'>): GroupResolver {
  // GitLab's bot flag of a user does not change for a given account; an hour bounds how long a
  // reused id could keep an old answer, and `max` how many are kept.
  const botFlags = new LRUCache<number, Promise<boolean>>({ max: 10_000, ttl: 3_600_000 });
  const isBotUser = (id: number): Promise<boolean> => {
    let p = botFlags.get(id);
    if (!p) {
      p = gitlab.users.show(id).then(
        (u) => u.bot,
        (err: unknown) => {
          botFlags.delete(id); // a lookup failure is not remembered
          throw err;
        },
      );
      botFlags.set(id, p);
    }
    return p;
  };
  return async (group) => {
    try {
      // GitLab's members API does not say who is a bot: ask the users API (cached), so bots
      // never land in an approval rule or the catalog.
      const members = await gitlab.groupMembers.all(group);
      return Promise.all(members.map(async (u) => ({ username: u.username, bot: u.bot || (await isBotUser(u.id)) })));
    } catch (err) {
      // A group the bot cannot see yields no approvers: the request is then rejected with an explanation.
      if (GitlabNotFound.is(err)) {
        log.error({ group }, 'approver group not found or not visible to the jit bot; grant the bot Reporter on it');
        return [];
      }
      throw err;
    }
  };
}
