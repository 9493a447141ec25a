// One bot comment per MR, edited in place: found again by a hidden HTML-comment marker.
import type { GitlabClient, Note } from './types';

/** The hidden marker line that identifies a comment we own, e.g. `<!-- jit:gate -->`. */
export function noteMarker(name: string): string {
  return `<!-- jit:${name} -->`;
}

/**
 * Finds the note carrying `marker` (written by `botUsername` when given) and edits it, or creates it.
 * Unchanged bodies are not re-written, so a redelivered event edits nothing.
 */
export async function upsertMarkedNote(
  client: GitlabClient,
  projectId: number | string,
  iid: number,
  marker: string,
  body: string,
  botUsername?: string,
): Promise<{ note: Note; action: 'created' | 'edited' | 'unchanged' }> {
  const full = `${marker}\n${body}`;
  const notes = await client.notes.all(projectId, iid);
  const mine = notes.find((n) => !n.system && n.body.startsWith(marker) && (botUsername === undefined || n.authorUsername === botUsername));
  if (!mine) return { note: await client.notes.create(projectId, iid, full), action: 'created' };
  if (mine.body === full) return { note: mine, action: 'unchanged' };
  return { note: await client.notes.edit(projectId, iid, mine.id, full), action: 'edited' };
}
