// Issue 11 §1, the denial of service: anyone who can push leaves an invalid policy.yaml on the
// default branch. jit (all-in-one, sandbox mode: gate + issuer + the demo PostgreSQL) keeps judging
// and issuing under the last ratified policy — on the old code the issuer read policy.yaml at the
// merge commit, so every later grant ended grant_failed.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGitlabClient } from '@jit/gitlab';
import { createLogger } from '@jit/observability';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { runDemoLifecycle } from './demo/lifecycle';
import { buildJit, type JitProcess } from './server';

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe('policy trust in sandbox mode (npm start)', () => {
  it('an invalid policy.yaml pushed straight to main stops no grant: the demo lifecycle runs under the ratified (seed) policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-policy-trust-'));
    await chmod(dir, 0o755);
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = parseConfig({ JIT_DATA_DIR: dir, JIT_PORT: String(await freePort()), JIT_OPS_PORT: '0', JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0' });
    const logs: string[] = [];
    const jit: JitProcess = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'info', destination: { write: (s: string) => void logs.push(s) } }) });
    cleanup.push(() => jit.close());
    const url = await jit.listen();
    // Sandbox mode pins the seed's policy by itself, and says so.
    expect(logs.join('')).toMatch(/the seed policy.yaml is pinned as the first trusted policy/);
    const seeded = (await (await fetch(`${url}/v1/catalog`, { headers: { authorization: 'Bearer alice-token-0001' } })).json()) as { version: string; ratified?: { how: string } };
    expect(seeded.ratified?.how).toBe('pin');

    // A maintainer pushes a broken policy.yaml straight to main.
    const alice = createGitlabClient({ url: jit.sandbox!.url, token: 'alice-token-0001' });
    await alice.commits.create(jit.gitlab.projectId, 'main', 'oops', [{ action: 'update', filePath: 'policy.yaml', content: 'tiers: [this is not a policy\n' }]);
    await (jit.app as unknown as { gate: { refreshPolicy(): Promise<unknown> } }).gate.refreshPolicy();
    const after = (await (await fetch(`${url}/v1/catalog`, { headers: { authorization: 'Bearer alice-token-0001' } })).json()) as { version: string; latestPolicyRejected?: { code?: string } };
    expect(after.version).toBe(seeded.version);
    expect(after.latestPolicyRejected?.code).toBe('JIT_ERR_POLICY_UNRATIFIED');

    const result = await runDemoLifecycle({
      jitUrl: url,
      gitlabUrl: jit.sandbox!.url,
      project: jit.gitlab.project,
      readonlyUrl: jit.demoDatabase!.readonlyUrl,
      agentIdentity: jit.sandboxIdentities['deploy-agent']!,
      ttl: '8s',
      say: () => undefined,
    });
    const types = result.timeline.map((t) => t.type);
    expect(types).toContain('dev.jit.elevation.granted.v1');
    expect(types).not.toContain('dev.jit.elevation.grant.failed.v1');
    expect(result.final.state).toBe('revoked');
  }, 240_000);
});
