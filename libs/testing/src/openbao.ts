// A real OpenBao (Vault API) dev server from the virtualenv's `bao`: in-memory storage, unsealed,
// KV v2 at secret/, and a root token chosen here. A restart (stop/start) keeps port and token
// but, being dev mode, starts with empty storage.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startHttpServer, type HttpServerHandle } from './http-server';
import { requireInstalled, VENV_BIN } from './paths';

export interface OpenBaoHandle {
  /** `http://127.0.0.1:<port>` */
  readonly addr: string;
  /** The root token (a secret: never log it). */
  readonly token: string;
  readonly port: number;
  readonly logFile: string;
  readonly workDir: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** Same port and token; storage is empty again (dev mode keeps it in memory). */
  start(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

export interface StartServerOptions {
  port?: number;
  logFile?: string;
  detached?: boolean;
  timeoutMs?: number;
}

export async function startOpenBao(opts: StartServerOptions = {}): Promise<OpenBaoHandle> {
  const bao = requireInstalled('OpenBao', join(VENV_BIN, 'bao'));
  const token = `root-${randomBytes(18).toString('base64url')}`;
  const server = await startHttpServer({
    service: 'OpenBao',
    command: bao,
    args: (port) => ['server', '-dev', `-dev-root-token-id=${token}`, `-dev-listen-address=127.0.0.1:${port}`],
    // 200 = initialised, unsealed, active
    readyPath: '/v1/sys/health',
    readyStatus: (s) => s === 200,
    // the dev banner prints the root token and unseal key: keep them out of the log
    outputFilter: 's/^(Root Token|Unseal Key): .*/\\1: <redacted>/',
    // keep the operator's own Vault settings and the token helper out of the dev server
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', SKIP_SETCAP: '1' },
    ...opts,
  });
  return withFields(server, { addr: server.url, token });
}

function withFields<T extends object>(server: HttpServerHandle, extra: T): HttpServerHandle & T {
  return Object.defineProperties(extra, {
    port: { get: () => server.port, enumerable: true },
    logFile: { get: () => server.logFile, enumerable: true },
    workDir: { get: () => server.workDir, enumerable: true },
    pid: { get: () => server.pid, enumerable: true },
    url: { get: () => server.url, enumerable: true },
    stop: { value: () => server.stop() },
    start: { value: () => server.start() },
    kill: { value: () => server.kill() },
    dispose: { value: () => server.dispose() },
  }) as HttpServerHandle & T;
}

export { withFields };
