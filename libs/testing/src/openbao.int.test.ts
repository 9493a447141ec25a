import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenBao, type OpenBaoHandle } from './openbao';
import { getVault } from './services';
import { uniqueName } from './unique-name';
import { waitFor } from './wait-for';

async function vault(addr: string, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('getVault (shared OpenBao)', () => {
  it('is initialised, unsealed and active', async () => {
    const { addr } = await getVault();
    const res = await fetch(`${addr}/v1/sys/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ initialized: true, sealed: false });
  });

  it('writes and reads back a KV v2 secret with the root token, and refuses a wrong token', async () => {
    const { addr, token } = await getVault();
    const path = `secret/data/${uniqueName('kv')}`;
    const put = await vault(addr, token, 'POST', path, { data: { answer: '42' } });
    expect(put.status).toBe(200);
    const got = await vault(addr, token, 'GET', path);
    expect(((await got.json()) as { data: { data: unknown } }).data.data).toEqual({ answer: '42' });
    expect((await vault(addr, 'not-the-token', 'GET', path)).status).toBe(403);
  });
});

describe('startOpenBao (private server)', () => {
  let bao: OpenBaoHandle;
  beforeAll(async () => {
    bao = await startOpenBao();
  });
  afterAll(async () => {
    await bao?.dispose();
  });

  it('keeps the root token out of its log (the dev banner prints it)', async () => {
    // the banner comes last, possibly after the health check already passed
    await waitFor(() => readFileSync(bao.logFile, 'utf8').includes('Root Token: <redacted>'), {
      timeoutMs: 10_000,
      what: 'the dev banner in the log',
    });
    expect(readFileSync(bao.logFile, 'utf8')).not.toContain(bao.token);
  });

  it('restarts on the same address with the same token (dev mode: storage starts empty)', async () => {
    const path = `secret/data/${uniqueName('restart')}`;
    expect((await vault(bao.addr, bao.token, 'POST', path, { data: { a: '1' } })).status).toBe(200);
    await bao.stop();
    await expect(fetch(`${bao.addr}/v1/sys/health`)).rejects.toThrow();
    await bao.start();
    expect((await fetch(`${bao.addr}/v1/sys/health`)).status).toBe(200);
    expect((await vault(bao.addr, bao.token, 'GET', path)).status).toBe(404);
    expect((await vault(bao.addr, bao.token, 'GET', 'auth/token/lookup-self')).status).toBe(200);
    expect(readFileSync(bao.logFile, 'utf8')).not.toContain(bao.token);
  });
});

describe('startOpenBao on a taken port', () => {
  it('fails with the server output instead of waiting for the timeout, leaving nothing behind', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const before = Date.now();
      const err = (await startOpenBao({ port, timeoutMs: 60_000 }).catch((e: unknown) => e)) as { code: string; message: string };
      expect(err.code).toBe('JIT_ERR_TESTING_START_FAILED');
      expect(err.message).toMatch(/the process exited/);
      expect(err.message).toMatch(/address already in use/i);
      expect(Date.now() - before).toBeLessThan(30_000);
      const logDir = /(\/\S+\/jit-openbao-[A-Za-z0-9]+)\//.exec(err.message)?.[1];
      expect(logDir).toBeDefined();
      expect(existsSync(logDir ?? '/')).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
