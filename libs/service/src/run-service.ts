// The life of a jit process, the same for every app: parse config once (a bad setting exits 2
// with the app's message), start, log where it listens, and on SIGTERM/SIGINT stop gracefully
// within a deadline (exit 0), or exit 1 with one line when start-up or stopping fails.
import { z } from 'zod';
import { createLogger, type Logger } from '@jit/observability';
import { ConfigError } from './config-error';
import { formatEnvIssues } from './parse-env';

export interface RunningService {
  /** Where it listens, for the log line. */
  address: string;
  /** Extra fields for the "listening" log line (never secrets). */
  info?: Record<string, unknown>;
  /** Graceful stop: stop consuming, finish what is in flight, close clients. */
  stop(): Promise<void>;
}

export interface ServiceDefinition<C extends { logLevel: string }> {
  name: string;
  /** Throws a ConfigError (`parseEnv` does; its message names the bad settings) on bad config. */
  parseConfig(env: Record<string, string | undefined>): C;
  start(config: C, logger: Logger): Promise<RunningService>;
  /** What "in flight" means for this service, for the stopping log line. */
  inFlight?: string;
  /** Longest graceful stop before exiting 1. Default 30 s. */
  stopTimeoutMs?: number;
}

export interface ProcessLike {
  env: Record<string, string | undefined>;
  exit(code: number): void;
  on(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  stderr: { write(text: string): unknown };
}

export async function runService<C extends { logLevel: string }>(def: ServiceDefinition<C>, proc: ProcessLike = process): Promise<void> {
  let config: C;
  try {
    config = def.parseConfig(proc.env);
  } catch (err) {
    const configError = asConfigError(err, def.name);
    if (!configError) throw err;
    proc.stderr.write(`${configError.message}\n`);
    proc.exit(2);
    return;
  }
  const logger = createLogger({ name: def.name, level: config.logLevel as 'info' });
  let service: RunningService;
  try {
    service = await def.start(config, logger);
  } catch (err) {
    proc.stderr.write(`${def.name} failed to start: ${describe(err)}\n`);
    proc.exit(1);
    return;
  }
  logger.info({ address: service.address, ...service.info }, `${def.name} listening`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `stopping: finishing ${def.inFlight ?? 'the work in flight'}`);
    const limit = def.stopTimeoutMs ?? 30_000;
    const force = setTimeout(() => {
      logger.error(`shutdown took longer than ${limit / 1000} s; exiting`);
      proc.exit(1);
    }, limit);
    force.unref?.();
    try {
      await service.stop();
      logger.info('stopped');
      proc.exit(0);
    } catch (err) {
      logger.error({ err: { name: (err as Error)?.name, code: (err as { code?: string })?.code } }, 'error while stopping');
      proc.exit(1);
    }
  };
  proc.on('SIGTERM', () => void stop('SIGTERM'));
  proc.on('SIGINT', () => void stop('SIGINT'));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return `${(err as { code?: string }).code ?? err.name}: ${err.message}`;
}

/** A config error in the one format, whether parseConfig threw ours, a foreign one by that name, or a bare ZodError. */
function asConfigError(err: unknown, service: string): Error | undefined {
  if (err instanceof ConfigError || (err instanceof Error && err.name === 'ConfigError')) return err as Error;
  if (err instanceof z.ZodError) return new ConfigError(formatEnvIssues(err.issues), service);
  return undefined;
}
