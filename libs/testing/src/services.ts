// The shared services for integration tests. `scripts/services/start.sh` starts them once per
// run and exports JIT_TEST_*; when a variable is missing (one test file run alone), the service
// is started here, once per test process, and reaped when the process exits.
import { TestingErrors } from './errors';
import { startKafka } from './kafka';
import { startMoto } from './moto';
import { startOpenBao } from './openbao';
import { startPostgres } from './postgres';

export interface VaultService {
  addr: string;
  token: string;
}

export interface Services {
  kafkaBrokers: string[];
  vault: VaultService;
  awsEndpoint: string;
  pgUrl: string;
}

export const SERVICE_ENV = {
  kafka: 'JIT_TEST_KAFKA_BROKERS',
  vaultAddr: 'JIT_TEST_VAULT_ADDR',
  vaultToken: 'JIT_TEST_VAULT_TOKEN',
  aws: 'JIT_TEST_AWS_ENDPOINT',
  pg: 'JIT_TEST_PG_URL',
} as const;

const MAX_VALUE = 4096;
const HOST_PORT = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;

function value(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = env[key];
  if (v === undefined || v.trim() === '') return undefined;
  if (v.length > MAX_VALUE) throw TestingErrors.badEnv(key, `at most ${MAX_VALUE} characters`);
  return v.trim();
}

function httpUrl(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const v = value(env, key);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw TestingErrors.badEnv(key, 'an http(s) URL such as http://127.0.0.1:8200');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) {
    throw TestingErrors.badEnv(key, 'an http(s) URL without credentials such as http://127.0.0.1:8200');
  }
  return v.replace(/\/+$/, '');
}

/** Kafka brokers from `host:port[,host:port...]`; undefined when unset. */
export function parseKafkaEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  const v = value(env, SERVICE_ENV.kafka);
  if (v === undefined) return undefined;
  const brokers = v.split(',').map((b) => b.trim());
  for (const b of brokers) {
    const port = Number(b.split(':').pop());
    if (!HOST_PORT.test(b) || port < 1 || port > 65535) {
      throw TestingErrors.badEnv(SERVICE_ENV.kafka, 'comma-separated host:port pairs such as 127.0.0.1:9092');
    }
  }
  return brokers;
}

/** Vault address and token; both or neither (a half-configured Vault is a mistake, not a default). */
export function parseVaultEnv(env: NodeJS.ProcessEnv): VaultService | undefined {
  const addr = httpUrl(env, SERVICE_ENV.vaultAddr);
  const token = value(env, SERVICE_ENV.vaultToken);
  if (addr === undefined && token === undefined) return undefined;
  if (addr === undefined) throw TestingErrors.badEnv(SERVICE_ENV.vaultAddr, `to be set together with ${SERVICE_ENV.vaultToken}`);
  if (token === undefined) throw TestingErrors.badEnv(SERVICE_ENV.vaultToken, `to be set together with ${SERVICE_ENV.vaultAddr}`);
  // never echo the token: only its shape is checked
  if (!/^[\x21-\x7e]+$/.test(token)) throw TestingErrors.badEnv(SERVICE_ENV.vaultToken, 'printable ASCII without spaces');
  return { addr, token };
}

export function parseAwsEnv(env: NodeJS.ProcessEnv): string | undefined {
  return httpUrl(env, SERVICE_ENV.aws);
}

export function parsePgEnv(env: NodeJS.ProcessEnv): string | undefined {
  const v = value(env, SERVICE_ENV.pg);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw TestingErrors.badEnv(SERVICE_ENV.pg, 'a URL such as postgres://user:pw@127.0.0.1:5432/postgres');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw TestingErrors.badEnv(SERVICE_ENV.pg, 'a postgres:// URL');
  }
  return v;
}

const started = new Map<string, Promise<unknown>>();

/** Memoised per process; a failed start is forgotten so the next caller may try again. */
function once<T>(key: string, start: () => Promise<T>): Promise<T> {
  let p = started.get(key) as Promise<T> | undefined;
  if (!p) {
    p = start();
    started.set(key, p);
    p.catch(() => started.delete(key));
  }
  return p;
}

export function getKafka(): Promise<string[]> {
  const fromEnv = parseKafkaEnv(process.env);
  if (fromEnv) return Promise.resolve(fromEnv);
  return once('kafka', async () => (await startKafka()).brokers);
}

export function getVault(): Promise<VaultService> {
  const fromEnv = parseVaultEnv(process.env);
  if (fromEnv) return Promise.resolve(fromEnv);
  return once('vault', async () => {
    const bao = await startOpenBao();
    return { addr: bao.addr, token: bao.token };
  });
}

export function getMoto(): Promise<string> {
  const fromEnv = parseAwsEnv(process.env);
  if (fromEnv) return Promise.resolve(fromEnv);
  return once('moto', async () => (await startMoto()).endpoint);
}

export function getPostgres(): Promise<string> {
  const fromEnv = parsePgEnv(process.env);
  if (fromEnv) return Promise.resolve(fromEnv);
  return once('postgres', async () => (await startPostgres()).url);
}

/** All four. Prefer the single getters: a test that needs only Kafka should not start OpenBao. */
export async function getServices(): Promise<Services> {
  const [kafkaBrokers, vault, awsEndpoint, pgUrl] = await Promise.all([getKafka(), getVault(), getMoto(), getPostgres()]);
  return { kafkaBrokers, vault, awsEndpoint, pgUrl };
}
