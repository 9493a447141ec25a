import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { serverEnv } from './env-schemas';
import { parseEnv } from './parse-env';
import { runService, type ProcessLike } from './run-service';

class ConfigError extends Error {
  override name = 'ConfigError';
}

function fakeProcess(env: Record<string, string> = {}) {
  const exits: number[] = [];
  const stderr: string[] = [];
  const handlers = new Map<string, () => void>();
  let exited!: (code: number) => void;
  // Resolves with the first exit code: a stop is awaited as an event, never a sleep.
  const firstExit = new Promise<number>((resolve) => (exited = resolve));
  const proc: ProcessLike = {
    env,
    exit: (code) => {
      exits.push(code);
      exited(code);
    },
    on: (signal, listener) => handlers.set(signal, listener),
    stderr: { write: (t) => stderr.push(t) },
  };
  return { proc, exits, stderr, firstExit, signal: (s: string) => handlers.get(s)?.() };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('runService', () => {
  it('exits 2 with the config message on a bad setting, before starting anything', async () => {
    const p = fakeProcess();
    let started = false;
    await runService(
      {
        name: 't',
        parseConfig: () => {
          throw new ConfigError('invalid configuration:\n  PORT: must be a number');
        },
        start: async () => {
          started = true;
          return { address: 'x', stop: async () => undefined };
        },
      },
      p.proc,
    );
    expect(p.exits).toEqual([2]);
    expect(p.stderr.join('')).toMatch(/PORT: must be a number/);
    expect(started).toBe(false);
  });

  it('prints the parseEnv message as it is and exits 2, never echoing a value', async () => {
    const p = fakeProcess({ PORT: 'glpat-secret-port-value', LOG_LEVEL: 'loud' });
    await runService(
      {
        name: 'issuer',
        parseConfig: (env) => ({ logLevel: parseEnv(z.object(serverEnv(8081)), env, { service: 'issuer' }).LOG_LEVEL }),
        start: async () => ({ address: 'x', stop: async () => undefined }),
      },
      p.proc,
    );
    expect(p.exits).toEqual([2]);
    expect(p.stderr).toEqual(['invalid issuer configuration:\n  PORT: must be a whole number from 0 to 65535\n  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent\n']);
  });

  it('formats a bare ZodError from parseConfig the same way (exit 2)', async () => {
    const p = fakeProcess({ PORT: 'glpat-secret-port-value' });
    await runService(
      {
        name: 'revoker',
        parseConfig: (env) => ({ logLevel: z.object(serverEnv(8082)).parse(env).LOG_LEVEL }),
        start: async () => ({ address: 'x', stop: async () => undefined }),
      },
      p.proc,
    );
    expect(p.exits).toEqual([2]);
    expect(p.stderr).toEqual(['invalid revoker configuration:\n  PORT: must be a whole number from 0 to 65535\n']);
  });

  it('lets any other parseConfig failure through (a bug, not a bad setting)', async () => {
    const p = fakeProcess();
    const bug = new TypeError('cannot read properties of undefined');
    await expect(
      runService(
        {
          name: 't',
          parseConfig: () => {
            throw bug;
          },
          start: async () => ({ address: 'x', stop: async () => undefined }),
        },
        p.proc,
      ),
    ).rejects.toBe(bug);
    expect(p.exits).toEqual([]);
  });

  it('exits 1 with one line when start-up fails', async () => {
    const p = fakeProcess();
    await runService(
      {
        name: 'issuer',
        parseConfig: () => ({ logLevel: 'silent' }),
        start: async () => {
          throw Object.assign(new Error('no broker answered'), { code: 'JIT_ERR_BUS_UNAVAILABLE' });
        },
      },
      p.proc,
    );
    expect(p.exits).toEqual([1]);
    expect(p.stderr).toEqual(['issuer failed to start: JIT_ERR_BUS_UNAVAILABLE: no broker answered\n']);
  });

  it('stops once on SIGTERM (exit 0), and exits 1 when stopping fails', async () => {
    const p = fakeProcess();
    let stops = 0;
    await runService({ name: 't', parseConfig: () => ({ logLevel: 'silent' }), start: async () => ({ address: 'a', stop: async () => void stops++ }) }, p.proc);
    p.signal('SIGTERM');
    p.signal('SIGINT');
    expect(await p.firstExit).toBe(0);
    expect(stops).toBe(1);
    expect(p.exits).toEqual([0]);

    const q = fakeProcess();
    await runService(
      {
        name: 't',
        parseConfig: () => ({ logLevel: 'silent' }),
        start: async () => ({
          address: 'a',
          stop: async () => {
            throw new Error('close failed');
          },
        }),
      },
      q.proc,
    );
    q.signal('SIGINT');
    expect(await q.firstExit).toBe(1);
    expect(q.exits).toEqual([1]);
  });

  it('exits 1 when a graceful stop outlives its deadline', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = fakeProcess();
    await runService({ name: 't', parseConfig: () => ({ logLevel: 'silent' }), stopTimeoutMs: 20, start: async () => ({ address: 'a', stop: () => new Promise(() => undefined) }) }, p.proc);
    p.signal('SIGTERM');
    await vi.advanceTimersByTimeAsync(19);
    expect(p.exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(p.exits).toEqual([1]);
  });
});
