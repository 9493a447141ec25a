// Runs the all-in-one jit as a child process (as `npm start` does), for end-to-end suites.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface JitChild {
  url: string;
  pid: number;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `detached`: the child leads a process group of its own, as a shell's foreground job does, so a
 * test can signal the whole group the way a terminal's Ctrl-C does (`process.kill(-pid, …)`).
 */
export async function startJitProcess(env: Record<string, string>, timeoutMs = 120_000, opts: { detached?: boolean } = {}): Promise<JitChild> {
  // node --import tsx (not the tsx wrapper): the pid we signal is the jit process itself, so a
  // SIGKILL really kills it.
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps', 'jit', 'src', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, JIT_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code !== 0) out += `\n[the jit process ended: exit code ${code}, signal ${signal}]\n`;
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jit did not start within ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`jit exited with ${code} before listening:\n${out.slice(-3000)}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
