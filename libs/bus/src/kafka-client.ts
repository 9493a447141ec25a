// What every part of the Kafka bus shares: its options, the kafkajs client built from them (logs
// routed to pino, bounded retries), readiness with its background probe, and how a kafkajs failure
// is described and classified (transient, protocol error type, refused for want of an ACL).
import kafkajs, { type LogEntry } from 'kafkajs';
import type { JitError } from '@jit/errors';
import type { Logger, Registry } from '@jit/observability';
import { BusRejected, BusUnavailable } from './errors';
import { authorizationFailure, kafkaSasl, kafkaSsl, type KafkaSecurity } from './kafka-security';

// kafkajs is CommonJS whose named exports Node's ESM loader cannot see; take them off the default export.
const { Kafka, logLevel } = kafkajs;
export type Kafka = InstanceType<typeof Kafka>;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** TLS and SASL of the connection (see @jit/service kafkaSecurityEnv); plaintext without authentication when absent. */
  security?: KafkaSecurity;
  /** A publish not acknowledged (acks=all) within this rejects with JIT_ERR_BUS_UNAVAILABLE. Default 3000. */
  publishTimeoutMs?: number;
  /** Partitions for topics the bus creates implicitly (subscribe to a missing topic, its .dlq). Default 1. */
  defaultPartitions?: number;
  /** Partitions of one subscription handled at the same time (each still in order). Default 4. */
  partitionsConsumedConcurrently?: number;
  /**
   * Inside a long fetched batch, handled offsets are committed at least this often (ms); they are
   * always committed at the end of each batch and before a stop or rebalance completes. Default 200.
   */
  commitIntervalMs?: number;
  /** Consumer session timeout; a handler must finish well within it. Default 30000. */
  sessionTimeoutMs?: number;
  /** Largest serialised event accepted. Default 1 MiB (the broker's default message.max.bytes). */
  maxEventBytes?: number;
  /** prom-client registry for jit_bus_* counters (none when omitted). */
  registry?: Registry;
}

const READY_PROBE_MS = 2_000;

export function createKafkaClient(options: KafkaBusOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: kafkaSsl(options.security),
    sasl: kafkaSasl(options.security),
    connectionTimeout: 1_000,
    requestTimeout: 10_000,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    // Bounded: an outage must surface as an error within seconds, not hang the caller.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
}

/** Routes kafkajs logs to pino; drops the one warning we cause on purpose (bounded producer retries). */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _t, logger: _l, stack: _s, ...rest } = log as LogEntry['log'] & Record<string, unknown>;
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      const fields = { kafkajs: namespace, ...pick(rest, ['broker', 'clientId', 'groupId', 'topic', 'partition', 'error', 'retryCount', 'retryTime']) };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/**
 * Whether the bus can reach its brokers. A failure turns it false and starts a probe (a metadata
 * call every 2 s) that turns it true again without waiting for the next publish.
 */
export class KafkaReadiness {
  private ready = false;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    private readonly check: () => Promise<unknown>,
    private readonly isClosed: () => boolean,
  ) {}

  get value(): boolean {
    return this.ready;
  }

  set(ready: boolean): void {
    this.ready = ready;
    if (!ready && !this.probe && !this.isClosed()) {
      // Readiness comes back without waiting for the next publish: a metadata call is enough.
      this.probe = setInterval(() => {
        this.check().then(
          () => {
            this.ready = true;
            clearInterval(this.probe);
            this.probe = undefined;
          },
          () => undefined,
        );
      }, READY_PROBE_MS);
      this.probe.unref();
    }
  }

  stop(): void {
    if (this.probe) clearInterval(this.probe);
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const type = (err as { type?: unknown }).type;
    return typeof type === 'string' ? `${err.name} ${type}` : err.name;
  }
  return 'unknown error';
}

/** Whether a kafkajs error, or one it wraps (retries exhausted), carries this protocol error type. */
export function hasKafkaType(err: unknown, type: string): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if ((e as { type?: unknown }).type === type) return true;
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

/** kafkajs errors that mean "try later" rather than "this request is wrong". */
export function isTransient(err: unknown): boolean {
  // kafkajs wraps the real failure (retries exhausted → originalError / cause); look down the chain.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (/Connection|NumberOfRetriesExceeded|RequestTimeout|BrokerNotFound|ProtocolRetriable|Timeout/.test(e.name)) return true;
    if ((e as { retriable?: unknown }).retriable === true) return true;
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

/**
 * A broker call that failed: refused for want of an ACL is not going to get better by retrying
 * (REJECTED, pointing at the ACL docs); anything else is UNAVAILABLE.
 */
export function accessFailure(what: string, err: unknown): JitError {
  const denied = authorizationFailure(err);
  return denied ? BusRejected(`${what}: ${denied}; grant this client's principal the ACLs in deploy/kafka/README.md`, { cause: err }) : BusUnavailable(`${what}: ${describe(err)}`, { cause: err });
}
