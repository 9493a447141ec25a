// One server process: spawned with its output in a log file, stopped politely then firmly, and —
// when owned by a test process rather than start.sh — reaped by a watchdog if that process dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface SpawnOptions {
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** true: a daemon for start.sh (own session, outlives this process). */
  detached: boolean;
  /** Holds the pid while the process runs (the watchdog reads it; see watchdog.ts). */
  pidFile?: string;
  /**
   * A `sed -E` script the output passes through before it reaches the log, for servers that
   * print secrets (OpenBao's dev banner shows the root token). The server keeps its own pid:
   * bash execs it with its output going to a sed process substitution.
   */
  outputFilter?: string;
}

export interface ManagedProcess {
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<string>;
  isRunning(): boolean;
  /** `signal` (default SIGTERM), then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  const [command, args] =
    opts.outputFilter === undefined ? [opts.command, opts.args] : ['bash', ['-c', 'f=$1; shift; exec "$@" > >(exec sed -u -E "$f") 2>&1', 'filter', opts.outputFilter, opts.command, ...opts.args]];
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: opts.detached,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let running = child.pid !== undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve(signal ?? String(code));
    });
    child.once('error', (err) => {
      running = false;
      resolve(`spawn error: ${err.message}`);
    });
  });
  if (opts.detached) child.unref();
  const pid = child.pid ?? -1;
  const pidFile = opts.pidFile;
  if (pidFile !== undefined && pid > 0) {
    writeFileSync(pidFile, `${pid}\n`);
    void exited.then(() => rmSync(pidFile, { force: true }));
  }

  return {
    pid,
    exited,
    isRunning: () => running,
    async stop(signal = 'SIGTERM', graceMs = 30_000) {
      if (running) {
        child.kill(signal);
        const outcome = await Promise.race([exited, delay(graceMs, 'grace-expired')]);
        if (outcome === 'grace-expired' && running) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      await exited;
    },
  };
}

/** The last `lines` lines of a log, for error messages. */
export function tailFile(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
