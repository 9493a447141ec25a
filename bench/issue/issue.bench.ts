// Benchmark (not a test): issue latency per substrate, and the issuer's overhead around it.
//   npx tsx bench/issue/issue.bench.ts
// Env: BENCH_ISSUES (default 30 per substrate and per mode).
// Per substrate, in the same run: (a) the bare `substrate.issue` call, sequential; (b) the issuer
// on the embedded bus (fsync per publish): `elevation.approved` published -> `elevation.granted`
// handled (resolve target, issue, seal with age, publish, ledger). Overhead = p50(b) / p50(a).
// Servers: embedded PostgreSQL, a private OpenBao (token mode), moto (aws-sts), and the GCP IAM
// Credentials contract server from @jit/substrate-gcp-iam/testing. Each credential is revoked
// after it is measured (not timed), so Vault's accessor scan does not grow during the run.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { createEmbeddedBus, createSigningBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventSigner, generateSigningKeyPem, grantId as grantIdOf, parseElevationEvent, producerTrust } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createIssuer, generateAgeIdentity } from '@jit/issuer';
import { createLedger } from '@jit/ledger';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type RevocationHandle, type Substrate } from '@jit/substrates';
import { awsStsSubstrate } from '@jit/substrate-aws-sts';
import { gcpIamSubstrate } from '@jit/substrate-gcp-iam';
import { GcpIamContractServer } from '@jit/substrate-gcp-iam/testing';
import { postgresSubstrate } from '@jit/substrate-postgres';
import { vaultSubstrate } from '@jit/substrate-vault';
import { getMoto, startOpenBao, startPostgres, uniqueName } from '@jit/testing';

const N = Number(process.env['BENCH_ISSUES'] ?? 30);
const logger = createLogger({ name: 'bench', level: 'error' });
const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const round = (x: number) => Math.round(x * 10) / 10;
let iid = 1;

interface Case {
  name: string;
  scope: Record<string, unknown>;
}

