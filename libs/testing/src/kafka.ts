// A real single-node Kafka (KRaft, broker + controller in one JVM) from the jars setup.sh put
// in .cache/kafka/jars: formatted on first start, restartable on the same port and data. On
// request it also serves a SASL_SSL listener (SCRAM-SHA-256/512 users created at format, the way
// Kafka documents it for KRaft; PLAIN users; unsecured-JWS OAUTHBEARER) and an SSL listener that
// requires a client certificate, with certificates from createTestPki.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestingErrors } from './errors';
import { freePort } from './free-port';
import { probeKafka } from './kafka-probe';
import { tailFile, type ManagedProcess } from './managed-process';
import { KAFKA_CDS_ARCHIVE, KAFKA_JARS_DIR, requireInstalled } from './paths';
import { isPortClash, spawnUntilReady } from './server-start';
import type { TestPki } from './test-pki';
import { watchDirectory } from './watchdog';

const run = promisify(execFile);

export interface KafkaHandle {
  /** `['127.0.0.1:<port>']`, for KafkaConfig.brokers (the PLAINTEXT listener). */
  readonly brokers: string[];
  readonly port: number;
  /** With `secure`: the SASL_SSL listener (SCRAM, PLAIN, OAUTHBEARER over TLS). */
  readonly saslSslBrokers: string[];
  /** With `secure`: the SSL listener that requires a client certificate (mTLS). */
  readonly sslBrokers: string[];
  readonly logFile: string;
  /** Config and data live here; dispose() deletes it. */
  readonly workDir: string;
  /** The process id while running (for tests that inspect it); -1 when stopped. */
  readonly pid: number;
  /** Graceful shutdown (SIGTERM), waits until the JVM has exited. */
  stop(): Promise<void>;
  /** Start again after stop/kill: same port, same data (a restart). */
  start(): Promise<void>;
  /** SIGKILL: a crash, no controlled shutdown. */
  kill(): Promise<void>;
  /** Stop and delete the data. */
  dispose(): Promise<void>;
}

export interface StartKafkaOptions {
  /** Client port; a free one by default. */
  port?: number;
  /** Where server output goes; `<workDir>/kafka.log` by default. */
  logFile?: string;
  /** A daemon for start.sh that outlives this process (default false: reaped with this process). */
  detached?: boolean;
  /** Readiness timeout (default 90 s: a cold JVM on 2 busy cores). */
  timeoutMs?: number;
  /** Extra JVM options (setup.sh passes -XX:ArchiveClassesAtExit to build the CDS archive). */
  jvmArgs?: string[];
  /** Also serve SASL_SSL and mTLS listeners. */
  secure?: KafkaSecureOptions;
}

export interface KafkaSecureOptions {
  /** The broker certificate (for 127.0.0.1) and the CA clients must be signed by for mTLS. */
  pki: TestPki;
  /** Users with SCRAM-SHA-256 and SCRAM-SHA-512 credentials, stored when the storage is formatted. */
  scramUsers?: { name: string; password: string }[];
  /** Users the PLAIN mechanism accepts. */
  plainUsers?: { name: string; password: string }[];
  /**
   * Enforce ACLs (KRaft's StandardAuthorizer): SASL_SSL and SSL principals may do only what ACLs
   * allow; the PLAINTEXT listener (and the controller) act as User:ANONYMOUS, a super user, so a
   * test administers the cluster through `brokers`.
   */
  acls?: boolean;
}

/** Ports of the extra listeners. */
interface SecurePorts {
  saslSsl: number;
  ssl: number;
}

/**
 * Test users go into server.properties (PLAIN's JAAS `user_<name>="<password>"`) and into
 * kafka-storage's `--add-scram 'SCRAM-SHA-512=[name=…,password=…]'`: keep them to characters
 * neither syntax needs to escape.
 */
function checkTestUser(u: { name: string; password: string }): { name: string; password: string } {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(u.name) || !/^[A-Za-z0-9_.+/:@!#%^*~-]{1,200}$/.test(u.password)) {
    throw TestingErrors.badArgument('test Kafka users need a name of [A-Za-z0-9_.-] and a password without quotes, commas, brackets, = or spaces');
  }
  return u;
}

/** Lean JVM for 2 cores: one GC thread, C1 only (starts ~40% faster; tests are not throughput). */
export const KAFKA_JVM_OPTS = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true'];

/**
 * JIT_KAFKA_JVM_OPTS: extra JVM options appended after the lean defaults (the JVM takes the last
 * of conflicting flags), e.g. `-XX:TieredStopAtLevel=4 -Xmx1g` for benchmarks that want C2.
 */
export function kafkaJvmOptsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const raw = env.JIT_KAFKA_JVM_OPTS?.trim();
  if (!raw) return [];
  if (raw.length > 1024) throw TestingErrors.badEnv('JIT_KAFKA_JVM_OPTS', 'at most 1024 characters');
  const opts = raw.split(/\s+/);
  if (!opts.every((o) => /^-[A-Za-z][\w:.+=/,-]*$/.test(o))) {
    throw TestingErrors.badEnv('JIT_KAFKA_JVM_OPTS', 'space-separated JVM options such as -Xmx1g -XX:TieredStopAtLevel=4');
  }
  return opts;
}

