// Shared start-up: spawn a server and wait until its readiness probe passes, failing fast with
// the log's tail if the process dies first.
import { TestingErrors } from './errors';
import { spawnManaged, tailFile, type ManagedProcess, type SpawnOptions } from './managed-process';
import { waitFor } from './wait-for';

export async function spawnUntilReady(service: string, spawnOpts: SpawnOptions, ready: () => Promise<boolean>, timeoutMs: number): Promise<ManagedProcess> {
  const proc = spawnManaged(spawnOpts);
  let exitedWith: string | undefined;
  void proc.exited.then((how) => (exitedWith = how));
  try {
    await waitFor(
      async () => {
        if (exitedWith !== undefined) return true;
        return ready();
      },
      { timeoutMs, intervalMs: 100, what: `${service} to become ready` },
    );
  } catch (err) {
    await proc.stop('SIGKILL', 5_000);
    throw TestingErrors.startFailed(service, `not ready within ${timeoutMs} ms`, spawnOpts.logFile, { cause: err });
  }
  if (exitedWith !== undefined) {
    await proc.stop();
    throw TestingErrors.startFailed(service, `the process exited (${exitedWith}); last output:\n${tailFile(spawnOpts.logFile)}\n`, spawnOpts.logFile);
  }
  return proc;
}

/** Whether a start failure looks like losing a race for the port (worth a retry on new ports). */
export function isPortClash(logTail: string): boolean {
  return /address already in use|BindException|bind: address/i.test(logTail);
}
