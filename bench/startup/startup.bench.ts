// Start-up time to GET /readyz 200 (on the ops port) and resident memory at that moment, for every
// `jit serve` mode, from source (`node --import tsx apps/<app>/src/main.ts`, how it ran before the
// build) and from the build (`node dist/apps/jit/jit.js serve <mode>`, production).
//   npm run build && npx tsx bench/startup/startup.bench.ts     (BENCH_RUNS, default 5)
// Distributed services run on Kafka (KAFKA_BROKERS or JIT_TEST_KAFKA_BROKERS, e.g. from
// `npm run services:setup` + scripts/services/start.sh) against a GitLab sandbox in this process;
// the issuer and revoker configure the aws-sts substrate (JIT_TEST_AWS_ENDPOINT: moto), the
// all-in-one runs in sandbox mode without the demo database. One process at a time.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { createEventSigner, generateSigningKeyPem } from '@jit/contracts';
import { startSandbox, type SeedInput } from '@jit/gitlab-sandbox';
import { policyBlobSha } from '@jit/policy';
import { freePort, REPO_ROOT } from '@jit/testing';

type Mode = 'all' | 'webhook-ingest' | 'approval-gate' | 'issuer' | 'revoker';
const MODES: Mode[] = ['all', 'webhook-ingest', 'approval-gate', 'issuer', 'revoker'];
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const brokers = process.env['KAFKA_BROKERS'] ?? process.env['JIT_TEST_KAFKA_BROKERS'];
const moto = process.env['JIT_TEST_AWS_ENDPOINT'];
if (!brokers || !moto) throw new Error('set KAFKA_BROKERS (or JIT_TEST_KAFKA_BROKERS) and JIT_TEST_AWS_ENDPOINT (scripts/services/start.sh writes them)');
if (!existsSync(join(REPO_ROOT, 'dist/apps/jit/jit.js'))) throw new Error('run `npm run build` first');

const PROJECT = 'ops/elevations';
const policy = `tiers:
  reversible-write: { ttlMax: 2h, approvals: 2, approvers: { groups: [platform] } }
agents: [deploy-agent]
policyApprovers: { groups: [security], approvals: 2 }
targets:
  orders-aws:
    substrate: aws-sts
    scopes:
      write:
        tier: reversible-write
        roleArn: "arn:aws:iam::123456789012:role/jit-bench"
        sessionPolicy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Action: "s3:PutObject", Resource: "*" }] }
`;
const seed = parseYaml(await readFile(join(REPO_ROOT, 'deploy/sandbox/demo-seed.yaml'), 'utf8')) as { projects: Array<Record<string, unknown>> };
const project = seed.projects.find((p) => p['path'] === PROJECT)!;
project['files'] = { 'policy.yaml': policy };
delete project['files_from'];
const sandbox = await startSandbox({ seed: seed as unknown as SeedInput });
const dir = await mkdtemp(join(tmpdir(), 'jit-bench-startup-'));

const keys: Record<'gate' | 'issuer' | 'revoker', { file: string; x: string }> = {} as never;
for (const role of ['gate', 'issuer', 'revoker'] as const) {
  const pem = generateSigningKeyPem();
  const file = join(dir, `${role}.pem`);
  await writeFile(file, pem, { mode: 0o600 });
  keys[role] = { file, x: createEventSigner(pem).publicKey.x };
}
const gitlab = { GITLAB_URL: sandbox.url, GITLAB_TOKEN: 'jit-bot-token-0001', JIT_ELEVATIONS_PROJECT: PROJECT };
const substrates = JSON.stringify({
  'aws-sts': { region: 'us-east-1', endpoint: moto, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, roles: ['arn:aws:iam::123456789012:role/jit-bench'] },
});
const kafka = { KAFKA_BROKERS: brokers };

function envFor(mode: Mode, run: number): Record<string, string> {
  const data = join(dir, `${mode}-${run}`);
  switch (mode) {
    case 'all':
      return { JIT_DATA_DIR: data, JIT_NO_DEMO_DB: '1', JIT_SWEEP_INTERVAL_MS: '0' };
    case 'webhook-ingest':
      return { ...kafka, JIT_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789', JIT_DATA_DIR: data };
    case 'approval-gate':
      return { ...kafka, ...gitlab, JIT_POLICY_PIN: policyBlobSha(policy), JIT_SIGNING_KEY_FILE: keys.gate.file };
    case 'issuer':
      return { ...kafka, ...gitlab, JIT_SUBSTRATES: substrates, JIT_SIGNING_KEY_FILE: keys.issuer.file, JIT_TRUSTED_GATE_KEYS: keys.gate.x, JIT_TRUSTED_REVOKER_KEYS: keys.revoker.x };
    case 'revoker':
      return {
        ...kafka,
        ...gitlab,
        JIT_SUBSTRATES: substrates,
        JIT_SWEEP_INTERVAL_MS: '0',
        JIT_SIGNING_KEY_FILE: keys.revoker.file,
        JIT_TRUSTED_GATE_KEYS: keys.gate.x,
        JIT_TRUSTED_ISSUER_KEYS: keys.issuer.x,
      };
  }
}

/** Starts one process, polls its ops /readyz every 20 ms, reads VmRSS when it answers 200, stops it. */
async function measure(mode: Mode, from: 'source' | 'build', run: number): Promise<{ ms: number; rssMiB: number }> {
  const app = mode === 'all' ? 'jit' : mode;
  const argv = from === 'source' ? ['--import', 'tsx', join('apps', app, 'src', 'main.ts')] : [join('dist', 'apps', 'jit', 'jit.js'), 'serve', mode];
  const [port, opsPort, sandboxPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: String(port),
    JIT_PORT: String(port),
    JIT_SANDBOX_PORT: String(sandboxPort),
    JIT_OPS_PORT: String(opsPort),
    LOG_LEVEL: 'warn',
    JIT_LOG_LEVEL: 'warn',
    ...envFor(mode, run),
  };
  const started = performance.now();
  const child = spawn(process.execPath, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += String(d)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${mode} (${from}) exited ${child.exitCode}: ${err.slice(-2000)}`);
      const ok = await fetch(`http://127.0.0.1:${opsPort}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (performance.now() - started > 120_000) throw new Error(`${mode} (${from}) not ready in 120 s: ${err.slice(-2000)}`);
      await delay(20);
    }
    const ms = performance.now() - started;
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
    return { ms, rssMiB: rssKiB / 1024 };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
process.stdout.write(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${RUNS} runs each, medians\n`,
);
for (const mode of MODES) {
  const results: Record<'source' | 'build', Array<{ ms: number; rssMiB: number }>> = { source: [], build: [] };
  for (let run = 0; run < RUNS; run++) {
    // alternate, so a change in the neighbours' load hits both alike
    for (const from of ['source', 'build'] as const) results[from].push(await measure(mode, from, run));
  }
  const [s, b] = [results.source, results.build];
  const row = `| ${mode} | ${median(s.map((r) => r.ms)).toFixed(0)} | ${median(b.map((r) => r.ms)).toFixed(0)} | ${median(s.map((r) => r.rssMiB)).toFixed(0)} | ${median(b.map((r) => r.rssMiB)).toFixed(0)} |`;
  rows.push(row);
  process.stdout.write(`${row}\n`);
}
process.stdout.write(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n\n| mode | ready, source (ms) | ready, build (ms) | RSS, source (MiB) | RSS, build (MiB) |\n|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
await sandbox.close();
await rm(dir, { recursive: true, force: true });
