// The `jit` CLI: commander program with injected I/O so tests drive it without a terminal.
// Every command takes --json for agents; errors are one line and a non-zero exit.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import { displayJson, displayText, elevationId, parseDuration, parseElevationId, parseElevationRequest, terminalText } from '@jit/contracts';
import { elevationIdArg } from './args';
import { createGitlabClient, type GitlabClient } from '@jit/gitlab';
import { generateAgeIdentity, openCredential } from '@jit/issuer';
import { SERVE_MODES, type ServeMode } from '../serve';
import { JitApi, JitApiError, type FetchFn } from './api-client';
import { callerToken, type CallerToken, type TokenFlags } from './caller-token';
import { registerAuditCommands } from './audit-commands';
import { CliError } from './cli-error';
import { envForCredential } from './credential-env';
import { verifyCredentialOrigin } from './issuer-pin';
import { timelineLine, toCsv, toTable } from './render';
import { AUDIT_COLUMNS, CATALOG_COLUMNS, catalogPolicyLines } from './tables';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  fetch?: FetchFn;
  gitlab?: (url: string, token: string) => GitlabClient;
  /** Runs a command for `jit exec`; resolves with its exit code. */
  run?: (cmd: string, args: string[], env: Record<string, string>) => Promise<number>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  /** Stops a following command (`jit events --follow`) as SIGINT/SIGTERM do. */
  signal?: AbortSignal;
  /** Starts a service in this process for `jit serve`; resolves once it listens. */
  serve?: (mode: ServeMode) => Promise<void>;
}

const FINAL_STATES = new Set(['granted', 'rejected', 'withdrawn', 'bypassed', 'grant_failed', 'revoked', 'expired']);

