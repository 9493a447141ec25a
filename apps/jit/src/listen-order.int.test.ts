// Readiness must never say ready before the public port accepts connections: a probe that sees 200 on
// the ops listener while the public port is not open (or cannot open) routes users to a dead pod.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { buildJit, type JitProcess } from './server';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

it('opens no ops listener (no /readyz) when the public port cannot be opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jit-listen-order-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // someone else holds the public port
  const squatter: Server = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
  const publicPort = (squatter.address() as { port: number }).port;
  const opsPort = await freePort();
  const config = parseConfig({
    JIT_DATA_DIR: dir,
    JIT_NO_DEMO_DB: '1',
    JIT_PORT: String(publicPort),
    JIT_OPS_PORT: String(opsPort),
    JIT_SANDBOX_PORT: String(await freePort()),
    JIT_SWEEP_INTERVAL_MS: '0',
  });
  const jit: JitProcess = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'error' }) });
  cleanups.push(() => jit.close());
  await expect(jit.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  expect(await refused(opsPort)).toBe(true);
}, 120_000);
