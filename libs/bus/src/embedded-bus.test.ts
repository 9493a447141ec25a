import { appendFile, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, createRegistry } from '@jit/observability';
import type { BusMessage, CloudEventJson } from './event-bus';
import { createEmbeddedBus } from './embedded-bus';
import { frameRecord } from './file-partition-log';
import { encodeRecord } from './log-store';
import { runBusContractSuite, testEvent } from './testing/contract-suite';

const silent = createLogger({ name: 'bus-test', level: 'silent' });

runBusContractSuite('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jit-bus-contract-'));
  return {
    open: () => createEmbeddedBus({ dir, logger: silent }),
    waitMs: 10_000,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('embedded bus storage', () => {
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'jit-bus-emb-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  const ids = async (dir: string, topic = 't'): Promise<string[]> => {
    const bus = await createEmbeddedBus({ dir, logger: silent });
    const out: string[] = [];
    await bus.replay(topic, (m) => void out.push(m.event.id));
    await bus.close();
    return out;
  };
  const seed = async (dir: string, n: number): Promise<string> => {
    const bus = await createEmbeddedBus({ dir, logger: silent });
    for (let i = 0; i < n; i++) await bus.publish('t', 'k', testEvent(`e${i}`));
    await bus.close();
    return join(dir, 'topics', 't', '0.log');
  };

  it('an ephemeral group leaves no offsets behind when it stops; a durable one keeps them', async () => {
    const dir = await tempDir();
    await seed(dir, 3);
    const consume = async (groupId: string, ephemeral: boolean) => {
      const bus = await createEmbeddedBus({ dir, logger: silent });
      const got: string[] = [];
      const sub = await bus.subscribe({ topic: 't', groupId, ephemeral, handler: async (m) => void got.push(m.event.id) });
      await vi.waitFor(() => expect(got).toHaveLength(3));
      await sub.stop();
      await bus.close();
      return JSON.parse(await readFile(join(dir, 'offsets.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
    };
    expect(await consume('durable', false)).toHaveProperty('durable');
    const after = await consume('private-read-model', true);
    expect(after).not.toHaveProperty('private-read-model');
    expect(after).toHaveProperty('durable');
    // a group of the same name starts afresh: it gets everything again
    expect(await consume('private-read-model', true)).not.toHaveProperty('private-read-model');
    // anything but a boolean is refused before a group is made
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await expect(bus.subscribe({ topic: 't', groupId: 'odd', ephemeral: 'yes' as unknown as boolean, handler: async () => undefined })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_INVALID_OPTIONS',
      message: expect.stringContaining('ephemeral'),
    });
    await bus.close();
  });

  it('drops a torn last record on open, keeps everything before it and the tail aside', async () => {
    const dir = await tempDir();
    const file = await seed(dir, 5);
    const { size } = await stat(file);
    await truncate(file, size - 3);
    expect(await ids(dir)).toEqual(['e0', 'e1', 'e2', 'e3']);
    const aside = (await readdir(join(dir, 'topics', 't'))).filter((f) => f.startsWith('0.log.corrupt-'));
    expect(aside).toHaveLength(1);
    // the log keeps working and the repair is not repeated
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.publish('t', 'k', testEvent('e5'));
    await bus.close();
    expect(await ids(dir)).toEqual(['e0', 'e1', 'e2', 'e3', 'e5']);
  });

  it('drops a last record whose checksum fails', async () => {
    const dir = await tempDir();
    const file = await seed(dir, 3);
    const bytes = await readFile(file);
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0xff;
    await writeFile(file, bytes);
    expect(await ids(dir)).toEqual(['e0', 'e1']);
  });

  it('drops garbage after the last record (zeros of a half-allocated extent, a torn header)', async () => {
    const dir = await tempDir();
    const file = await seed(dir, 3);
    await appendFile(file, Buffer.alloc(4096));
    expect(await ids(dir)).toEqual(['e0', 'e1', 'e2']);
    await appendFile(file, Buffer.from([0, 0, 1]));
    expect(await ids(dir)).toEqual(['e0', 'e1', 'e2']);
    await appendFile(file, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1]));
    expect(await ids(dir)).toEqual(['e0', 'e1', 'e2']);
  });

  it('dead-letters a stored record that is not a CloudEvent (byte for byte) and replay skips it', async () => {
    const dir = await tempDir();
    const file = await seed(dir, 1);
    const raw = Buffer.from('{"not":"a cloudevent"}');
    await appendFile(file, frameRecord(encodeRecord('k', raw)));
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.publish('t', 'k', testEvent('e1'));
    const dead: BusMessage[] = [];
    const good: string[] = [];
    await bus.subscribe({ topic: 't.dlq', groupId: 'watch', handler: async (m) => void dead.push(m) });
    await bus.subscribe({ topic: 't', groupId: 'g', handler: async (m) => void good.push(m.event.id) });
    await vi.waitFor(() => expect(good).toEqual(['e0', 'e1']));
    await vi.waitFor(() => expect(dead).toHaveLength(1));
    expect(dead[0]!.event).toMatchObject({ jitdlqcode: 'JIT_ERR_BUS_MALFORMED_MESSAGE', jitdlqoffset: '1', jitdlqtopic: 't' });
    expect(Buffer.from(String(dead[0]!.event['data_base64']), 'base64').toString()).toContain('{"not":"a cloudevent"}');
    const replayed: string[] = [];
    await bus.replay('t', (m) => void replayed.push(m.event.id));
    expect(replayed).toEqual(['e0', 'e1']);
    await bus.close();
  });

  it('refuses a second open of a directory in use, naming the holder, and takes over a dead holder', async () => {
    const dir = await tempDir();
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await expect(createEmbeddedBus({ dir, logger: silent })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_LOCKED',
      message: expect.stringContaining(String(process.pid)),
    });
    await bus.close();
    // a pid that is not running: a crashed holder
    await writeFile(join(dir, 'LOCK'), '4194303\n');
    const again = await createEmbeddedBus({ dir, logger: silent });
    expect(again.isReady()).toBe(true);
    await again.close();
  });

  it('acknowledges concurrent publishes with a shared fsync (group commit), all durable', async () => {
    const dir = await tempDir();
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const before = bus.stats().fsyncs;
    await Promise.all(Array.from({ length: 200 }, (_, i) => bus.publish('t', `k${i}`, testEvent(`e${i}`))));
    const used = bus.stats().fsyncs - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThan(20);
    await bus.close();
    expect(await ids(dir)).toHaveLength(200);
  });

  it('with { batchMs } gathers publishes from many turns into few fsyncs', async () => {
    const dir = await tempDir();
    const bus = await createEmbeddedBus({ dir, logger: silent, fsync: { batchMs: 30 } });
    await bus.ensureTopics([{ topic: 't' }]);
    const before = bus.stats().fsyncs;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      pending.push(bus.publish('t', 'k', testEvent(`e${i}`)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    expect(bus.stats().fsyncs - before).toBeLessThanOrEqual(4);
    await bus.close();
  });

  it('keeps committed offsets across a clean close and reopen', async () => {
    const dir = await tempDir();
    let bus = await createEmbeddedBus({ dir, logger: silent });
    for (let i = 0; i < 5; i++) await bus.publish('t', 'k', testEvent(`e${i}`));
    const first: string[] = [];
    await bus.subscribe({ topic: 't', groupId: 'g', handler: async (m) => void first.push(m.event.id) });
    await vi.waitFor(() => expect(first).toHaveLength(5));
    await bus.close();
    bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.publish('t', 'k', testEvent('e5'));
    const second: string[] = [];
    await bus.subscribe({ topic: 't', groupId: 'g', handler: async (m) => void second.push(m.event.id) });
    await vi.waitFor(() => expect(second).toEqual(['e5']));
    await bus.close();
  });

  it('saves and reloads the offsets of a group named __proto__ on a topic named __proto__', async () => {
    const dir = await tempDir();
    let bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.publish('__proto__', 'k', testEvent('e0'));
    const first: string[] = [];
    await bus.subscribe({ topic: '__proto__', groupId: '__proto__', handler: async (m) => void first.push(m.event.id) });
    await vi.waitFor(() => expect(first).toEqual(['e0']));
    await bus.close();
    expect(JSON.parse(await readFile(join(dir, 'offsets.json'), 'utf8'))).toEqual(JSON.parse('{"__proto__":{"__proto__":[1]}}'));
    bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.publish('__proto__', 'k', testEvent('e1'));
    const second: string[] = [];
    await bus.subscribe({ topic: '__proto__', groupId: '__proto__', handler: async (m) => void second.push(m.event.id) });
    await vi.waitFor(() => expect(second).toEqual(['e1']));
    await bus.close();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('refuses damaged metadata and bad options with clear errors', async () => {
    const dir = await tempDir();
    await seed(dir, 1);
    await writeFile(join(dir, 'offsets.json'), '{broken');
    await expect(createEmbeddedBus({ dir, logger: silent })).rejects.toMatchObject({ code: 'JIT_ERR_BUS_LOG_CORRUPT' });
    await rm(join(dir, 'offsets.json'));
    await writeFile(join(dir, 'topics', 't', 'meta.json'), '{"partitions":"many"}');
    await expect(createEmbeddedBus({ dir, logger: silent })).rejects.toMatchObject({ code: 'JIT_ERR_BUS_LOG_CORRUPT' });
    // a refused open leaves no lock behind
    await rm(join(dir, 'topics', 't'), { recursive: true });
    const bus = await createEmbeddedBus({ dir, logger: silent });
    await bus.close();
    await expect(createEmbeddedBus({ dir: '' })).rejects.toMatchObject({ code: 'JIT_ERR_BUS_INVALID_OPTIONS' });
    await expect(createEmbeddedBus({ dir, fsync: 'sometimes' as never })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_INVALID_OPTIONS',
    });
  });

  it('keeps a failing handler’s error text (which may hold a secret) out of logs and dead letters', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ name: 'bus', level: 'debug', destination });
    const bus = await createEmbeddedBus({ dir, logger });
    const dead: CloudEventJson[] = [];
    await bus.subscribe({ topic: 't.dlq', groupId: 'w', handler: async (m) => void dead.push(m.event) });
    await bus.subscribe({
      topic: 't',
      groupId: 'g',
      maxAttempts: 2,
      retryBackoffMs: 1,
      handler: async () => {
        throw new Error('connect failed: postgres://admin:hunter2@db/orders');
      },
    });
    await bus.publish('t', 'k', testEvent('e0'));
    await vi.waitFor(() => expect(dead).toHaveLength(1));
    await bus.close();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain('hunter2');
    expect(JSON.stringify(dead)).not.toContain('hunter2');
  });
});

