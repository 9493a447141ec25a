// `jit events` (the elevations log as JSON lines: CloudEvents as published, or OCSF; from a time or
// the start; following) and `jit audit verify` (signatures and the per-elevation hash chain of an
// export or of the live log). Both read the jit API's GET /v1/events (auditors), or Kafka directly
// with the forwarder's own KAFKA_* settings (`--kafka`).
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { createOcsfMapper, createSinceWindow, isAtOrAfter, jsonLine, readJsonLines, type JsonLine } from '@jit/audit';
import { DirectoryLocked, createEmbeddedBus, createKafkaBus, followTopic, type EventBus } from '@jit/bus';
import { TOPIC_ELEVATIONS, chainKeyOf, displayText, parsePublicKey, producerTrust, verifyEventLog, type ProducerRole, type PublicSigningKey } from '@jit/contracts';
import { elevationIdArg } from './args';
import { createLogger } from '@jit/observability';
import { checkKafkaSecurity, envSchemas, kafkaSecurityEnv, kafkaSecurityFromEnv, parseEnv } from '@jit/service';
import { EXIT_RETRY, type FetchFn } from './api-client';
import type { CallerToken } from './caller-token';
import { CliError } from './cli-error';

/** Exit code of `jit audit verify` when the log is not intact (and of `jit events` after an unreadable line). */
export const EXIT_NOT_INTACT = 2;

export interface AuditCommandContext {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  fetch?: FetchFn;
  /** Stops a follower as SIGINT/SIGTERM do. */
  signal?: AbortSignal;
  /** The global flags: --json and the API URL. */
  global(): { json: boolean; url: string };
  auth(): Promise<CallerToken>;
}

const ROLES: readonly ProducerRole[] = ['gate', 'issuer', 'revoker'];

function isoArg(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an ISO date/time, e.g. 2026-11-01 or 2026-11-01T10:00:00Z');
  return new Date(value).toISOString();
}
const collect = (value: string, previous: string[] = []) => [...previous, value];

interface EventSourceOptions {
  since?: string;
  follow?: boolean;
  elevation?: string;
  kafka?: boolean;
  format?: 'cloudevents' | 'ocsf';
}

/** GET /v1/events as a stream of parsed lines. */
async function* fromApi(ctx: AuditCommandContext, o: EventSourceOptions): AsyncGenerator<JsonLine> {
  const { url } = ctx.global();
  const caller = await ctx.auth();
  const q = new URLSearchParams();
  if (o.since) q.set('since', o.since);
  if (o.follow) q.set('follow', 'true');
  if (o.elevation) q.set('elevation', o.elevation);
  if (o.format === 'ocsf') q.set('format', 'ocsf');
  const qs = q.toString();
  const quote = (v: unknown) => displayText(String(v).split(caller.token).join('[REDACTED]'), 300);
  let res: Response;
  try {
    res = await (ctx.fetch ?? fetch)(new URL(`/v1/events${qs ? `?${qs}` : ''}`, url).toString(), {
      headers: { accept: 'application/x-ndjson', authorization: `Bearer ${caller.token}` },
    });
  } catch (err) {
    throw new CliError(`cannot reach jit at ${new URL(url).origin} (${quote((err as Error).message)}); is it running? set --url or JIT_URL`);
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { code?: unknown; message?: unknown };
    const said = `${body.message !== undefined ? quote(body.message) : `jit answered ${res.status}`}${typeof body.code === 'string' ? ` (${quote(body.code)})` : ''}`;
    if (res.status === 401) throw new CliError(`jit refused the ${caller.kind} from ${caller.from} (401) [${said}]`);
    if (res.status === 403) throw new CliError(`jit refused the event stream (403): only the policy's auditors may read every event [${said}]`);
    throw new CliError(said, res.status === 503 ? EXIT_RETRY : 1);
  }
  yield* readJsonLines(res.body as unknown as AsyncIterable<Buffer>);
}

