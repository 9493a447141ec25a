// A min-heap of grant ids by due time: the revoker's schedule. O(log n) add/remove, so 10k+
// live grants cost nothing; removal is lazy (stale entries are skipped when popped).

interface Entry {
  grantId: string;
  dueAt: number;
  seq: number;
}

export class DueQueue {
  private heap: Entry[] = [];
  private current = new Map<string, number>(); // grantId -> seq of its live entry
  private seq = 0;

  get size(): number {
    return this.current.size;
  }

  /** Schedules (or reschedules) a grant. */
  set(grantId: string, dueAt: number): void {
    const seq = ++this.seq;
    this.current.set(grantId, seq);
    this.push({ grantId, dueAt, seq });
  }

  delete(grantId: string): void {
    this.current.delete(grantId);
  }

  has(grantId: string): boolean {
    return this.current.has(grantId);
  }

  clear(): void {
    this.heap = [];
    this.current.clear();
  }

  /** Due time of the earliest live entry. */
  peekDueAt(): number | undefined {
    this.dropStale();
    return this.heap[0]?.dueAt;
  }

  /** Removes and returns every live entry due at or before `now`, earliest first. */
  popDue(now: number, limit = Infinity): Array<{ grantId: string; dueAt: number }> {
    const out: Array<{ grantId: string; dueAt: number }> = [];
    while (out.length < limit) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.dueAt > now) return out;
      this.pop();
      this.current.delete(top.grantId);
      out.push({ grantId: top.grantId, dueAt: top.dueAt });
    }
    return out;
  }

  private dropStale(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.current.get(top.grantId) === top.seq) return;
      this.pop();
    }
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}
