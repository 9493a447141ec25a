// End-to-end, embedded mode: the demo lifecycle asserted, and a restart mid-lifecycle.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCiIdToken, startSandbox } from '@jit/gitlab-sandbox';
import { createGitlabClient } from '@jit/gitlab';
import { freePort, getPostgres, uniqueName, waitFor } from '@jit/testing';
import { parseConfig } from '../../apps/jit/src/config';
import { runDemoLifecycle, sandboxAgentIdToken } from '../../apps/jit/src/demo/lifecycle';
import { provisionSandboxIdentities } from '../../apps/jit/src/sandbox-identities';
import { buildJit } from '../../apps/jit/src/server';
import { JitApi } from '../../apps/jit/src/cli/api-client';
import { runCli } from '../../apps/jit/src/cli/program';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { parse as parseYaml } from 'yaml';
import { checkAuditTrail } from './audit-trail';
import { startJitProcess, type JitChild } from './jit-process';

const ROOT = join(import.meta.dirname, '..', '..');
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function dataDir(): Promise<string> {
  // left private (0700, as mktemp makes it): the all-in-one must start on it, also as root
  const dir = await mkdtemp(join(tmpdir(), 'jit-e2e-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('embedded mode (npm start)', () => {
  it('plays the demo lifecycle: bot not counted, two humans, merge, grant, write, revoke at TTL, write refused', async () => {
    const dir = await dataDir();
    const logLines: string[] = [];
    const config = parseConfig({
      JIT_DATA_DIR: dir,
      JIT_PORT: String(await freePort()),
      JIT_OPS_PORT: '0',
      JIT_SANDBOX_PORT: String(await freePort()),
      JIT_SWEEP_INTERVAL_MS: '0',
    });
    const jit = await buildJit(config, {
      env: {},
      logger: createLogger({ name: 'jit', level: 'debug', destination: { write: (s: string) => void logLines.push(s) } }),
    });
    cleanup.push(() => jit.close());
    const url = await jit.listen();
    const said: string[] = [];
    const result = await runDemoLifecycle({
      jitUrl: url,
      gitlabUrl: jit.sandbox!.url,
      project: jit.gitlab.project,
      readonlyUrl: jit.demoDatabase!.readonlyUrl,
      agentIdentity: jit.sandboxIdentities['deploy-agent']!,
      // the agent authenticates to jit with a sandbox-minted CI ID token only, as in a pipeline
      agentIdToken: sandboxAgentIdToken(jit.sandbox!, jit.gitlab.project, url),
      ttl: '8s',
      say: (l) => said.push(l),
    });
    expect(result.final.state).toBe('revoked');
    const types = result.timeline.map((t) => t.type.replace(/^dev\.jit\.|\.v1$/g, ''));
    expect(types).toEqual(expect.arrayContaining(['elevation.requested', 'elevation.approval.recorded', 'elevation.approved', 'elevation.granted', 'elevation.revoked']));
    expect(types.filter((t) => t === 'elevation.granted')).toHaveLength(1);
    expect(said.join('\n')).toMatch(/demo complete/);
    expect(said.join('\n')).toMatch(/authenticated by its CI ID token/);

    // the MR tells the story too, and no comment, log line or event carries the password
    const notes = await createGitlabClient({ url: jit.sandbox!.url, token: 'alice-token-0001' }).notes.all(jit.gitlab.projectId, 1);
    const comments = notes.map((n) => n.body).join('\n');
    expect(comments).toMatch(/granted/);
    expect(comments).toMatch(/revoked/);
    // metrics are on the ops listener only, never on the public port
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer alice-token-0001' } })).status).toBe(404);
    const metrics = await (await fetch(`${jit.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/jit_merge_to_granted_seconds_count 1/);
    expect(metrics).toMatch(/jit_expiry_to_revoked_seconds_count 1/);
    // the event stream holds every elevation: never served to a caller without a token, nor to anyone
    // the policy does not name under `auditors:` (the demo policy names none; the API path as an
    // auditor is covered by apps/jit/src/cli/events-api.test.ts)
    expect((await fetch(`${url}/v1/events`)).status).toBe(401);
    for (const token of ['alice-token-0001', 'deploy-agent-token']) {
      const lines: string[] = [];
      const code = await runCli(['events'], { out: (l) => lines.push(l), err: (l) => lines.push(l), env: { JIT_URL: url, GITLAB_TOKEN: token } });
      expect(code).toBe(1);
      expect(lines.join('\n')).toMatch(/403.*JIT_ERR_AUDIT_NOT_AUDITOR/);
    }
    const keysJson = await (await fetch(`${url}/v1/keys`, { headers: { authorization: 'Bearer alice-token-0001' } })).text();
    await jit.close();
    // the README's SIEM section on this run's log: export, verify, tampering caught, OCSF valid
    await checkAuditTrail(join(dir, 'bus'), keysJson, await dataDir());
    const eventsOnDisk = await readAllFiles(join(dir, 'bus'));
    const everything = [logLines.join(''), comments, eventsOnDisk, metrics, said.join('\n')].join('\n');
    const passwords = [...everything.matchAll(/jit_gl-[^\s"'@:]+:([^@\s"']+)@/g)].map((m) => m[1]);
    expect(passwords).toEqual([]);
    expect(everything).not.toMatch(/"password"\s*:/);
  });

  it("the README's GitLab CI job: request --wait and exec, every call to jit with a sandbox-minted CI ID token", async () => {
    const dir = await dataDir();
    const config = parseConfig({ JIT_DATA_DIR: dir, JIT_PORT: String(await freePort()), JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0' });
    const jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'error' }) });
    cleanup.push(() => jit.close());
    const url = await jit.listen();
    const sandbox = jit.sandbox!;
    const project = jit.gitlab.project;
    // The agent's pipeline runs on a branch of its own; GitLab hands the job its ID token (aud = jit's URL).
    sandbox.pushCommit({ project, branch: 'agent-ci', author: 'deploy-agent', files: { 'ci/notes.txt': 'pipeline\n' } });
    const idToken = await issueCiIdToken(sandbox, { user: 'deploy-agent', project, ref: 'agent-ci', aud: url, ttlSeconds: 3600 });
    const alice = new JitApi(url, fetch, async () => ({ token: 'alice-token-0001', from: 'alice', kind: 'GitLab token' }));
    const issuerKey = (await alice.keys()).keys.find((k) => k.roles?.includes('issuer'))?.x;
    expect(issuerKey).toBeDefined();
    // the job's variables, as in the README
    const env = {
      HOME: await dataDir(),
      JIT_URL: url,
      JIT_ID_TOKEN: idToken,
      JIT_ISSUER_KEY: issuerKey!,
      GITLAB_URL: sandbox.url,
      GITLAB_TOKEN: 'deploy-agent-token', // for the one GitLab write (opening the MR); never sent to jit
      JIT_ELEVATIONS_PROJECT: project,
      JIT_IDENTITY: jit.sandboxIdentities['deploy-agent']!,
    };
    const sentToJit: Array<string | undefined> = [];
    const fetchSpy = async (input: string, init?: RequestInit) => {
      sentToJit.push(new Headers(init?.headers).get('authorization') ?? undefined);
      return fetch(input, init);
    };
    const job = (argv: string[], run?: (cmd: string, args: string[], childEnv: Record<string, string>) => Promise<number>) => {
      const out: string[] = [];
      const err: string[] = [];
      return runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, fetch: fetchSpy, ...(run ? { run } : {}) }).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
    };

    // two humans approve and one merges once the gate has validated the MR the job opens
    const humans = (async () => {
      const gl = (token: string) => createGitlabClient({ url: sandbox.url, token });
      let id = '';
      await waitFor(
        async () => {
          const mr = sandbox.project(project).mergeRequests.at(-1);
          if (!mr) return false;
          id = `gl-${jit.gitlab.projectId}-${mr.iid}`;
          return (await alice.elevation(id).catch(() => undefined))?.state === 'pending';
        },
        { timeoutMs: 60_000, what: "the job's request to be pending" },
      );
      const iid = Number(id.split('-')[2]);
      for (const t of ['alice-token-0001', 'bob-token-00001']) await gl(t).mergeRequests.approve(jit.gitlab.projectId, iid);
      await gl('alice-token-0001').mergeRequests.merge(jit.gitlab.projectId, iid);
    })();
    const requested = await job([
      '--json',
      'request',
      '--target',
      'demo-db',
      '--scope',
      'write',
      '--ttl',
      '5m',
      '--tier',
      'reversible-write',
      '--justification',
      'backfill order totals after INC-4411 (pipeline 42)',
      '--wait',
      '--timeout',
      '3m',
    ]);
    await humans;
    expect(requested.code, requested.err).toBe(0);
    const elevation = JSON.parse(requested.out) as { id: string; state: string };
    expect(elevation.state).toBe('granted');

    let wrote = false;
    const exec = await job(['exec', elevation.id, '--', 'psql', '-c', 'UPDATE orders SET total = total + 1'], async (_cmd, _args, childEnv) => {
      const client = new pg.Client({ connectionString: childEnv['DATABASE_URL'] });
      await client.connect();
      await client.query(`UPDATE orders SET total = total + 1 WHERE customer = 'acme'`);
      await client.end();
      wrote = true;
      return 0;
    });
    expect(exec.code, exec.err).toBe(0);
    expect(wrote).toBe(true);
    // every call the job made to jit carried the ID token, and only it; nothing printed it
    expect(sentToJit.length).toBeGreaterThan(2);
    expect(new Set(sentToJit)).toEqual(new Set([`Bearer ${idToken}`]));
    expect(requested.out + requested.err + exec.out + exec.err).not.toContain(idToken);
    await jit.close();
  });

  it('survives a kill -9 after approval: the grant is issued once and revoked on time after restart', async () => {
    const dir = await dataDir();
    const pgAdmin = await getPostgres();
    const dbName = uniqueName('e2e_restart').replace(/-/g, '_');
    const admin = new pg.Client({ connectionString: pgAdmin });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const dbUrl = new URL(pgAdmin);
    dbUrl.pathname = `/${dbName}`;
    const db = new pg.Client({ connectionString: dbUrl.toString() });
    await db.connect();
    cleanup.push(() => db.end());
    await db.query('CREATE TABLE orders (id serial PRIMARY KEY, customer text, total numeric)');

    const seed = parseYaml(await readFile(join(ROOT, 'deploy/sandbox/demo-seed.yaml'), 'utf8'));
    seed.projects[0].files = {
      'policy.yaml': (await readFile(join(ROOT, 'deploy/sandbox/demo-repo/policy.yaml'), 'utf8')).replaceAll('JIT_DEMO_DATABASE_URL', 'E2E_DB_URL'),
    };
    delete seed.projects[0].files_from;
    // the users' age keys, registered in the seed policy as sandbox mode does it
    const home = await dataDir();
    const identities = await provisionSandboxIdentities(seed, home);
    const policy = seed.projects[0].files['policy.yaml'] as string;
    const sandbox = await startSandbox({ seed });
    cleanup.push(() => sandbox.close());
    const port = await freePort();
    const secret = randomBytes(24).toString('base64url');
    sandbox.addHook('ops/elevations', { url: `http://127.0.0.1:${port}/webhooks/gitlab`, token: secret, push_events: true }); // jit learns who pushed from Push Hooks
    const env = {
      JIT_DATA_DIR: dir,
      JIT_PORT: String(port),
      JIT_OPS_PORT: '0',
      GITLAB_URL: sandbox.url,
      GITLAB_TOKEN: 'jit-bot-token-0001',
      JIT_ELEVATIONS_PROJECT: 'ops/elevations',
      JIT_WEBHOOK_SECRET: secret,
      JIT_SUBSTRATES: JSON.stringify({ postgres: { adminUrl: dbUrl.toString() } }),
      E2E_DB_URL: dbUrl.toString(),
      // A real GitLab (here the sandbox on its own): the operator pins the first policy.
      JIT_POLICY_PIN: policyBlobSha(policy),
    };
    let jit: JitChild = await startJitProcess(env);
    cleanup.push(() => jit.stop('SIGKILL'));
    const api = () => new JitApi(jit.url, fetch, async () => ({ token: 'carol-token-0001', from: 'carol', kind: 'GitLab token' }));

    const io = (extra: Record<string, string>) => ({ out: () => undefined, err: () => undefined, env: { HOME: home, JIT_URL: jit.url, ...extra } });
    const out: string[] = [];
    // 60 s: the restarted jit must issue before the grant's notAfter (approval + TTL; one back after
    // it refuses the grant, JIT_ERR_SUBSTRATE_GRANT_EXPIRED), and a restart took 37 s under load
    const code = await runCli(
      [
        '--json',
        'request',
        '--target',
        'demo-db',
        '--scope',
        'write',
        '--ttl',
        '60s',
        '--tier',
        'reversible-write',
        '--justification',
        'restart drill for the e2e suite',
        '--identity',
        identities['carol']!,
      ],
      { ...io({ GITLAB_URL: sandbox.url, GITLAB_TOKEN: 'carol-token-0001', JIT_ELEVATIONS_PROJECT: 'ops/elevations' }), out: (s) => out.push(s) },
    );
    expect(code).toBe(0);
    const { elevationId: id, mrIid } = JSON.parse(out.join('')) as { elevationId: string; mrIid: number };
    await waitFor(
      async () =>
        (
          await api()
            .elevation(id)
            .catch(() => undefined)
        )?.state === 'pending',
      { timeoutMs: 60_000, what: 'pending' },
    );
    const projectId = sandbox.project('ops/elevations').id;
    for (const t of ['alice-token-0001', 'bob-token-00001']) await createGitlabClient({ url: sandbox.url, token: t }).mergeRequests.approve(projectId, mrIid);
    await createGitlabClient({ url: sandbox.url, token: 'alice-token-0001' }).mergeRequests.merge(projectId, mrIid);
    await waitFor(
      async () =>
        ['approved', 'granted'].includes(
          (
            await api()
              .elevation(id)
              .catch(() => undefined)
          )?.state ?? '',
        ),
      {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: 'approved',
      },
    );
    await jit.stop('SIGKILL');

    jit = await startJitProcess(env);
    const revoked = await (async () => {
      await waitFor(
        async () =>
          ['revoked', 'grant_failed'].includes(
            (
              await api()
                .elevation(id)
                .catch(() => undefined)
            )?.state ?? '',
          ),
        {
          timeoutMs: 120_000,
          what: 'revoked after restart',
        },
      );
      return api().elevation(id);
    })();
    expect(revoked.state, JSON.stringify({ grantError: revoked.grantError, log: jit.output().slice(-4000) })).toBe('revoked');
    const types = (revoked.timeline ?? []).map((t) => t.type);
    expect(types.filter((t) => t.includes('.granted.'))).toHaveLength(1);
    expect(types.filter((t) => t.includes('.revoked.'))).toHaveLength(1);
    expect(revoked.latenessMs as number).toBeLessThan(15_000);
    // pg_roles is cluster-wide and the test server is shared: look for this grant's role only
    expect(revoked.grantId).toMatch(/^gl-\d+-\d+-[0-9a-f]{40}$/);
    // the revoked grant's role is kept as its tombstone, which cannot log in (ADR 0013)
    const roles = await db.query(`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, [`jit_${revoked.grantId as string}`]);
    expect(roles.rows).toEqual([{ rolcanlogin: false }]);
  });
});

async function readAllFiles(dir: string): Promise<string> {
  const { readdir, stat } = await import('node:fs/promises');
  let text = '';
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const s = await stat(p);
    if (s.isDirectory()) text += await readAllFiles(p);
    else if (s.size < 50 * 1024 * 1024) text += (await readFile(p)).toString('latin1');
  }
  return text;
}
