/** A set that forgets its oldest entries beyond `max` (ids already handled, kept bounded). */
export class LruSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  has(k: string): boolean {
    return this.items.has(k);
  }
  add(k: string): void {
    this.items.delete(k);
    this.items.add(k);
    while (this.items.size > this.max) this.items.delete(this.items.values().next().value as string);
  }
}
