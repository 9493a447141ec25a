// The demo lifecycle, narrated: an agent asks for write access to the demo database through an
// MR, a bot's approval does not count, two humans approve, merge, the sealed credential is opened
// and used, and at TTL it is revoked and the same write fails again. Every step is checked; the
// first that does not behave throws, and `npm run demo` exits non-zero.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ELEVATION_ID_RE, parseElevationId } from '@jit/contracts';
import { createGitlabClient } from '@jit/gitlab';
import { issueCiIdToken, type Sandbox } from '@jit/gitlab-sandbox';
import { JitApi, JitApiError, type ElevationSummary } from '../cli/api-client';
import { runCli } from '../cli/program';
import { timelineLine } from '../cli/render';

export interface DemoOptions {
  jitUrl: string;
  gitlabUrl: string;
  project: string;
  /** The read-only default credential of the demo database. */
  readonlyUrl: string;
  /**
   * The agent's age identity file, its public key registered to the agent in policy.yaml (sandbox
   * mode generates it: `jit.sandboxIdentities['deploy-agent']`).
   */
  agentIdentity: string;
  /** TTL of the elevation (short, so the demo sees the revocation). */
  ttl?: string;
  say?: (line: string) => void;
  tokens?: { agent: string; bot: string; approvers: [string, string]; outsider: string };
  /**
   * A GitLab CI ID token for a job of the agent on `ref` of the elevations project, aud = jit's URL
   * (sandbox mode: `issueCiIdToken(jit.sandbox, …)`). The agent authenticates to jit with it, as
   * it would in a pipeline; without it, with its GitLab token.
   */
  agentIdToken?: (ref: string) => Promise<string>;
  timeoutMs?: number;
}

/**
 * Sandbox mode's stand-in for GitLab CI: the ID token of a job of deploy-agent on `ref` of the
 * elevations project, aud = jit's URL, valid for a 10-minute job.
 */
export function sandboxAgentIdToken(sandbox: Sandbox, project: string, aud: string): (ref: string) => Promise<string> {
  return (ref) => issueCiIdToken(sandbox, { user: 'deploy-agent', project, ref, aud, ttlSeconds: 600 });
}

export interface DemoResult {
  elevationId: string;
  timeline: NonNullable<ElevationSummary['timeline']>;
  final: ElevationSummary;
}

class DemoStepFailed extends Error {}

