// The log-bus engine's committed offsets: group → topic → next offset per partition, held in maps
// (a group or topic named `__proto__` stays data), saved to the store 20 ms after a change (a crash
// redelivers at most what was handled meanwhile) and at once on flush (stop, close).
import type { Logger } from '@jit/observability';
import { errorFields } from './delivery';
import type { LogStore, OffsetsDoc, TopicLog } from './log-store';
import type { ResolvedSubscribeOptions } from './validate';

const OFFSETS_SAVE_DELAY_MS = 20;

export class LogOffsets {
  /** Maps, not objects: a group or topic named `__proto__` must stay data. */
  private offsets = new Map<string, Map<string, number[]>>();
  private offsetsTimer: NodeJS.Timeout | undefined;
  private offsetsSaving: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LogStore,
    private readonly logger: Logger,
  ) {}

  /** Loads committed offsets; call once before use. */
  async load(): Promise<void> {
    const doc = await this.store.loadOffsets();
    for (const [groupId, byTopic] of Object.entries(doc)) {
      if (!byTopic || typeof byTopic !== 'object') continue;
      this.offsets.set(groupId, new Map(Object.entries(byTopic).filter(([, v]) => Array.isArray(v))));
    }
  }

  /** Where a group starts on a topic: its saved offsets (capped at the ends), else the start or the ends. */
  initial(options: ResolvedSubscribeOptions, log: TopicLog): number[] {
    let byTopic = this.offsets.get(options.groupId);
    if (!byTopic) this.offsets.set(options.groupId, (byTopic = new Map()));
    const saved = byTopic.get(options.topic);
    const committed = log.partitions.map((p, i) => {
      const s = saved?.[i];
      return typeof s === 'number' && Number.isInteger(s) && s >= 0 ? Math.min(s, p.end) : options.startFrom === 'latest' ? p.end : 0;
    });
    byTopic.set(options.topic, committed);
    if (!saved) this.scheduleSave();
    return committed;
  }

  /** Records the group's offsets on the topic (the array the group commits into). */
  commit(groupId: string, topic: string, committed: number[]): void {
    let byTopic = this.offsets.get(groupId);
    if (!byTopic) this.offsets.set(groupId, (byTopic = new Map()));
    byTopic.set(topic, committed);
    this.scheduleSave();
  }

  /** Forgets an ephemeral group's offsets on the topic. */
  drop(groupId: string, topic: string): void {
    const byTopic = this.offsets.get(groupId);
    byTopic?.delete(topic);
    if (byTopic?.size === 0) this.offsets.delete(groupId);
  }

  private scheduleSave(): void {
    if (this.offsetsTimer) return;
    this.offsetsTimer = setTimeout(() => {
      this.offsetsTimer = undefined;
      void this.save();
    }, OFFSETS_SAVE_DELAY_MS);
  }

  private save(): Promise<void> {
    // Object.fromEntries defines own properties, so even `__proto__` is saved as a plain key.
    const snapshot: OffsetsDoc = Object.fromEntries([...this.offsets].map(([g, byTopic]) => [g, Object.fromEntries([...byTopic].map(([t, o]) => [t, [...o]]))]));
    this.offsetsSaving = this.offsetsSaving
      .then(() => this.store.saveOffsets(snapshot))
      .catch((err) => {
        // Losing a commit only means redelivery (at-least-once); keep going.
        this.logger.error(errorFields(err), 'could not save consumer offsets');
      });
    return this.offsetsSaving;
  }

  async flush(): Promise<void> {
    if (this.offsetsTimer) {
      clearTimeout(this.offsetsTimer);
      this.offsetsTimer = undefined;
    }
    await this.save();
  }
}