/** The broker's server.properties for a single node on loopback. */
export function kafkaServerProperties(opts: { port: number; controllerPort: number; dataDir: string; secure?: KafkaSecureOptions & SecurePorts }): string {
  const s = opts.secure;
  const client = [`PLAINTEXT://127.0.0.1:${opts.port}`, ...(s ? [`SASL_SSL://127.0.0.1:${s.saslSsl}`, `SSL://127.0.0.1:${s.ssl}`] : [])];
  const lines: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${opts.controllerPort}`,
    listeners: [...client, `CONTROLLER://127.0.0.1:${opts.controllerPort}`].join(','),
    'advertised.listeners': client.join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${s ? ',SASL_SSL:SASL_SSL,SSL:SSL' : ''}`,
    'log.dirs': opts.dataDir,
    'num.partitions': 3,
    'auto.create.topics.enable': true,
    // a single node cannot hold 3 replicas of the internal topics (kafkajs issue #1752)
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // fewer internal partitions: the first consumer group / transaction comes up in ms, not s
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.num.partitions': 10,
    // tests should not wait 3 s for the first rebalance
    'group.initial.rebalance.delay.ms': 0,
    'num.network.threads': 2,
    'num.io.threads': 4,
  };
  if (s) {
    const plain = (s.plainUsers ?? []).map((u) => ` user_${checkTestUser(u).name}="${u.password}"`).join('');
    Object.assign(lines, {
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required${plain};`,
      // unsecured JWS tokens (alg "none"), validated for sub/exp only: enough to test a token provider
      'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config': 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': s.pki.serverKeystoreFile,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': s.pki.caFile,
      'listener.name.ssl.ssl.client.auth': 'required',
    });
    if (s.acls) {
      Object.assign(lines, {
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'super.users': 'User:ANONYMOUS',
        'allow.everyone.if.no.acl.found': false,
      });
    }
  }
  return `${Object.entries(lines)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

const LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
`;

/** A KRaft cluster id: 16 random bytes, base64url without padding, never starting with '-'. */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaHandle> {
  const jars = requireInstalled('Kafka', KAFKA_JARS_DIR);
  if (!readdirSync(jars).some((f) => /^kafka_2\.13-.*\.jar$/.test(f))) {
    throw TestingErrors.notInstalled('Kafka', join(jars, 'kafka_2.13-*.jar'));
  }
  const workDir = mkdtempSync(join(tmpdir(), 'jit-kafka-'));
  const dataDir = join(workDir, 'data');
  const logFile = opts.logFile ?? join(workDir, 'kafka.log');
  const propsFile = join(workDir, 'server.properties');
  const log4jFile = join(workDir, 'log4j2.properties');
  writeFileSync(log4jFile, LOG4J2);
  const classpath = `${jars}/*`;
  const extra = [...kafkaJvmOptsFromEnv(process.env), ...(opts.jvmArgs ?? [])];
  // setup.sh's class-data archive of a broker run: halves JVM start-up on a busy 2-core box.
  // A stale archive (other jars or JDK) is ignored by the JVM (-Xshare:auto), never fatal.
  const cds = existsSync(KAFKA_CDS_ARCHIVE) && !extra.some((a) => a.startsWith('-XX:ArchiveClassesAtExit')) ? [`-XX:SharedArchiveFile=${KAFKA_CDS_ARCHIVE}`] : [];
  const jvm = [...KAFKA_JVM_OPTS, ...cds, ...extra, `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', classpath];
  const timeoutMs = opts.timeoutMs ?? 90_000;

  let port = opts.port ?? 0;
  let secure: (KafkaSecureOptions & SecurePorts) | undefined;
  let proc: ManagedProcess | undefined;
  const watchdog = opts.detached ? undefined : watchDirectory(workDir, join(workDir, 'server.pid'), 'SIGKILL');

  const launch = async (): Promise<void> => {
    const p = port;
    proc = await spawnUntilReady(
      'Kafka',
      {
        command: 'java',
        args: [...jvm, 'kafka.Kafka', propsFile],
        logFile,
        detached: opts.detached ?? false,
        pidFile: join(workDir, 'server.pid'),
      },
      () => probeKafka('127.0.0.1', p, 2_000).then(() => true),
      timeoutMs,
    );
  };

  try {
    for (let attempt = 1; ; attempt++) {
      if (opts.port === undefined) port = await freePort();
      const controllerPort = await freePort();
      if (opts.secure) secure = { ...opts.secure, saslSsl: await freePort(), ssl: await freePort() };
      writeFileSync(propsFile, kafkaServerProperties({ port, controllerPort, dataDir, secure }));
      rmSync(dataDir, { recursive: true, force: true });
      // SCRAM credentials live in the cluster metadata: on KRaft they are bootstrapped at format (KIP-900)
      const scram = (opts.secure?.scramUsers ?? [])
        .map(checkTestUser)
        .flatMap((u) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${u.name},password=${u.password}]`]));
      await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '-t', randomClusterId(), '-c', propsFile, ...scram], {
        maxBuffer: 16 << 20,
      }).catch((err: unknown) => {
        throw TestingErrors.startFailed('Kafka storage format', (err as Error).message, logFile, { cause: err });
      });
      try {
        await launch();
        break;
      } catch (err) {
        if (attempt >= 3 || opts.port !== undefined || !isPortClash(tailFile(logFile, 60))) throw err;
      }
    }
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    watchdog?.disarm();
    throw err;
  }

  const handle: KafkaHandle = {
    brokers: [`127.0.0.1:${port}`],
    port,
    saslSslBrokers: secure ? [`127.0.0.1:${secure.saslSsl}`] : [],
    sslBrokers: secure ? [`127.0.0.1:${secure.ssl}`] : [],
    logFile,
    workDir,
    get pid() {
      return proc?.isRunning() ? proc.pid : -1;
    },
    async stop() {
      await proc?.stop('SIGTERM', 60_000);
    },
    async kill() {
      await proc?.stop('SIGKILL', 10_000);
    },
    async start() {
      if (proc?.isRunning()) return;
      await launch();
    },
    async dispose() {
      await proc?.stop('SIGTERM', 30_000);
      rmSync(workDir, { recursive: true, force: true });
      watchdog?.disarm();
    },
  };
  return handle;
}
