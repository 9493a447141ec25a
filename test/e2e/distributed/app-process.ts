// Runs one distributed-mode app (apps/<name>/src/main.ts) as its own process for end-to-end
// suites: node --import tsx (so a signal hits the app itself, not a wrapper), 127.0.0.1 on a port
// chosen by the caller and its own ops port (JIT_OPS_PORT), ready once the ops listener's GET /readyz answers 200; stdout+stderr kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = join(import.meta.dirname, '..', '..', '..');

export type AppName = 'webhook-ingest' | 'approval-gate' | 'issuer' | 'revoker';

export interface AppProcess {
  name: AppName;
  url: string;
  /** The ops listener: /healthz, /readyz, /metrics. */
  opsUrl: string;
  pid: number;
  /** Everything the process wrote so far (pino JSON lines and any stderr). */
  output(): string;
  /** Signals the process and waits for it to exit; resolves its exit code (null when signalled). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code (null when signalled) once the process has exited, for whatever reason. */
  readonly exited: Promise<number | null>;
}

export async function startApp(name: AppName, at: { port: number; opsPort: number }, env: Record<string, string>, timeoutMs = 120_000): Promise<AppProcess> {
  const { port, opsPort } = at;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps', name, 'src', 'main.ts')], {
    cwd: ROOT,
    // Only PATH/HOME from the test process: no JIT_TEST_* or cloud credentials leak into the app.
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), JIT_OPS_PORT: String(opsPort), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const app: AppProcess = {
    name,
    url,
    opsUrl,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode} before it was ready:\n${out.slice(-4000)}`);
    const ready = await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ready) return app;
    if (Date.now() > deadline) {
      await app.stop('SIGKILL');
      throw new Error(`${name} was not ready (GET /readyz 200) within ${timeoutMs} ms:\n${out.slice(-4000)}`);
    }
    await delay(200);
  }
}
