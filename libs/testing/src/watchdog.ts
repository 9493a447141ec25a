// Reaps a server when the test process that owns it dies, however it dies (even SIGKILL, which
// runs no exit hook): a tiny shell blocks reading a pipe from this process; the pipe closes
// when this process ends, and the shell then signals the server and removes its data.
import { spawn } from 'node:child_process';

export interface Watchdog {
  /** The server was stopped on purpose: stand down. */
  disarm(): void;
}

export function startWatchdogFor(pid: number, signal: NodeJS.Signals, cleanupDir?: string): Watchdog {
  const script =
    'cat >/dev/null; kill -s "$1" "$0" 2>/dev/null; ' +
    'i=0; while kill -0 "$0" 2>/dev/null && [ "$i" -lt 150 ]; do sleep 0.2; i=$((i+1)); done; ' +
    'if [ -n "$2" ]; then rm -rf -- "$2"; fi';
  const dog = spawn('sh', ['-c', script, String(pid), signal.replace(/^SIG/, ''), cleanupDir ?? ''], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    disarm() {
      // killing the process group takes the blocked `cat` with it
      try {
        if (dog.pid) process.kill(-dog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}
