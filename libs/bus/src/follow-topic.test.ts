import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { createEmbeddedBus } from './embedded-bus';
import type { BusMessage, EventBus } from './event-bus';
import { followLog, followTopic } from './follow-topic';
import { testEvent } from './testing/contract-suite';

const silent = createLogger({ name: 'follow-test', level: 'silent' });

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

describe('followTopic on the embedded bus', () => {
  const at = (id: string, time: string) => ({ ...testEvent(id), time });

  it('reads from the start to the end as of the call, or from a point in time, and stops', async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', at('1', '2026-01-01T00:00:00Z'));
    await bus.publish('t', 'b', at('2', '2026-01-02T00:00:00Z'));
    await bus.publish('t', 'a', { ...testEvent('3'), time: 'not a time' });
    const all: string[] = [];
    await (
      await followTopic(bus, { topic: 't', onEvent: (m) => void all.push(m.event.id) })
    ).done;
    expect(all.sort()).toEqual(['1', '2', '3']);
    const later: string[] = [];
    await (
      await followTopic(bus, { topic: 't', since: new Date('2026-01-01T12:00:00Z'), onEvent: (m) => void later.push(m.event.id) })
    ).done;
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

describe('followLog on the embedded bus', () => {
  /** The bus, with a hook called each time the follow's subscription receives an event (before followLog's handler). */
  const watched = (bus: EventBus, received: (m: BusMessage) => void): EventBus =>
    Object.assign(Object.create(bus) as EventBus, {
      subscribe: (o: Parameters<EventBus['subscribe']>[0]) =>
        bus.subscribe({
          ...o,
          handler: async (m: BusMessage) => {
            received(m);
            await o.handler(m);
          },
        }),
    });

  it('replays history first, then hands over what arrived during the replay, then follows live — none lost, none ahead of history', async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', testEvent('old-1'));
    await bus.publish('t', 'a', testEvent('old-2'));
    let arrived: (() => void) | undefined;
    const during = new Promise<void>((r) => (arrived = r));
    const spy = watched(bus, (m) => m.event.id === 'during' && arrived?.());
    const seen: string[] = [];
    let wake: (() => void) | undefined;
    const follower = await followLog(spy, {
      topic: 't',
      groupId: 'follow-log-1',
      onEvent: async (m, live) => {
        seen.push(`${m.event.id}:${live ? 'live' : 'replay'}`);
        if (m.event.id === 'old-1' && !live) {
          // published after the follow was pinned, during the replay: the follow receives it now
          await bus.publish('t', 'a', testEvent('during'));
          await during;
        }
        if (m.event.id === 'new') wake?.();
      },
    });
    // the replay and what arrived meanwhile are handed over before followLog resolves
    expect(seen).toEqual(['old-1:replay', 'old-2:replay', 'during:live']);
    const next = new Promise<void>((r) => (wake = r));
    await bus.publish('t', 'b', testEvent('new'));
    await next;
    expect(seen).toEqual(['old-1:replay', 'old-2:replay', 'during:live', 'new:live']);
    await follower.stop();
  });

  it('a failed replay rejects and stops its follow (no group is left behind for a read model that was never built)', async () => {
    const bus = await embedded();
    await bus.publish('t', 'a', testEvent('old'));
    const seen: string[] = [];
    const stopped: string[] = [];
    const spy = Object.assign(Object.create(bus) as EventBus, {
      subscribe: async (o: Parameters<EventBus['subscribe']>[0]) => {
        const sub = await bus.subscribe(o);
        return { groupId: sub.groupId, topic: sub.topic, stop: async () => (stopped.push(sub.groupId), sub.stop()) };
      },
    });
    await expect(
      followLog(spy, {
        topic: 't',
        groupId: 'follow-log-2',
        onEvent: (m) => {
          seen.push(m.event.id);
          throw new Error('read model broken');
        },
      }),
    ).rejects.toThrow('read model broken');
    expect(seen).toEqual(['old']);
    expect(stopped).toEqual(['follow-log-2']);
  });
});
