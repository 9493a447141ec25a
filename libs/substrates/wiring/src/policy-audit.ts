// The policy audit: runs the substrates' own safety checks against every target and scope of a
// loaded policy, so a deployed jit warns when a backstop is missing (a Vault role whose max_ttl
// outlives the tier ceiling, a default credential that can write, jit's Vault token tied to an
// identity entity). It runs in the background,
// one audit and one check at a time, each check bounded by a timeout; a check that throws or hangs
// becomes a finding of its own. Nothing here ever throws into, or waits in, an issue's path.
import type { Logger } from '@jit/observability';
import type { LoadedPolicy } from '@jit/policy';
import type { Finding, Substrate } from '@jit/substrates';
import { Gauge, type Registry } from 'prom-client';

/** Which check produced a finding. `instance`: the policy names an instance this process lacks. */
export type AuditCheck = 'ttl' | 'default-read-only' | 'setup' | 'instance';

export interface AuditFinding extends Finding {
  /** Substrate instance (`vault:prod`). */
  substrate: string;
  /** Policy target, or `*` for an instance-wide check (default-read-only, setup). */
  target: string;
  /** Scope name, for per-scope checks (ttl). */
  scope?: string;
  check: AuditCheck;
}

export interface PolicyAuditResult {
  policyVersion: string;
  startedAt: string;
  finishedAt: string;
  /** Checks run (each one a call to a substrate). */
  checks: number;
  findings: AuditFinding[];
}

/** Where the audit finds the substrate instances (a SubstrateRegistry fits). `list()` answers the same
 * instance objects on every call; an instance missing from it mid-audit means closed: the audit stops. */
export interface SubstrateLookup {
  list(): Substrate[];
}

export interface PolicyAuditOptions {
  /** The instances, or a function answering them when an audit starts (undefined = nothing to audit yet). */
  substrates: SubstrateLookup | (() => SubstrateLookup | undefined);
  logger: Logger;
  /** Where `jit_substrate_findings` is registered; without one the audit only logs. */
  registry?: Registry;
  /** Longest one check may take before it is abandoned and reported. Default 30 s. */
  checkTimeoutMs?: number;
  /** Policy versions remembered as audited (and their results kept for issue-time checks). Default 32. */
  rememberVersions?: number;
  /**
   * Audit the last audited version again this long after each audit (0 = never). Default 1 h. What a
   * check reports can change without a new policy (an IAM quota filling up, a grant to PUBLIC, a
   * token role edited): a finding must not stay as old as the policy.
   */
  repeatEveryMs?: number;
  now?: () => Date;
}

export interface PolicyAudit {
  /** Audit this policy version in the background unless it was audited or queued already. Never throws, never waits. */
  schedule(loaded: LoadedPolicy): void;
  /** The last completed audit, for a /readyz detail or a CLI. */
  lastAudit(): PolicyAuditResult | undefined;
  /** The completed audit of one policy version, if it is still remembered. */
  resultFor(policyVersion: string): PolicyAuditResult | undefined;
  /** Resolves once nothing is queued or running (tests, orderly shutdown). */
  idle(): Promise<void>;
  /** Stop auditing: queued audits are dropped, a running one finishes its current check and stops. */
  close(): void;
}

export const FINDINGS_METRIC = 'jit_substrate_findings';
const SEVERITIES: Finding['severity'][] = ['info', 'warning', 'error'];
const MAX_FINDINGS_PER_CHECK = 50;
const MAX_MESSAGE = 500;

/** `scheme://user:password@host` -> `scheme://user:[redacted]@host`: a finding text is logged and exported. */
function scrubText(text: string): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ');
  const clipped = flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
  return clipped.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi, '$1:[redacted]@');
}

/** A failed check in words: our catalogue errors are written secret-free; foreign errors give only their name and code. */
function describeError(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code?.startsWith('JIT_ERR_') && typeof e.message === 'string') return `${code}: ${e.message}`;
  return [typeof e.name === 'string' ? e.name : 'error', code].filter(Boolean).join(' ');
}

function gaugeOn(registry: Registry): Gauge<'substrate' | 'target' | 'check' | 'severity'> {
  const existing = registry.getSingleMetric(FINDINGS_METRIC);
  if (existing) return existing as Gauge<'substrate' | 'target' | 'check' | 'severity'>;
  return new Gauge({
    name: FINDINGS_METRIC,
    help: 'Findings of the substrate safety checks (max_ttl above the tier ceiling, writable default credential, failed checks) in the last policy audit, by severity; target "*" = instance-wide check',
    labelNames: ['substrate', 'target', 'check', 'severity'],
    registers: [registry],
  });
}

