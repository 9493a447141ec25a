// Who is who on GitLab, as the gate asks it: a user by id (remembered for a minute, bounded) and
// usernames to the ids approval rules and issue assignees take. Groups: createGroupResolver.
import { GitlabNotFound, type GitlabClient, type GitlabUser } from '@jit/gitlab';
import type { Logger } from '@jit/observability';
import { LRUCache } from 'lru-cache';

export interface GitlabDirectory {
  /** The user, or undefined when GitLab knows no such id. */
  userById(id: number): Promise<GitlabUser | undefined>;
  /** Usernames -> GitLab user ids, for approval rules. Unknown users are skipped (and logged). */
  userIds(usernames: string[]): Promise<number[]>;
}

export function createGitlabDirectory(gitlab: Pick<GitlabClient, 'users'>, log: Pick<Logger, 'warn'>): GitlabDirectory {
  // A minute is what a blocked user or a changed bot flag may take to be seen.
  const users = new LRUCache<number, GitlabUser>({ max: 10_000, ttl: 60_000 });
  return {
    async userById(id) {
      const hit = users.get(id);
      if (hit) return hit;
      try {
        const user = await gitlab.users.show(id);
        users.set(id, user);
        return user;
      } catch (err) {
        if (GitlabNotFound.is(err)) return undefined;
        throw err;
      }
    },
    async userIds(usernames) {
      const ids: number[] = [];
      for (const name of usernames) {
        const u = await gitlab.users.byUsername(name);
        if (u) ids.push(u.id);
        else log.warn({ username: name }, 'eligible approver not found in GitLab; left out of the approval rule');
      }
      return ids;
    },
  };
}
