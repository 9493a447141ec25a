import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { createEmbeddedBus } from './embedded-bus';
import type { BusMessage, EventBus } from './event-bus';
import { followTopic } from './follow-topic';
import { testEvent } from './testing/contract-suite';

const silent = createLogger({ name: 'follow-test', level: 'silent' });

describe('followTopic on the embedded bus', () => {
  const open: { bus: EventBus; dir: string }[] = [];
  const embedded = async (): Promise<EventBus> => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-follow-'));
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    open.push({ bus, dir });
    return bus;
  };
  afterEach(async () => {
    for (const { bus, dir } of open.splice(0)) {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  const at = (id: string, time: string) => ({ ...testEvent(id), time });

  it('reads from the start to the end as of the call, or from a point in time, and stops', async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', at('1', '2026-01-01T00:00:00Z'));
    await bus.publish('t', 'b', at('2', '2026-01-02T00:00:00Z'));
    await bus.publish('t', 'a', { ...testEvent('3'), time: 'not a time' });
    const all: string[] = [];
    await (await followTopic(bus, { topic: 't', onEvent: (m) => void all.push(m.event.id) })).done;
    expect(all.sort()).toEqual(['1', '2', '3']);
    const later: string[] = [];
    await (await followTopic(bus, { topic: 't', since: new Date('2026-01-01T12:00:00Z'), onEvent: (m) => void later.push(m.event.id) })).done;
    // an event whose time cannot be read is passed on, never dropped
    expect(later.sort()).toEqual(['2', '3']);
  });

  it('follows what is appended after the end, and stops on request', async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', testEvent('old'));
    const seen: string[] = [];
    let wake: (() => void) | undefined;
    const follower = await followTopic(bus, {
      topic: 't',
      follow: true,
      onEvent: (m: BusMessage) => {
        seen.push(m.event.id);
        if (seen.length === 2) wake?.();
      },
    });
    const second = new Promise<void>((r) => (wake = r));
    await bus.publish('t', 'b', testEvent('new'));
    await second;
    expect(seen).toEqual(['old', 'new']);
    await follower.stop();
    await expect(follower.done).resolves.toBeUndefined();
  });

  it("a reader's failure stops it with that error and sends nothing to the dead-letter topic", async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', testEvent('x'));
    const follower = await followTopic(bus, {
      topic: 't',
      follow: true,
      onEvent: () => {
        throw new Error('stdout closed');
      },
    });
    await expect(follower.done).rejects.toThrow('stdout closed');
    const dead: string[] = [];
    await bus.ensureTopics([{ topic: 't.dlq' }]);
    await bus.replay('t.dlq', (m) => void dead.push(m.event.id));
    expect(dead).toEqual([]);
  });
});
