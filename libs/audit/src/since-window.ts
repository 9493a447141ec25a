// `--since` for CloudEvents exports that still verify (ADR 0010): the events at or after a point in
// time, each key (elevation) preceded by its last event before that time — the anchor its first
// event in the window links to. `jit audit verify --since` takes a key's first event dated before
// `since` as that anchor; without it, every elevation that began earlier would show a missing event.
// Once a key has an event in the window, all its later events are written whatever their time
// (producers' clocks differ; a skipped one would break the next link). Holds one event per key
// seen only before `since`.
import { chainKeyOf } from '@jit/contracts';

/** Whether an event's `time` is at or after `since` (no readable time: yes, it is written). */
export function isAtOrAfter(time: unknown, since: Date): boolean {
  const t = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(t) || t >= since.getTime();
}

/** Per event read in log order: what to write (nothing, the event, or the key's anchor then the event). */
export type SinceWindow = (event: Record<string, unknown>) => Record<string, unknown>[];

export function createSinceWindow(since: Date): SinceWindow {
  const anchors = new Map<string, Record<string, unknown>>();
  const started = new Set<string>();
  return (event) => {
    const key = chainKeyOf(event);
    if (started.has(key)) return [event];
    if (!isAtOrAfter(event['time'], since)) {
      anchors.set(key, event);
      return [];
    }
    started.add(key);
    const anchor = anchors.get(key);
    anchors.delete(key);
    return anchor ? [anchor, event] : [event];
  };
}