export function createPolicyAudit(options: PolicyAuditOptions): PolicyAudit {
  const { logger } = options;
  const timeoutMs = options.checkTimeoutMs ?? 30_000;
  const remember = options.rememberVersions ?? 32;
  const now = options.now ?? (() => new Date());
  const repeatEveryMs = options.repeatEveryMs ?? 3_600_000;
  const source = typeof options.substrates === 'function' ? options.substrates : () => options.substrates as SubstrateLookup;
  const gauge = options.registry ? gaugeOn(options.registry) : undefined;

  /** Versions audited or queued; results of completed ones. Both bounded, oldest dropped first. */
  const seen = new Set<string>();
  const results = new Map<string, PolicyAuditResult>();
  let last: PolicyAuditResult | undefined;
  let lastLoaded: LoadedPolicy | undefined;
  let repeatTimer: NodeJS.Timeout | undefined;
  let pending: LoadedPolicy | undefined;
  let loop: Promise<void> | undefined;
  let closed = false;

  const trim = <K>(set: { size: number; keys(): IterableIterator<K>; delete(k: K): boolean }) => {
    while (set.size > remember) set.delete(set.keys().next().value as K);
  };

  /** One check, bounded: its findings, or one finding saying why there are none. */
  async function runCheck(what: string, fn: () => Promise<Finding[]>): Promise<Finding[]> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Symbol('timeout');
    const deadline = new Promise<typeof timedOut>((resolve) => {
      timer = setTimeout(() => resolve(timedOut), timeoutMs);
      timer.unref?.();
    });
    try {
      const out = await Promise.race([Promise.resolve().then(fn), deadline]);
      if (out === timedOut) {
        return [{ severity: 'error', message: `${what} did not answer within ${timeoutMs} ms and was abandoned; check that the substrate is reachable` }];
      }
      if (!Array.isArray(out)) return [{ severity: 'error', message: `${what} answered something that is not a list of findings` }];
      const findings: Finding[] = out.slice(0, MAX_FINDINGS_PER_CHECK).map((f: unknown) => {
        const x = (f ?? {}) as { severity?: unknown; message?: unknown };
        const severity = SEVERITIES.includes(x.severity as Finding['severity']) ? (x.severity as Finding['severity']) : 'error';
        return { severity, message: scrubText(typeof x.message === 'string' && x.message ? x.message : `${what} answered a finding without a message`) };
      });
      if (out.length > MAX_FINDINGS_PER_CHECK) {
        findings.push({ severity: 'warning', message: `${what} answered ${out.length} findings; only the first ${MAX_FINDINGS_PER_CHECK} are reported` });
      }
      return findings;
    } catch (err) {
      return [{ severity: 'error', message: scrubText(`${what} failed: ${describeError(err)}`) }];
    } finally {
      clearTimeout(timer);
    }
  }

  /** Thrown inside an audit whose substrates were closed under it (the process is stopping). */
  class Stopped extends Error {}

  async function audit(loaded: LoadedPolicy, lookup: SubstrateLookup): Promise<PolicyAuditResult> {
    const startedAt = now().toISOString();
    const findings: AuditFinding[] = [];
    let checks = 0;
    const byName = new Map(lookup.list().map((s) => [s.name, s]));
    // A registry closed mid-audit lists nothing: stop rather than probe released clients.
    const stillOpen = (s: Substrate): void => {
      if (closed || !lookup.list().includes(s)) throw new Stopped();
    };
    const used: Substrate[] = [];
    for (const [targetName, target] of Object.entries(loaded.policy.targets)) {
      const s = byName.get(target.substrate);
      if (!s) {
        findings.push({
          substrate: target.substrate,
          target: targetName,
          check: 'instance',
          severity: 'error',
          message: `target ${targetName} names substrate instance ${target.substrate}, which this process does not configure; add it to JIT_SUBSTRATES or no elevation on ${targetName} can be issued`,
        });
        continue;
      }
      if (!used.includes(s)) used.push(s);
      if (!s.checkTtl) continue;
      for (const [scopeName, scope] of Object.entries(target.scopes)) {
        const tier = loaded.policy.tiers.find((t) => t.name === scope.tier);
        if (!tier) continue; // a validated policy has no such scope; nothing to compare against
        // `tier` is policy metadata, not a substrate setting (as in the target resolver).
        const { tier: _tier, ...substrateScope } = scope.raw;
        stillOpen(s);
        checks++;
        const got = await runCheck(`${s.name} ttl check of ${targetName}/${scopeName}`, () => s.checkTtl!(substrateScope, tier.ttlMaxSeconds));
        for (const f of got) findings.push({ ...f, substrate: s.name, target: targetName, scope: scopeName, check: 'ttl' });
      }
    }
    for (const s of used) {
      if (s.checkDefaultIsReadOnly) {
        stillOpen(s);
        checks++;
        const got = await runCheck(`${s.name} default-credential read-only check`, () => s.checkDefaultIsReadOnly!());
        for (const f of got) findings.push({ ...f, substrate: s.name, target: '*', check: 'default-read-only' });
      }
      if (s.checkSetup) {
        stillOpen(s);
        checks++;
        const got = await runCheck(`${s.name} setup check`, () => s.checkSetup!());
        for (const f of got) findings.push({ ...f, substrate: s.name, target: '*', check: 'setup' });
      }
    }
    return { policyVersion: loaded.version, startedAt, finishedAt: now().toISOString(), checks, findings };
  }

  function report(result: PolicyAuditResult): void {
    for (const f of result.findings) {
      const fields = { substrate: f.substrate, target: f.target, ...(f.scope ? { scope: f.scope } : {}), check: f.check, severity: f.severity, policyVersion: result.policyVersion };
      if (f.severity === 'info') logger.info(fields, `substrate check: ${f.message}`);
      else logger.warn(fields, `substrate check: ${f.message}`);
    }
    const bad = result.findings.filter((f) => f.severity !== 'info').length;
    logger.info({ policyVersion: result.policyVersion, checks: result.checks, findings: result.findings.length, problems: bad }, 'substrate audit of the policy done');
    if (!gauge) return;
    gauge.reset();
    const counts = new Map<string, { labels: { substrate: string; target: string; check: string }; n: Record<string, number> }>();
    for (const f of result.findings) {
      const key = JSON.stringify([f.substrate, f.target, f.check]);
      const entry = counts.get(key) ?? { labels: { substrate: f.substrate, target: f.target, check: f.check }, n: { info: 0, warning: 0, error: 0 } };
      entry.n[f.severity] = (entry.n[f.severity] ?? 0) + 1;
      counts.set(key, entry);
    }
    for (const { labels, n } of counts.values()) for (const severity of SEVERITIES) gauge.set({ ...labels, severity }, n[severity] ?? 0);
  }

  async function drain(): Promise<void> {
    while (pending && !closed) {
      const loaded = pending;
      pending = undefined;
      const lookup = source();
      if (!lookup) {
        seen.delete(loaded.version); // nothing to audit with yet: try again when it is seen next
        continue;
      }
      try {
        const result = await audit(loaded, lookup);
        if (closed) break;
        results.set(loaded.version, result);
        trim(results);
        last = result;
        lastLoaded = loaded;
        report(result);
        repeatLater();
      } catch (err) {
        if (err instanceof Stopped) {
          seen.delete(loaded.version);
          logger.info({ policyVersion: loaded.version }, 'substrate audit stopped: the substrates were closed');
          continue;
        }
        // audit() catches every check; this is a bug in the audit itself, never the problem.
        logger.warn({ policyVersion: loaded.version, err: describeError(err) }, 'substrate audit failed');
      }
    }
  }

  /** The next look at the version last audited, unless a newer version is audited first. */
  function repeatLater(): void {
    clearTimeout(repeatTimer);
    if (!(repeatEveryMs > 0) || closed) return;
    repeatTimer = setTimeout(() => {
      if (closed || pending || !lastLoaded) return;
      pending = lastLoaded;
      kick();
    }, repeatEveryMs);
    repeatTimer.unref();
  }

  function kick(): void {
    if (loop || closed) return;
    loop = drain().finally(() => {
      loop = undefined;
      // scheduled between the loop's last look and this callback
      if (pending && !closed) kick();
    });
  }

  return {
    schedule(loaded) {
      try {
        if (closed || !loaded || typeof loaded.version !== 'string' || seen.has(loaded.version)) return;
        // A queued version that never started is superseded: forget it so it is audited if seen again.
        if (pending) seen.delete(pending.version);
        seen.add(loaded.version);
        trim(seen);
        pending = loaded;
        kick();
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'substrate audit could not be scheduled');
      }
    },
    lastAudit: () => last,
    resultFor: (version) => results.get(version),
    async idle() {
      while (loop) await loop;
    },
    close() {
      closed = true;
      clearTimeout(repeatTimer);
      pending = undefined;
    },
  };
}