/** The topic read from Kafka with this process's own KAFKA_* settings, as parsed lines (line = position). */
async function* fromKafka(ctx: AuditCommandContext, o: EventSourceOptions, signal: { stop?: () => Promise<void> }): AsyncGenerator<JsonLine> {
  const schema = z.object({ KAFKA_BROKERS: envSchemas.kafkaBrokers(), KAFKA_CLIENT_ID: envSchemas.kafkaId('jit-events'), ...kafkaSecurityEnv() }).superRefine((e, c) => checkKafkaSecurity(e, c));
  let e: z.output<typeof schema>;
  try {
    e = parseEnv(schema, ctx.env, { service: 'jit events --kafka' });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const bus = await createKafkaBus({ brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, security: kafkaSecurityFromEnv(e), logger: quiet() });
  yield* fromBus(bus, o, signal);
}

const quiet = () => createLogger({ name: 'jit-events', level: 'warn', destination: { write: (s: string) => void process.stderr.write(s) } });

/** The log of a stopped all-in-one (its JIT_DATA_DIR/bus). */
async function* fromBusDir(dir: string, o: EventSourceOptions, signal: { stop?: () => Promise<void> }): AsyncGenerator<JsonLine> {
  // opening an embedded bus creates its directory: a mistyped path must not read as an empty, intact log
  if (!existsSync(join(dir, 'topics', TOPIC_ELEVATIONS))) throw new CliError(`${dir} holds no jit event log (no ${TOPIC_ELEVATIONS} in it): pass the all-in-one's JIT_DATA_DIR/bus`);
  let bus: EventBus;
  try {
    bus = await createEmbeddedBus({ dir, logger: quiet() });
  } catch (err) {
    if (DirectoryLocked.is(err)) throw new CliError(`${dir} is in use by a running jit: read its events through the API instead (jit events --url <jit's URL>)`);
    throw new CliError(`cannot open the event log in ${dir}: ${displayText((err as Error).message, 300)}`);
  }
  yield* fromBus(bus, o, signal);
}

/** A topic read through a bus as parsed lines (line = position in the log). Closes the bus at the end. */
async function* fromBus(bus: EventBus, o: EventSourceOptions, signal: { stop?: () => Promise<void> }): AsyncGenerator<JsonLine> {
  // a queue between the bus's handler and this generator; the handler waits while it is full
  const queue: JsonLine[] = [];
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  let finished = false;
  let failure: unknown;
  let n = 0;
  const follower = await followTopic(bus, {
    topic: TOPIC_ELEVATIONS,
    follow: o.follow === true,
    groupPrefix: 'jit-events',
    onEvent: async (m) => {
      n += 1;
      queue.push({ line: n, value: m.event as Record<string, unknown> });
      wake?.();
      while (queue.length > 1000) await new Promise<void>((r) => (room = r));
    },
  });
  signal.stop = () => follower.stop();
  follower.done.then(
    () => ((finished = true), wake?.()),
    (err: unknown) => ((failure = err), (finished = true), wake?.()),
  );
  try {
    for (;;) {
      if (queue.length > 0) {
        const next = queue.shift()!;
        room?.();
        yield next;
        continue;
      }
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failure !== undefined) throw new CliError(`reading Kafka failed: ${displayText((failure as Error).message ?? String(failure), 300)}`, EXIT_RETRY);
  } finally {
    await follower.stop();
    await bus.close();
  }
}

async function* fromFile(path: string): AsyncGenerator<JsonLine> {
  const stream = path === '-' ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === '-') return resolve();
    stream.once('open', () => resolve()).once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new CliError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  yield* readJsonLines(stream as AsyncIterable<Buffer>);
}

