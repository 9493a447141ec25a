// A push to the elevations repo (dev.jit.gitlab.push.v1), recorded on the log (pushRecorded) so
// who pushed to an MR is known after restarts and on every replica. Deleting a branch adds nothing
// to any MR: not recorded.
import { EVENT_TYPES, type GitlabPushData } from '@jit/contracts';
import type { GateContext } from '../gate-context';

/** Returns the outcome label: `push`, `push_ignored` or `other_project`. */
export async function onPush(ctx: GateContext, push: GitlabPushData, sourceId: string): Promise<string> {
  if (String(push.projectId) !== String(ctx.policyStore.projectId)) return 'other_project';
  const sha = /^[0-9a-f]{40,64}$/;
  if (/^0+$/.test(push.after) || !sha.test(push.after) || !sha.test(push.before) || !/^[1-9][0-9]*$/.test(String(push.actor.id))) return 'push_ignored';
  await ctx.emit(
    EVENT_TYPES.pushRecorded,
    {
      projectId: push.projectId,
      branch: push.branch.slice(0, 255),
      pusher: push.actor.username,
      pusherId: push.actor.id,
      before: push.before,
      after: push.after,
      commits: push.commits
        .map((c) => c.id)
        .filter((c) => sha.test(c))
        .slice(0, 100),
      totalCommits: push.totalCommits,
      at: push.delivery.receivedAt,
    },
    `push:${sourceId}`,
  );
  return 'push';
}