async function tryWrite(url: string): Promise<{ ok: true } | { ok: false; error: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(`UPDATE orders SET total = total + 1 WHERE customer = 'acme'`);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function runDemoLifecycle(opts: DemoOptions): Promise<DemoResult> {
  const say = opts.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const tokens = opts.tokens ?? { agent: 'deploy-agent-token', bot: 'review-bot-token', approvers: ['alice-token-0001', 'bob-token-00001'], outsider: 'dave-token-00001' };
  const ttl = opts.ttl ?? '20s';
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  // The narrator reads jit as alice, an approver of the demo policy (jit shows her what she may approve).
  const api = new JitApi(opts.jitUrl, fetch, async () => ({ token: tokens.approvers[0], from: 'alice', kind: 'GitLab token' }));
  const dir = await mkdtemp(join(tmpdir(), 'jit-demo-'));
  const identity = opts.agentIdentity;
  const step = (n: number, text: string) => say(`\n${n}. ${text}`);
  const check = (cond: unknown, what: string) => {
    if (!cond) throw new DemoStepFailed(`demo step failed: ${what}`);
    say(`   ✓ ${what}`);
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new DemoStepFailed(`demo step timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stateIs = (id: string, ...states: string[]) =>
    waitFor(`elevation ${id} to be ${states.join('/')}`, async () => {
      const e = await api.elevation(id);
      return states.includes(e.state) ? e : undefined;
    });
  const cli = async (argv: string[], env: Record<string, string>) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--json', '--url', opts.jitUrl, ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { ...env, HOME: dir } });
    if (code !== 0) throw new DemoStepFailed(`jit ${argv[0]} failed: ${err.join(' ')}`);
    return JSON.parse(out.join('\n')) as Record<string, unknown>;
  };

  try {
    step(1, 'The agent holds only the read-only default credential: its write is refused.');
    const before = await tryWrite(opts.readonlyUrl);
    check(!before.ok && /permission denied/i.test(before.error), `default role cannot write (${before.ok ? 'it could!' : before.error})`);

    step(2, 'The agent asks for write access through a merge request (jit request), sealed to its own age key.');
    const recipient = /# recipient: (age1\S+)/.exec(await readFile(identity, 'utf8'))?.[1] ?? '';
    say(`   agent recipient: ${recipient.slice(0, 16)}… (registered to deploy-agent under recipients: in policy.yaml)`);
    const gitlabEnv = { GITLAB_URL: opts.gitlabUrl, GITLAB_TOKEN: tokens.agent, JIT_ELEVATIONS_PROJECT: opts.project };
    const req = await cli(
      ['request', '--target', 'demo-db', '--scope', 'write', '--ttl', ttl, '--tier', 'reversible-write', '--identity', identity, '--justification', 'backfill order totals after INC-4411 (demo)'],
      gitlabEnv,
    );
    const id = String(req.elevationId);
    const mrIid = Number(req.mrIid);
    check(ELEVATION_ID_RE.test(id), `MR !${mrIid} opened, elevation ${id}`);
    const pending = await stateIs(id, 'pending', 'rejected');
    check(pending.state === 'pending', `the gate validated it against policy.yaml: ${pending.state} (needs 2 approvals from platform)`);

    const projectId = parseElevationId(id)!.projectId;
    const as = (token: string) => createGitlabClient({ url: opts.gitlabUrl, token });
    // From here on the agent talks to jit as a CI job would: with the job's ID token, no GitLab token.
    let agentAuth: Record<string, string> = { GITLAB_TOKEN: tokens.agent };
    if (opts.agentIdToken) {
      const branch = (await as(tokens.agent).mergeRequests.show(projectId, mrIid)).sourceBranch;
      const idToken = await opts.agentIdToken(branch);
      const claims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      say(`   the agent's CI job gets an ID token (id_tokens: JIT_ID_TOKEN: aud: ${String(claims.aud)}): user_login ${String(claims.user_login)}, ${String(claims.sub)}`);
      agentAuth = { JIT_ID_TOKEN: idToken };
    }
    const mine = await cli(['status', id], agentAuth);
    check(mine.id === id, `the agent follows its request with jit status, authenticated by ${opts.agentIdToken ? 'its CI ID token' : 'its GitLab token'}: ${String(mine.state)}`);
    const refusedAs = async (token: string) =>
      new JitApi(opts.jitUrl, fetch, async () => ({ token, from: 'the demo', kind: 'GitLab token' })).elevation(id).then(
        () => 200,
        (err: unknown) => (err instanceof JitApiError ? err.status : 0),
      );
    const [forged, outsider] = [await refusedAs('not-a-token-anyone-issued'), await refusedAs(tokens.outsider)];
    check(forged === 401 && outsider === 404, `jit refuses a token GitLab does not know (${forged}) and hides the elevation from dave, who may not see it (${outsider})`);

    step(3, 'A review bot approves: GitLab records it, jit does not count it.');
    await as(tokens.bot).mergeRequests.approve(projectId, mrIid);
    const botRecorded = await waitFor('the bot approval to be recorded', async () => {
      const e = await api.elevation(id);
      const a = (e.approvals as Array<{ approver: string; counted: boolean; reason?: string }> | undefined)?.find((x) => x.approver === 'review-bot');
      return a;
    });
    check(!botRecorded.counted, `review-bot's approval not counted (reason: ${botRecorded.reason})`);

    step(4, 'Two humans of the platform group approve.');
    for (const t of tokens.approvers) await as(t).mergeRequests.approve(projectId, mrIid);
    const counted = await waitFor('two counted approvals', async () => {
      const e = await api.elevation(id);
      const c = (e.approvals as Array<{ approver: string; counted: boolean }> | undefined)?.filter((x) => x.counted) ?? [];
      return c.length >= 2 ? c : undefined;
    });
    check(counted.length === 2, `approvals counted: ${counted.map((c) => c.approver).join(', ')}`);

    step(5, 'A human merges; jit re-verifies the approvals on its own and issues the credential.');
    await as(tokens.approvers[0]).mergeRequests.merge(projectId, mrIid);
    const granted = await stateIs(id, 'granted', 'bypassed', 'grant_failed');
    check(granted.state === 'granted', `granted until ${granted.expiresAt} (${granted.state})`);

    step(6, 'The agent opens the sealed credential with its key and writes.');
    const cred = await cli(['credential', id, '--identity', identity], agentAuth);
    const secret = cred.credential as Record<string, string>;
    check(typeof secret.url === 'string', 'credential decrypted locally (never shown here)');
    const during = await tryWrite(secret.url!);
    check(during.ok, `write with the elevated credential succeeded${during.ok ? '' : `: ${during.error}`}`);

    step(7, `At TTL (${ttl}) the revoker revokes it and verifies; the same write fails again.`);
    const revoked = await stateIs(id, 'revoked', 'expired');
    check(revoked.state === 'revoked' && revoked.revokeVerified === true, `revoked, verified=${revoked.revokeVerified}, lateness ${revoked.latenessMs} ms`);
    const after = await tryWrite(secret.url!);
    check(!after.ok, `write after revocation refused (${after.ok ? 'it worked!' : after.error})`);

    step(8, 'The audit timeline (what a SIEM reads on jit.elevations.v1):');
    const final = await api.elevation(id);
    for (const t of final.timeline ?? []) say(timelineLine(t, '   '));
    say('\ndemo complete: every step behaved.');
    return { elevationId: id, timeline: final.timeline ?? [], final };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
