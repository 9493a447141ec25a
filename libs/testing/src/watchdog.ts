// Reaps a server when the test process that owns it dies, however it dies (even SIGKILL, which
// runs no exit hook), and whatever state the server is in (running, restarted, stopped): a tiny
// shell blocks reading a pipe from this process; the pipe closes when this process ends, and the
// shell then signals the pid found in the server's pid file — if that process is still the server —
// and deletes the server's directory.
import { spawn } from 'node:child_process';

export interface Watchdog {
  /** The directory was disposed of on purpose: stand down. */
  disarm(): void;
}

/**
 * Watches `dir` for this process. `pidFile`'s first line names the server's current pid (it may
 * change across restarts, or be absent while stopped); `signal` is sent to it on orphaning.
 */
export function watchDirectory(dir: string, pidFile: string, signal: NodeJS.Signals): Watchdog {
  const script = [
    'cat >/dev/null',
    'pid=$(head -n 1 "$1" 2>/dev/null | tr -dc 0-9)',
    // The pid file may be stale (the server ended on its own) and its pid reused: pid_max is 32768
    // here, and a busy machine wraps it in minutes. So only a process that is the server — its
    // command line names a path in `dir`, or it runs in `dir` — is signalled; anything else is left.
    'ours() { tr "\\000" "\\n" < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$0/" && return 0; ' + 'case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$0"|"$0"/*) return 0;; esac; return 1; }',
    'if [ -n "$pid" ] && ours; then kill -s "$2" "$pid" 2>/dev/null; i=0; ' + 'while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 150 ]; do sleep 0.2; i=$((i+1)); done; fi',
    'rm -rf -- "$0"',
  ].join('; ');
  const dog = spawn('sh', ['-c', script, dir, pidFile, signal.replace(/^SIG/, '')], {
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
