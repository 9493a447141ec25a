import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DueQueue } from './due-queue';

describe('DueQueue', () => {
  it('pops due grants earliest first and keeps the rest', () => {
    const q = new DueQueue();
    q.set('c', 30);
    q.set('a', 10);
    q.set('b', 20);
    expect(q.popDue(20).map((e) => e.grantId)).toEqual(['a', 'b']);
    expect(q.size).toBe(1);
    expect(q.peekDueAt()).toBe(30);
  });

  it('reschedules and deletes without leaving ghosts', () => {
    const q = new DueQueue();
    q.set('a', 10);
    q.set('a', 50);
    q.set('b', 5);
    q.delete('b');
    expect(q.popDue(20)).toEqual([]);
    expect(q.popDue(50)).toEqual([{ grantId: 'a', dueAt: 50 }]);
    expect(q.size).toBe(0);
    expect(q.peekDueAt()).toBeUndefined();
  });

  it('matches a sorted reference for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1000 }))), fc.integer({ min: 0, max: 1000 }), (ops, now) => {
        const q = new DueQueue();
        const ref = new Map<string, number>();
        for (const [op, id, due] of ops) {
          const key = `g${id}`;
          if (op === 'set') {
            q.set(key, due);
            ref.set(key, due);
          } else {
            q.delete(key);
            ref.delete(key);
          }
        }
        const expected = [...ref.entries()]
          .filter(([, d]) => d <= now)
          .map(([, d]) => d)
          .sort((a, b) => a - b);
        const got = q.popDue(now).map((e) => e.dueAt);
        expect(got).toEqual(expected);
        expect(q.size).toBe([...ref.values()].filter((d) => d > now).length);
      }),
    );
  });
});
