// A note `/jit revoke [reason]` on an MR: by the requester (agents included: revoking only lowers
// privilege) or an eligible human approver, on an approved or granted elevation, it becomes
// elevation.revoke.requested; anyone else, or nothing live, gets a reply saying why not.
import { EVENT_TYPES, elevationId as toElevationId } from '@jit/contracts';
import { noteMarker, upsertMarkedNote } from '@jit/gitlab';
import { isEligibleApprover } from '@jit/policy';
import { ANY_HUMAN, type GateContext, type MrEvent } from '../gate-context';

const REVOKE_RE = /^\s*\/jit\s+revoke\b[ \t]*(.*)$/m;

export async function onRevokeCommand(ctx: GateContext, ev: MrEvent): Promise<void> {
  const { gitlab, botUsername } = ctx;
  const note = ev.note;
  if (!note || note.system || ev.actor.username === botUsername) return;
  const m = REVOKE_RE.exec(note.body);
  if (!m) return;
  const elevation = toElevationId(ev.projectId, ev.mrIid);
  const e = ctx.ledger.get(elevation);
  const marker = noteMarker(`revoke:${note.id}`);
  const reply = (text: string) => upsertMarkedNote(gitlab, ev.projectId, ev.mrIid, marker, text, botUsername);
  const req = ctx.ledger.request(elevation)?.data;
  if (!e || !req || !(e.state === 'approved' || e.state === 'granted')) {
    await reply(`@${ev.actor.username} \`/jit revoke\`: nothing to revoke — this MR has no live grant.`);
    return;
  }
  if (e.revokeRequested) {
    await reply(`\`/jit revoke\`: revocation of \`${e.grantId}\` is already requested.`);
    return;
  }
  const user = await ctx.directory.userById(ev.actor.id);
  const isRequester = user?.username.toLowerCase() === req.requester.toLowerCase();
  const policy = (await ctx.policyNow()).policy;
  const approver =
    user !== undefined &&
    isEligibleApprover(
      { username: user.username, bot: user.bot },
      { anyHuman: req.eligibleApprovers.includes(ANY_HUMAN), groups: [], users: req.eligibleApprovers },
      { usernames: req.eligibleApprovers.filter((u) => u !== ANY_HUMAN) },
      { agents: policy.agents },
    ).eligible;
  // The requester may always give up its own grant, agents (bot users) included: revoking only
  // lowers privilege. Anyone else must be an eligible (human) approver.
  if (!user || (!isRequester && !approver)) {
    await reply(`@${ev.actor.username} \`/jit revoke\` refused: only the requester or an eligible approver may revoke this grant.`);
    return;
  }
  const grant = e.grantId;
  const reason = m[1]?.trim().slice(0, 500) || 'requested via /jit revoke';
  await ctx.emit(
    EVENT_TYPES.revokeRequested,
    { elevationId: elevation, ...(grant ? { grantId: grant } : {}), requestedBy: user.username, reason },
    `${elevation}:revoke:${note.id}`,
    req.breakGlass ? 'high' : undefined,
  );
  await reply(`\`/jit revoke\` by ${user.username}: revocation of \`${grant}\` requested.`);
}
