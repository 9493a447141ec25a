// A consumer process that dies (SIGKILL) in the middle of a handler: the next member of its group
// gets the message again — on Kafka (after the dead member's session expires) and embedded.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '@jit/observability';
import { getKafka } from '@jit/testing';
import { createEmbeddedBus } from './embedded-bus';
import type { EventBus } from './event-bus';
import { createKafkaBus } from './kafka-bus';
import { testEvent } from './testing/contract-suite';

const ROOT = resolve(import.meta.dirname, '../../..');
const logger = createLogger({ name: 'bus-test', level: 'silent' });

async function crashMidHandler(kind: 'kafka' | 'embedded', where: string, topic: string, groupId: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/consume-hang.ts'), kind, where, topic, groupId], {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.base.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  let got: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('got ')) got ??= line.slice(4);
  });
  try {
    await vi.waitFor(() => expect(got).toBeDefined(), { timeout: 90_000, interval: 50 });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  return got!;
}

async function scenario(kind: 'kafka' | 'embedded', where: string, open: () => Promise<EventBus>): Promise<void> {
  const topic = `crash-${randomUUID().slice(0, 8)}`;
  const groupId = `${topic}-g`;
  let bus = await open();
  await bus.ensureTopics([{ topic, partitions: 1 }]);
  const first = testEvent(`${topic}-1`);
  const second = testEvent(`${topic}-2`);
  await bus.publish(topic, 'k', first);
  await bus.publish(topic, 'k', second);
  if (kind === 'embedded') await bus.close(); // single process: the child takes the directory
  expect(await crashMidHandler(kind, where, topic, groupId)).toBe(first.id);
  if (kind === 'embedded') bus = await open();
  const handled: string[] = [];
  await bus.subscribe({ topic, groupId, handler: async (m) => void handled.push(m.event.id) });
  await vi.waitFor(() => expect(handled).toContain(second.id), { timeout: 90_000, interval: 50 });
  expect(handled.slice(0, 2)).toEqual([first.id, second.id]);
  await bus.close();
}

describe('a consumer killed mid-handler', () => {
  it('embedded: the message is redelivered to the group after the process dies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-bus-crash-'));
    try {
      await scenario('embedded', dir, () => createEmbeddedBus({ dir, logger }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('kafka: the message is redelivered to the group once the dead member is gone', async () => {
    const brokers = await getKafka();
    await scenario('kafka', brokers.join(','), () => createKafkaBus({ brokers, clientId: 'crash-parent', logger }));
  });
});
