// Leftovers: objects a revoked credential left behind that could act with other roles' rights, as
// the event schema takes them and as the MR comment lists them.
import { leftoverObjectSchema, markdownCode, markdownText, type LeftoverObjectData } from '@jit/contracts';

const MAX_LEFTOVER_LINES = 20;

/** Leftovers a revoke reported, as the event schema takes them: malformed entries dropped, at most 200. */
export function leftoversOf(report: unknown): LeftoverObjectData[] {
  const raw = (report as { leftovers?: unknown } | undefined)?.leftovers;
  if (!Array.isArray(raw)) return [];
  const out: LeftoverObjectData[] = [];
  for (const item of raw.slice(0, 200)) {
    const parsed = leftoverObjectSchema.safeParse(item);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

/** The MR comment's list of leftovers; names are the grantee's, so they are rendered inert (code spans, no control characters). */
export function leftoversMarkdown(leftovers: LeftoverObjectData[]): string {
  if (leftovers.length === 0) return '';
  const lines = leftovers
    .slice(0, MAX_LEFTOVER_LINES)
    .map((l) => `- ${markdownText(l.action, 40)} ${markdownText(l.kind, 80)} ${markdownCode(l.name)}${l.note ? ` — ${markdownText(l.note, 200)}` : ''}`);
  if (leftovers.length > MAX_LEFTOVER_LINES) lines.push(`- and ${leftovers.length - MAX_LEFTOVER_LINES} more (see the elevation.revoked event)`);
  return `\n\nThe credential left objects that could act with other roles' rights:\n${lines.join('\n')}`;
}