/** The keys to trust per role: --keys files/URLs (JWK Sets as GET /v1/keys lists them), else JIT_TRUSTED_*_KEYS, else the server's /v1/keys. */
async function trustFrom(ctx: AuditCommandContext, keySources: string[], allowServer: boolean) {
  const configured: Record<ProducerRole, PublicSigningKey[]> = { gate: [], issuer: [], revoker: [] };
  const addSet = (text: string, from: string) => {
    let doc: { keys?: Array<{ x?: unknown; roles?: unknown }> };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw new CliError(`${from} is not a JWK Set (JSON, as GET /v1/keys answers)`);
    }
    for (const k of Array.isArray(doc.keys) ? doc.keys : []) {
      if (typeof k.x !== 'string') continue;
      let key: PublicSigningKey;
      try {
        key = parsePublicKey(k.x);
      } catch (err) {
        throw new CliError(`${from}: ${(err as Error).message}`);
      }
      const roles = Array.isArray(k.roles) ? ROLES.filter((r) => (k.roles as unknown[]).includes(r)) : ROLES;
      for (const r of roles) configured[r].push(key);
    }
  };
  const fetchKeys = async (url: string) => {
    const caller = await ctx.auth().catch(() => undefined);
    const res = await (ctx.fetch ?? fetch)(url, { headers: { accept: 'application/json', ...(caller ? { authorization: `Bearer ${caller.token}` } : {}) } }).catch((err: Error) => {
      throw new CliError(`cannot fetch keys from ${new URL(url).origin}: ${displayText(err.message, 200)}`);
    });
    if (!res.ok) throw new CliError(`${new URL(url).origin}${new URL(url).pathname} answered ${res.status}`);
    return res.text();
  };
  for (const src of keySources) {
    if (/^https?:\/\//.test(src)) addSet(await fetchKeys(src), src);
    else addSet(await readFile(src, 'utf8').catch((err: NodeJS.ErrnoException) => Promise.reject(new CliError(`cannot read ${src} (${err.code ?? 'error'})`))), src);
  }
  if (keySources.length === 0) {
    for (const r of ROLES) {
      const v = ctx.env[`JIT_TRUSTED_${r.toUpperCase()}_KEYS`];
      for (const x of (v ?? '').split(/[\s,]+/).filter(Boolean)) {
        try {
          configured[r].push(parsePublicKey(x));
        } catch (err) {
          throw new CliError(`JIT_TRUSTED_${r.toUpperCase()}_KEYS: ${(err as Error).message}`);
        }
      }
    }
  }
  if (ROLES.every((r) => configured[r].length === 0)) {
    if (!allowServer)
      throw new CliError('no trusted keys: pass --keys <file or URL of a JWK Set> (GET /v1/keys of each jit process), or set JIT_TRUSTED_GATE_KEYS, JIT_TRUSTED_ISSUER_KEYS, JIT_TRUSTED_REVOKER_KEYS');
    ctx.err('jit: trusting the keys the server lists now (GET /v1/keys); for a check independent of it, pin them with --keys');
    addSet(await fetchKeys(new URL('/v1/keys', ctx.global().url).toString()), '/v1/keys');
  }
  return producerTrust(configured);
}

