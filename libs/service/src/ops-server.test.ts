import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, createRegistry } from '@jit/observability';
import { opsEnv, opsFromEnv, serverEnv, serverFromEnv } from './env-schemas';
import { createOpsServer } from './ops-server';
import { parseEnv } from './parse-env';

const logger = createLogger({ name: 'ops-test', level: 'silent' });

describe('the ops listener', () => {
  it('serves health, readiness from the process and its registry', async () => {
    const registry = createRegistry();
    registry.registerMetric(new (await import('prom-client')).Counter({ name: 'jit_test_total', help: 'a test counter', registers: [] }));
    let ready = false;
    const ops = createOpsServer({ registry, logger, readiness: () => ({ ready, detail: { bus: ready } }) });
    expect((await ops.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const notReady = await ops.inject({ url: '/readyz' });
    expect([notReady.statusCode, notReady.json()]).toEqual([503, { status: 'not_ready', bus: false }]);
    ready = true;
    expect((await ops.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await ops.inject({ url: '/metrics' })).body).toMatch(/^jit_test_total 0$/m);
    expect((await ops.inject({ url: '/v1/elevations' })).statusCode).toBe(404);
    await ops.close();
  });

  it('turns not ready as soon as the public app starts closing, and closes after it', async () => {
    const app = Fastify();
    const ops = createOpsServer({ registry: createRegistry(), logger, closeWith: app, readiness: () => ({ ready: true }) });
    const opsUrl = await ops.listen({ host: '127.0.0.1', port: 0 });
    let readyWhileClosing: number | undefined;
    app.addHook('onClose', async () => {
      readyWhileClosing = (await fetch(`${opsUrl}/readyz`)).status;
    });
    await app.close();
    expect(readyWhileClosing).toBe(503);
    await expect(fetch(`${opsUrl}/healthz`)).rejects.toThrow();
  });

  it('reads JIT_OPS_PORT / JIT_OPS_HOST with loopback 9464 by default, in every server config', () => {
    expect(opsFromEnv(parseEnv(z.object(opsEnv()), {}))).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(serverFromEnv(parseEnv(z.object(serverEnv(8081)), { JIT_OPS_PORT: '9100', JIT_OPS_HOST: '0.0.0.0' })).ops).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(() => parseEnv(z.object(opsEnv()), { JIT_OPS_PORT: '70000' })).toThrow(/JIT_OPS_PORT/);
  });
});
