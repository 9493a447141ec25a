// Start-up for the HTTP servers from the virtualenv (OpenBao, moto): free port, spawn, poll an
// HTTP readiness URL, retry on a lost port race; stop/start keep the port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import { tailFile, type ManagedProcess } from './managed-process';
import { isPortClash, spawnUntilReady } from './server-start';
import { watchDirectory } from './watchdog';

export interface HttpServerHandle {
  readonly port: number;
  readonly url: string;
  readonly logFile: string;
  readonly workDir: string;
  readonly pid: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

export interface HttpServerSpec {
  service: string;
  command: string;
  args: (port: number) => string[];
  readyPath: string;
  /** Status codes that mean "up" for readyPath. */
  readyStatus: (status: number) => boolean;
  port?: number;
  logFile?: string;
  detached?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  outputFilter?: string;
}

export async function startHttpServer(spec: HttpServerSpec): Promise<HttpServerHandle> {
  const workDir = mkdtempSync(join(tmpdir(), `jit-${spec.service.toLowerCase()}-`));
  const logFile = spec.logFile ?? join(workDir, 'server.log');
  let port = spec.port ?? 0;
  let proc: ManagedProcess | undefined;
  const watchdog = spec.detached ? undefined : watchDirectory(workDir, join(workDir, 'server.pid'), 'SIGKILL');
  const launch = async (): Promise<void> => {
    const p = port;
    proc = await spawnUntilReady(
      spec.service,
      {
        command: spec.command,
        args: spec.args(p),
        logFile,
        cwd: workDir,
        env: spec.env,
        outputFilter: spec.outputFilter,
        detached: spec.detached ?? false,
        pidFile: join(workDir, 'server.pid'),
      },
      async () => {
        const res = await fetch(`http://127.0.0.1:${p}${spec.readyPath}`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return spec.readyStatus(res.status);
      },
      spec.timeoutMs ?? 60_000,
    );
  };
  try {
    for (let attempt = 1; ; attempt++) {
      if (spec.port === undefined) port = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        if (attempt >= 3 || spec.port !== undefined || !isPortClash(tailFile(logFile, 40))) throw err;
      }
    }
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    watchdog?.disarm();
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    logFile,
    workDir,
    get pid() {
      return proc?.isRunning() ? proc.pid : -1;
    },
    async stop() {
      await proc?.stop('SIGTERM', 15_000);
    },
    async kill() {
      await proc?.stop('SIGKILL', 5_000);
    },
    async start() {
      if (proc?.isRunning()) return;
      await launch();
    },
    async dispose() {
      await proc?.stop('SIGTERM', 15_000);
      rmSync(workDir, { recursive: true, force: true });
      watchdog?.disarm();
    },
  };
}
