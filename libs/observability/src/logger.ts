// pino logger factory with the redaction every service shares: no token, signature,
// password or credential field ever reaches a log line.
import pino, { type Logger, type LoggerOptions } from 'pino';

/** Paths pino censors wherever they appear (headers, configs, substrate answers). */
export const REDACT_PATHS = [
  'password',
  'token',
  'secret',
  'privateToken',
  'authorization',
  'credential',
  'sealed',
  '*.password',
  '*.token',
  '*.secret',
  '*.secretToken',
  '*.signingToken',
  '*.privateToken',
  '*.authorization',
  '*.credential',
  '*.sessionToken',
  '*.secretAccessKey',
  '*.accessToken',
  '*.client_token',
  '*.url',
  'req.headers.authorization',
  'req.headers["private-token"]',
  'req.headers["x-gitlab-token"]',
  'req.headers["webhook-signature"]',
  'headers.authorization',
  'headers["private-token"]',
  'headers["x-gitlab-token"]',
  'headers["webhook-signature"]',
];

export interface LoggerConfig {
  name: string;
  level?: LoggerOptions['level'];
  /** Where lines go; default stdout. Tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: config.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

export type { Logger };
