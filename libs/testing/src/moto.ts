// A real moto server (AWS STS/IAM emulation) from the virtualenv. State is in memory: a restart
// keeps the port and starts empty.
import { join } from 'node:path';
import { startHttpServer } from './http-server';
import { withFields, type StartServerOptions } from './openbao';
import { requireInstalled, VENV_BIN } from './paths';

export interface MotoHandle {
  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  readonly logFile: string;
  readonly workDir: string;
  readonly pid: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startMoto(opts: StartServerOptions = {}): Promise<MotoHandle> {
  const moto = requireInstalled('moto', join(VENV_BIN, 'moto_server'));
  const server = await startHttpServer({
    service: 'moto',
    command: moto,
    args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
    readyPath: '/moto-api/',
    readyStatus: (s) => s === 200,
    env: { ...pickEnv(['PATH', 'HOME', 'LANG', 'LC_ALL']), PYTHONUNBUFFERED: '1' },
    ...opts,
  });
  return withFields(server, { endpoint: server.url });
}

function pickEnv(keys: string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of keys) if (process.env[k] !== undefined) out[k] = process.env[k];
  return out;
}