export function registerAuditCommands(program: Command, audit: Command, ctx: AuditCommandContext): void {
  program
    .command('events')
    .description('stream the elevations log as JSON lines (CloudEvents as published, or OCSF), for a SIEM forwarder; needs the auditor role (or --kafka)')
    .option(
      '--since <iso>',
      "only events at or after this time (default: from the start); CloudEvents come with each elevation's last earlier event first, so the export verifies (jit audit verify --since)",
      isoArg,
    )
    .option('--follow', 'keep streaming new events (like tail -f)', false)
    .addOption(new Option('--format <format>', 'event format').choices(['cloudevents', 'ocsf']).default('cloudevents'))
    .option('--elevation <id>', "only this elevation's events", elevationIdArg)
    .option('--kafka', 'read jit.elevations.v1 from Kafka directly (KAFKA_BROKERS and the KAFKA_TLS_*/KAFKA_SASL_* settings) instead of the jit API', false)
    .option('--bus-dir <dir>', 'read the embedded log of a stopped all-in-one (its JIT_DATA_DIR/bus) instead of the jit API')
    .action(async (o: EventSourceOptions & { busDir?: string }) => {
      const stopper: { stop?: () => Promise<void> } = {};
      const ocsf = (o.kafka || o.busDir !== undefined) && o.format === 'ocsf' ? createOcsfMapper() : undefined;
      const since = o.since ? new Date(o.since) : undefined;
      const window = since && !ocsf ? createSinceWindow(since) : undefined;
      const onSignal = () => void stopper.stop?.();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      ctx.signal?.addEventListener('abort', onSignal, { once: true });
      let bad = 0;
      try {
        const direct = o.kafka === true || o.busDir !== undefined;
        const source = o.busDir !== undefined ? fromBusDir(o.busDir, o, stopper) : o.kafka ? fromKafka(ctx, o, stopper) : fromApi(ctx, o);
        for await (const l of source) {
          if ('error' in l) {
            bad += 1;
            ctx.err(`jit: ${l.error.message}`);
            continue;
          }
          if (direct) {
            // read directly, the filters are applied here (the API applies them itself); OCSF folds everything first
            const mapped = ocsf?.map(l.value);
            if (o.elevation && chainKeyOf(l.value) !== o.elevation) continue;
            if (window) {
              for (const e of window(l.value)) ctx.out(jsonLine(e).trimEnd());
              continue;
            }
            if (since && !isAtOrAfter(l.value['time'], since)) continue;
            ctx.out(jsonLine(ocsf ? (mapped ?? l.value) : l.value).trimEnd());
          } else ctx.out(jsonLine(l.value).trimEnd());
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        ctx.signal?.removeEventListener('abort', onSignal);
      }
      if (bad > 0) throw new CliError(`${bad} line(s) could not be read (see above); every other event was written`, EXIT_NOT_INTACT);
    });

  audit
    .command('verify')
    .description("check signatures and each elevation's hash chain in an export (JSON lines) or the live log; exit 0 intact, 2 not intact")
    .argument('[file]', 'JSON lines export (`jit events > file`), or - for stdin; default: the live log through the jit API')
    .option('--elevation <id>', 'only this elevation', elevationIdArg)
    .option('--keys <file-or-url>', "trusted public keys: a JWK Set as GET /v1/keys answers (repeatable; default JIT_TRUSTED_*_KEYS, else the server's)", collect, [])
    .option('--kafka', 'read the live log from Kafka (KAFKA_* settings) instead of the jit API', false)
    .option('--bus-dir <dir>', 'read the embedded log of a stopped all-in-one (its JIT_DATA_DIR/bus)')
    .option(
      '--since <iso>',
      "the export starts at this time (jit events --since): each elevation's first event before it is the anchor the export starts from; for the live log, verify from this time on",
      isoArg,
    )
    .option('--as-of <iso>', 'when the log is known to be complete, for grants that never ended (default: the live log now, a file its latest event)', isoArg)
    .action(async (file: string | undefined, o: { elevation?: string; keys: string[]; kafka?: boolean; busDir?: string; since?: string; asOf?: string }) => {
      // `jit audit` has a --since of its own (its list's filter): commander gives it the flag first
      o.since ??= (audit.opts() as { since?: string }).since;
      const trust = await trustFrom(ctx, o.keys, file === undefined && !o.kafka && o.busDir === undefined);
      const events: unknown[] = [];
      const lines: number[] = [];
      const unreadable = new Map<number, string>();
      const source =
        file !== undefined
          ? fromFile(file)
          : o.busDir !== undefined
            ? fromBusDir(o.busDir, {}, {})
            : o.kafka
              ? fromKafka(ctx, {}, {})
              : fromApi(ctx, { ...(o.elevation ? { elevation: o.elevation } : {}), ...(o.since ? { since: o.since } : {}) });
      const since = o.since ? new Date(o.since) : undefined;
      // the API applies --since itself (anchors included); a log read whole is windowed here the same way
      const window = since && file === undefined && (o.kafka || o.busDir !== undefined) ? createSinceWindow(since) : undefined;
      for await (const l of source) {
        if ('error' in l) {
          lines.push(l.line);
          unreadable.set(events.length, l.error.message);
          events.push(undefined);
        } else
          for (const e of window ? window(l.value) : [l.value]) {
            lines.push(l.line);
            events.push(e);
          }
      }
      // what has ended must have ended by now: the live log is complete up to now, a file up to its latest event
      const asOf = o.asOf ? new Date(o.asOf) : file === undefined ? new Date() : undefined;
      const report = verifyEventLog(events, { trust, ...(o.elevation ? { key: o.elevation } : {}), ...(since ? { since } : {}), ...(asOf ? { asOf } : {}) });
      if (report.events === 0) throw new CliError(`no events to verify${o.elevation ? ` for ${o.elevation}` : ''}: nothing was checked (wrong file, or elevation id?)`);
      const where = file !== undefined ? (i: number) => `line ${lines[i]}` : (i: number) => `event ${i + 1}`;
      const problems = report.problems.map((p) => ({ ...p, line: lines[p.index], message: unreadable.get(p.index) ?? p.message }));
      if (ctx.global().json) ctx.out(JSON.stringify({ ok: report.ok, events: report.events, elevations: report.keys, forks: report.forks, anchors: report.anchors, problems }, null, 2));
      else if (report.ok)
        ctx.out(
          `intact: ${report.events} events of ${report.keys} elevation(s) and policy stream(s), every signature trusted and every link in place${report.forks ? ` (${report.forks} concurrent append(s))` : ''}`,
        );
      else {
        const first = problems[0]!;
        ctx.out(
          `NOT INTACT: ${where(first.index)}: ${first.kind}: ${first.eventId ? `event ${displayText(first.eventId, 80)} ` : ''}${first.type ? `(${displayText(first.type, 80)}) ` : ''}${first.key ? `of ${displayText(first.key, 80)} ` : ''}${first.message}`,
        );
        for (const p of problems.slice(1, 20)) ctx.out(`  then ${where(p.index)}: ${p.kind}: ${p.message}`);
        if (problems.length > 20) ctx.out(`  … ${problems.length - 20} more`);
        if (!since && file !== undefined && problems.some((p) => p.kind === 'missing_event'))
          ctx.out('  (an export made with jit events --since starts each elevation after its history began: verify it with the same --since)');
      }
      if (!report.ok) throw new CliError('the log is not intact', EXIT_NOT_INTACT);
    });
}
