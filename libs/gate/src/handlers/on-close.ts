// MR closed without merge: a pending request is withdrawn (elevation.withdrawn) and the comment says so.
import { EVENT_TYPES, elevationId as toElevationId } from '@jit/contracts';
import { baseView, writeComment } from '../comment-view';
import type { GateContext, MrEvent } from '../gate-context';

export async function onClose(ctx: GateContext, ev: MrEvent, sourceId: string): Promise<void> {
  const elevation = toElevationId(ev.projectId, ev.mrIid);
  const e = ctx.ledger.get(elevation);
  if (!e || ctx.ledger.isDecided(elevation) || ctx.ledger.phase(elevation) === 'withdrawn') return;
  await ctx.emit(
    EVENT_TYPES.withdrawn,
    { elevationId: elevation, projectId: ev.projectId, mrIid: ev.mrIid, by: ev.actor.username, reason: 'merge request closed without merge' },
    `${elevation}:withdrawn:${sourceId}`,
  );
  const view = await baseView(ctx, ev, elevation);
  await writeComment(ctx, ev, { ...view, withdrawn: `closed by ${ev.actor.username}` });
}