async function main(): Promise<void> {
  console.log(
    `issue bench — node ${process.version}, ${availableParallelism()} cpus, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${N} issues per substrate and mode`,
  );
  const [pgServer, bao, motoEndpoint] = await Promise.all([startPostgres(), startOpenBao(), getMoto()]);
  const gcp = new GcpIamContractServer({ serviceAccounts: [{ email: 'bench-writer@bench.iam.gserviceaccount.com' }] });
  await gcp.start();
  const dirs: string[] = [];
  const registry = new SubstrateRegistry({ logger, definitions: [postgresSubstrate, vaultSubstrate, awsStsSubstrate, gcpIamSubstrate] });
  try {
    const dbUrl = await pgServer.createDatabase('bench_issue');
    const policy = await fetch(`${bao.addr}/v1/sys/policies/acl/bench-read`, {
      method: 'PUT',
      headers: { 'x-vault-token': bao.token, 'content-type': 'application/json' },
      body: JSON.stringify({ policy: 'path "secret/*" { capabilities = ["read"] }' }),
    });
    if (policy.status !== 204) throw new Error(`vault policy: ${policy.status}`);
    const admin = { accessKeyId: 'bench-admin', secretAccessKey: 'bench-admin-secret' };
    const iam = new IAMClient({ region: 'us-east-1', endpoint: motoEndpoint, credentials: { ...admin } }); // the SDK annotates the object it is given
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: uniqueName('bench-role'),
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }],
        }),
      }),
    );
    iam.destroy();
    const roleArn = role.Role!.Arn!;

    registry.configure('postgres', { adminUrl: dbUrl });
    registry.configure('vault', { addr: bao.addr, token: bao.token });
    registry.configure('aws-sts', { region: 'us-east-1', endpoint: motoEndpoint, credentials: admin, roles: [roleArn] });
    registry.configure('gcp-iam', { endpoint: { host: '127.0.0.1', port: gcp.port, insecure: true }, projectId: 'bench' });
    const cases: Case[] = [
      { name: 'postgres', scope: { grant: 'CONNECT ON DATABASE bench_issue' } },
      { name: 'vault', scope: { mode: 'token', policies: ['bench-read'] } },
      { name: 'aws-sts', scope: { roleArn, sessionPolicy: { actions: ['s3:GetObject'], resources: ['arn:aws:s3:::bench/*'] } } },
      { name: 'gcp-iam', scope: { serviceAccount: 'bench-writer@bench.iam.gserviceaccount.com', scopes: ['https://www.googleapis.com/auth/cloud-platform'] } },
    ];
    const { recipient } = await generateAgeIdentity();
    const rows: Array<Record<string, string | number>> = [];

    for (const c of cases) {
      const substrate = registry.get(c.name);
      const problems = substrate.validateScope(c.scope);
      if (problems.length) throw new Error(`${c.name} scope: ${JSON.stringify(problems)}`);
      const ttlSeconds = 900;

      // (a) the bare adapter call
      const bare: number[] = [];
      for (let i = 0; i < N + 3; i++) {
        const elevationId = `gl-77-${iid++}`;
        const grantId = grantIdOf(elevationId, 'b'.repeat(40));
        const t0 = performance.now();
        const issued = await substrate.issue({ grantId, elevationId, requester: 'carol', target: 'bench', scopeName: 'write', scope: c.scope, connection: {}, ttlSeconds });
        if (i >= 3) bare.push(performance.now() - t0); // 3 warm-up calls
        await substrate.revoke(issued.handle);
      }

      // (b) through the issuer on the embedded bus
      const dir = mkdtempSync(join(tmpdir(), 'jit-bench-issue-'));
      dirs.push(dir);
      // one key plays gate and issuer, as in the all-in-one: approvals are signed, grants too
      const signer = createEventSigner(generateSigningKeyPem());
      const bus = createSigningBus(await createEmbeddedBus({ dir, logger }), signer, [TOPIC_ELEVATIONS]);
      const handles = new Map<string, RevocationHandle>();
      const waiting = new Map<string, () => void>();
      const sub = await bus.subscribe({
        topic: TOPIC_ELEVATIONS,
        groupId: 'bench-observer',
        handler: async (m) => {
          const p = parseElevationEvent(m.event);
          if (!p.ok) return;
          const d = p.event.data as { grantId?: string; handle?: RevocationHandle };
          if (p.event.type === EVENT_TYPES.granted && d.grantId) {
            handles.set(d.grantId, d.handle!);
            waiting.get(d.grantId)?.();
          }
          if (p.event.type === EVENT_TYPES.grantFailed && d.grantId) throw new Error(`grant failed: ${JSON.stringify(p.event.data)}`);
        },
      });
      const issuer = createIssuer({
        bus,
        substrates: { get: (name) => registry.get(name) as Substrate },
        targets: { resolve: async () => ({ substrate: c.name, scope: c.scope, connection: {}, recipients: { carol: [recipient] } }) },
        ledger: createLedger(),
        logger,
        trust: producerTrust({}, { key: signer.publicKey, roles: ['gate', 'issuer', 'revoker'] }),
        signer,
        approvalCheck: { check: async () => undefined }, // the GitLab round trip is not what this measures
        retry: { attempts: 1 },
      });
      await issuer.start();
      const through: number[] = [];
      for (let i = 0; i < N + 3; i++) {
        const mrIid = iid++;
        const elevationId = `gl-77-${mrIid}`;
        const grantId = grantIdOf(elevationId, 'b'.repeat(40));
        const granted = new Promise<void>((resolve) => waiting.set(grantId, resolve));
        const event = sampleEvent(
          EVENT_TYPES.approved,
          { elevationId, grantId, projectId: 77, mrIid, target: 'bench', scope: 'write', ttlSeconds, recipient, mergeSha: 'b'.repeat(40) },
          { time: new Date().toISOString() },
        );
        const t0 = performance.now();
        await bus.publish(TOPIC_ELEVATIONS, elevationId, event);
        await granted;
        if (i >= 3) through.push(performance.now() - t0);
        await substrate.revoke(handles.get(grantId)!);
      }
      await issuer.stop();
      await sub.stop();
      await bus.close();

      bare.sort((a, b) => a - b);
      through.sort((a, b) => a - b);
      rows.push({
        substrate: c.name,
        'issue p50 ms': round(q(bare, 0.5)),
        'issue p95 ms': round(q(bare, 0.95)),
        'approved→granted p50 ms': round(q(through, 0.5)),
        'p95 ms': round(q(through, 0.95)),
        'overhead ms (p50)': round(q(through, 0.5) - q(bare, 0.5)),
        'ratio (p50)': round(q(through, 0.5) / q(bare, 0.5)),
      });
      console.table(rows.slice(-1));
    }
    console.table(rows);
    console.log(
      `load after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await registry.closeAll();
    await gcp.stop();
    await Promise.allSettled([pgServer.dispose(), bao.dispose()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  // SDK keep-alive agents and gRPC channels would keep the process up after the report.
  .finally(() => process.exit());