function durationArg(value: string): string {
  try {
    parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

function isoArg(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an ISO date/time, e.g. 2026-11-01 or 2026-11-01T10:00:00Z');
  return new Date(value).toISOString();
}

/** One value from a server or GitLab, as one line: no control, escape or bidi character, no line break. */
const one = (v: unknown, max = 200): string => displayText(v ?? '', max);

export function buildProgram(rawIo: CliIo): Command {
  // Everything printed goes through terminalText (escape sequences, CR, bidi controls removed);
  // values from elsewhere are also made one line (one()) so they cannot add lines.
  const io: CliIo = { ...rawIo, out: (s) => rawIo.out(terminalText(s)), err: (s) => rawIo.err(terminalText(s)) };
  const env = io.env;
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = io.now ?? (() => new Date());
  const program = new Command('jit')
    .description('GitOps just-in-time privilege elevation')
    .option('--json', 'machine-readable output (for agents)', false)
    .option('--url <url>', 'jit API base URL (env JIT_URL; default http://127.0.0.1:8080)')
    .option('--token <token>', 'your GitLab token for jit (env GITLAB_TOKEN; visible to other local users in the process list: prefer the env or --token-file)')
    .option('--id-token <jwt>', "a GitLab CI ID token whose aud is jit's URL (env JIT_ID_TOKEN)")
    .option('--token-file <file>', 'read the token (GitLab or CI ID token) from a file (env GITLAB_TOKEN_FILE, JIT_ID_TOKEN_FILE)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  // Environment fallbacks come from io.env (not commander's process.env lookup) so tests and
  // embedders control them.
  const g = () => {
    const o = program.opts<{ json: boolean; url?: string }>();
    return { json: o.json, url: o.url ?? env.JIT_URL ?? 'http://127.0.0.1:8080' };
  };
  let caller: Promise<CallerToken> | undefined;
  const auth = () => (caller ??= callerToken(program.opts<TokenFlags>(), env));
  const api = () => new JitApi(g().url, io.fetch, auth);
  const print = (human: string, json: unknown) => io.out(g().json ? displayJson(json, 2) : human);
  const gitlabOpts = (cmd: Command) =>
    cmd
      .option('--gitlab-url <url>', 'GitLab base URL (env GITLAB_URL)')
      .option('--gitlab-token <token>', 'your GitLab token, api scope (env GITLAB_TOKEN)')
      .option('--project <path>', 'elevations repo, id or path (env JIT_ELEVATIONS_PROJECT)');
  const gitlabFrom = (flags: { gitlabUrl?: string; gitlabToken?: string; project?: string }) => {
    const o = {
      gitlabUrl: flags.gitlabUrl ?? env.GITLAB_URL,
      gitlabToken: flags.gitlabToken ?? env.GITLAB_TOKEN,
      project: flags.project ?? env.JIT_ELEVATIONS_PROJECT,
    };
    const missing = [!o.gitlabUrl && '--gitlab-url/GITLAB_URL', !o.gitlabToken && '--gitlab-token/GITLAB_TOKEN', !o.project && '--project/JIT_ELEVATIONS_PROJECT'].filter(Boolean);
    if (missing.length) throw new CliError(`missing ${missing.join(', ')}`);
    const client = (io.gitlab ?? ((url, token) => createGitlabClient({ url, token })))(o.gitlabUrl!, o.gitlabToken!);
    return { client, project: o.project! };
  };
  const identityPath = (p?: string) => p ?? env.JIT_IDENTITY ?? join(env.HOME ?? homedir(), '.config', 'jit', 'identity.txt');

  program
    .command('keygen')
    .description('create an age identity; prints the recipient to put in requests')
    .option('--identity <file>', 'where to write the identity (default ~/.config/jit/identity.txt, or JIT_IDENTITY)')
    .option('--force', 'overwrite an existing identity', false)
    .action(async (o: { identity?: string; force: boolean }) => {
      const file = identityPath(o.identity);
      const existing = await readFile(file, 'utf8').catch(() => undefined);
      if (existing && !o.force) throw new CliError(`${file} already exists; pass --force to replace it (old credentials become unreadable)`);
      const { identity, recipient } = await generateAgeIdentity();
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, `# created by jit keygen\n# recipient: ${recipient}\n${identity}\n`, { mode: 0o600 });
      await chmod(file, 0o600);
      print(`identity written to ${file}\nrecipient: ${recipient}`, { identityFile: file, recipient });
    });

  program
    .command('catalog')
    .description('what may be requested: targets, scopes, tiers, TTL ceilings, approvals')
    .action(async () => {
      const catalog = await api().catalog();
      const policy = catalogPolicyLines(catalog);
      print([toTable(catalog.entries ?? [], CATALOG_COLUMNS), ...(policy.length ? ['', ...policy] : [])].join('\n'), catalog);
    });

  gitlabOpts(
    program
      .command('request')
      .description('open an elevation MR (branch + request file + MR) as you')
      .requiredOption('--target <name>', 'target from the catalog')
      .requiredOption('--scope <name>', 'scope of the target')
      .requiredOption('--ttl <duration>', 'how long, e.g. 30m (<= the tier ceiling)', durationArg)
      .requiredOption('--tier <tier>', 'risk tier (not lower than the scope tier)')
      .requiredOption('--justification <text>', 'why (>= 20 characters; name the ticket)')
      .option('--rollback <text>', 'rollback plan (required for semi-destructive and destructive)')
      .option('--break-glass', 'emergency access under the break-glass rules', false)
      .option('--recipient <age1…>', 'age recipient to seal to (default: from your identity file)')
      .option('--identity <file>', 'identity file to take the recipient from')
      .option('--wait', 'follow the MR until granted or rejected', false)
      .addOption(new Option('--timeout <duration>', 'give up waiting after').default('1h').argParser(durationArg)),
  ).action(async (o) => {
    const { client, project } = gitlabFrom(o);
    let recipient: string | undefined = o.recipient;
    if (!recipient) {
      const text = await readFile(identityPath(o.identity), 'utf8').catch(() => {
        throw new CliError(`no --recipient and no identity at ${identityPath(o.identity)}; run \`jit keygen\` first`);
      });
      recipient = /# recipient: (age1\S+)/.exec(text)?.[1];
      if (!recipient) throw new CliError('identity file has no "# recipient:" line; pass --recipient');
    }
    const doc = {
      apiVersion: 'jit/v1',
      kind: 'ElevationRequest',
      spec: {
        target: o.target,
        scope: o.scope,
        ttl: o.ttl,
        riskTier: o.tier,
        justification: o.justification,
        ...(o.rollback ? { rollbackPlan: o.rollback } : {}),
        recipient,
        breakGlass: Boolean(o.breakGlass),
      },
    };
    const text = stringify(doc);
    const parsed = parseElevationRequest(text);
    if (!parsed.ok) throw new CliError(`request is invalid: ${parsed.problems.map((p: { path: string; message: string }) => `${p.path}: ${p.message}`).join('; ')}`);
    const proj = await client.projects.show(project);
    const stamp = now().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    // the random tail keeps two requests made in the same second apart (a branch name must be new)
    const slug = `${o.target}-${o.scope}-${stamp}-${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const branch = `elevation/${slug}`;
    await client.branches.create(proj.id, branch, proj.defaultBranch);
    await client.commits.create(proj.id, branch, `Request ${o.scope} on ${o.target} for ${o.ttl}`, [{ action: 'create', filePath: `elevations/${slug}.yaml`, content: text }]);
    const mr = await client.mergeRequests.create(proj.id, {
      sourceBranch: branch,
      targetBranch: proj.defaultBranch,
      title: `Elevation: ${o.scope} on ${o.target} for ${o.ttl}`,
      description: `${o.justification}\n\nRequested with \`jit request\`.`,
    });
    const id = elevationId(proj.id, mr.iid);
    if (!o.wait) {
      // the branch: where a CI job of the requester can run (the default branch is usually protected)
      print(`opened ${one(mr.webUrl ?? `!${mr.iid}`)} — elevation ${id} (branch ${one(branch)})`, { elevationId: id, mrIid: mr.iid, webUrl: mr.webUrl, branch });
      return;
    }
    if (!g().json) io.out(`opened ${one(mr.webUrl ?? `!${mr.iid}`)} — elevation ${id}; waiting…`);
    const deadline = now().getTime() + parseDuration(o.timeout) * 1000;
    const seen = new Set<string>();
    for (;;) {
      const e = await api()
        .elevation(id)
        .catch((err: Error) => {
          // not in jit's read model yet (the gate has not seen the MR), or jit briefly unable to
          // reach GitLab to check the token: keep waiting (a refused token ends it)
          if (err instanceof JitApiError && (err.status === 404 || err.code === 'JIT_ERR_AUTH_UNAVAILABLE')) return undefined;
          throw err;
        });
      if (e) {
        for (const t of e.timeline ?? []) {
          const key = t.id ?? `${t.type}@${t.time}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (!g().json) io.out(timelineLine(t));
        }
        if (FINAL_STATES.has(e.state)) {
          print(`elevation ${id}: ${one(e.state)}`, e);
          if (e.state !== 'granted') throw new CliError(`elevation ${id} ended ${one(e.state)}`, 2);
          return;
        }
      }
      if (now().getTime() > deadline) throw new CliError(`gave up waiting for ${id} after ${o.timeout}`, 3);
      await sleep(1000);
    }
  });

  program
    .command('status')
    .description('state and timeline of one elevation')
    .argument('<id>', 'elevation id (gl-<project>-<mr>)', elevationIdArg)
    .action(async (id: string) => {
      const e = await api().elevation(id);
      const lines = [`${one(e.id)}  ${one(e.state)}  ${one(e.requester)} ${one(e.scope)}@${one(e.target)}${e.expiresAt ? `  until ${one(e.expiresAt)}` : ''}`];
      for (const t of e.timeline ?? []) lines.push(timelineLine(t));
      print(lines.join('\n'), e);
    });

  const openSealed = async (id: string, identityFile?: string) => {
    const credential = await api().credential(id);
    const { sealedCredential, expiresAt, substrate } = credential;
    // the issuer's signature, against the key pinned for this URL (or JIT_ISSUER_KEY)
    await verifyCredentialOrigin(credential, {
      elevationId: id,
      api: api(),
      url: g().url,
      file: join(env.HOME ?? homedir(), '.config', 'jit', 'known-issuers.json'),
      ...(env.JIT_ISSUER_KEY ? { issuerKey: env.JIT_ISSUER_KEY } : {}),
      note: (line) => io.err(line),
    });
    const identityText = await readFile(identityPath(identityFile), 'utf8').catch(() => {
      throw new CliError(`cannot read identity ${identityPath(identityFile)}; pass --identity`);
    });
    const identity = identityText.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'));
    if (!identity) throw new CliError('identity file has no AGE-SECRET-KEY line');
    try {
      return { secret: await openCredential(sealedCredential, identity), expiresAt, substrate };
    } catch {
      throw new CliError('cannot decrypt the credential with this identity (was it sealed to another recipient?)');
    }
  };

  program
    .command('credential')
    .description('fetch the sealed credential and decrypt it locally')
    .argument('<id>', 'elevation id', elevationIdArg)
    .option('--identity <file>', 'age identity file')
    .action(async (id: string, o: { identity?: string }) => {
      const { secret, expiresAt, substrate } = await openSealed(id, o.identity);
      const human = [`# ${one(substrate)} credential, valid until ${one(expiresAt)}`, ...Object.entries(secret).map(([k, v]) => `${one(k)}=${one(v, 10_000)}`)].join('\n');
      print(human, { elevationId: id, substrate, expiresAt, credential: secret });
    });

  program
    .command('exec')
    .description('run a command with the credential in its environment')
    .argument('<id>', 'elevation id', elevationIdArg)
    .argument('<command...>', 'command and arguments (after --)')
    .option('--identity <file>', 'age identity file')
    .action(async (id: string, command: string[], o: { identity?: string }) => {
      const { secret, substrate } = await openSealed(id, o.identity);
      const extra = envForCredential(substrate, secret);
      const run =
        io.run ??
        ((cmd, args, childEnv) =>
          new Promise<number>((resolve, reject) => {
            const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, ...childEnv } });
            child.on('error', reject);
            child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
          }));
      const code = await run(command[0]!, command.slice(1), extra).catch((err: Error) => {
        throw new CliError(`cannot run ${command[0]}: ${err.message}`);
      });
      if (code !== 0) throw new CliError(`${command[0]} exited with ${code}`, code);
    });

  gitlabOpts(
    program
      .command('revoke')
      .description('end an elevation now (comments `/jit revoke` on its MR as you)')
      .argument('<id>', 'elevation id', elevationIdArg)
      .option('--reason <text>', 'why', 'no longer needed'),
  ).action(async (id: string, o) => {
    const { client } = gitlabFrom(o);
    const { projectId, mrIid } = parseElevationId(id)!;
    await client.notes.create(projectId, mrIid, `/jit revoke ${String(o.reason).replace(/[\r\n]+/g, ' ')}`);
    print(`revocation requested for ${id}`, { elevationId: id, requested: true });
  });

  const audit = program
    .command('audit')
    .description('elevations with their outcome, filtered; `jit audit verify` checks the signed event log')
    .option('--state <state>', 'pending|rejected|withdrawn|bypassed|approved|granted|grant_failed|revoked|expired')
    .option('--target <name>')
    .option('--requester <username>')
    .option('--since <iso>', 'updated at or after', isoArg)
    .option('--until <iso>', 'updated before', isoArg)
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .action(async (o: { state?: string; target?: string; requester?: string; since?: string; until?: string; format: string }) => {
      const { elevations } = await api().elevations({ state: o.state, target: o.target, requester: o.requester, since: o.since, until: o.until });
      if (g().json || o.format === 'json') io.out(displayJson(elevations, 2));
      else if (o.format === 'csv') io.out(toCsv(elevations, AUDIT_COLUMNS));
      else io.out(toTable(elevations, AUDIT_COLUMNS));
    });
  registerAuditCommands(program, audit, { out: io.out, err: io.err, env, ...(io.fetch ? { fetch: io.fetch } : {}), ...(io.signal ? { signal: io.signal } : {}), global: g, auth });

  program
    .command('serve')
    .description('run a service in this process: all (the all-in-one, embedded mode) or one distributed service; configured by the environment')
    .addArgument(new Argument('<mode>', 'which service').choices(SERVE_MODES))
    .action(async (mode: ServeMode) => {
      if (!io.serve) throw new CliError('jit serve is not available in this build');
      await io.serve(mode);
    });

  return program;
}

/** Runs the CLI; returns the exit code. Errors are printed as one line on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      return err.exitCode || 1; // commander already printed its one-line message
    }
    // an error may quote a server's answer: one line, nothing a terminal would act on
    if (err instanceof CliError) {
      io.err(`jit: ${displayText(err.message, 2000)}`);
      return err.exitCode;
    }
    io.err(`jit: ${displayText((err as Error).message ?? String(err), 2000)}`);
    return 1;
  }
}