describe('embedded bus metrics', () => {
  it('counts acknowledged publishes, failures and delivery outcomes per topic and group, with no keys in labels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-bus-metrics-'));
    const registry = createRegistry();
    const bus = await createEmbeddedBus({ dir, logger: silent, registry });
    try {
      await bus.publish('m', 'secret-key-1', testEvent('a'));
      await bus.publish('m', 'k', testEvent('b'));
      await expect(bus.publish('m', '', testEvent('c'))).rejects.toThrow();
      const seen: string[] = [];
      await bus.subscribe({
        topic: 'm',
        groupId: 'g1',
        maxAttempts: 1,
        handler: async (msg) => {
          if (msg.event.id === 'b') throw new Error('no');
          seen.push(msg.event.id);
        },
      });
      await vi.waitFor(() => expect(seen).toEqual(['a']));
      await vi.waitFor(async () => expect(await registry.metrics()).toContain('outcome="dead"'));
      const text = await registry.metrics();
      expect(text).toContain('jit_bus_published_total{bus="embedded",topic="m"} 2');
      expect(text).toContain('jit_bus_deliveries_total{bus="embedded",topic="m",group="g1",outcome="done"} 1');
      expect(text).toContain('jit_bus_deliveries_total{bus="embedded",topic="m",group="g1",outcome="dead"} 1');
      expect(text).not.toContain('secret-key-1');
    } finally {
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
