import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  allowedCiProjects,
  authEnv,
  authFromEnv,
  busEnv,
  busFromEnv,
  checkBusChoice,
  envSchemas as s,
  gitlabEnv,
  gitlabFromEnv,
  isBrokerAddress,
  kafkaConsumerEnv,
  kafkaConsumerFromEnv,
  serverEnv,
  serverFromEnv,
} from './env-schemas';
import { ConfigError } from './config-error';
import { parseEnv } from './parse-env';

/** The message of the ConfigError `parseEnv` throws for `env`. */
function problem(schema: z.ZodObject, env: Record<string, string | undefined>): string {
  try {
    parseEnv(schema, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env).slice(0, 80)}`);
}

describe('kafka brokers', () => {
  const required = z.object({ KAFKA_BROKERS: s.kafkaBrokers() });
  const optional = z.object({ KAFKA_BROKERS: s.kafkaBrokersOptional() });

  it('reads a trimmed comma list of host:port', () => {
    expect(parseEnv(required, { KAFKA_BROKERS: ' k1:9092 , 10.0.0.7:9093,kafka-2.ns.svc.cluster.local:65535' }).KAFKA_BROKERS).toEqual([
      'k1:9092',
      '10.0.0.7:9093',
      'kafka-2.ns.svc.cluster.local:65535',
    ]);
    expect(parseEnv(optional, {}).KAFKA_BROKERS).toEqual([]);
    expect(parseEnv(optional, { KAFKA_BROKERS: '  ' }).KAFKA_BROKERS).toEqual([]);
  });

  it('says it is required, and what it is, when missing or blank', () => {
    for (const env of [{}, { KAFKA_BROKERS: '' }, { KAFKA_BROKERS: ' , ' }]) {
      expect(problem(required, env)).toBe('invalid configuration:\n  KAFKA_BROKERS: is required: comma-separated host:port of the Kafka brokers');
    }
  });

  it.each([
    ['host', /each broker must be host:port/],
    ['host:99999', /each broker must be host:port .*port 1-65535/],
    ['host:0', /each broker must be host:port/],
    [':9092', /each broker must be host:port/],
    ['host:', /each broker must be host:port/],
    ['host:9092x', /each broker must be host:port/],
    ['host:-1', /each broker must be host:port/],
    ['a b:9092', /each broker must be host:port/],
    ['a:b:9092', /each broker must be host:port/],
    ['[::1]:9092', /each broker must be host:port/],
    ['-bad-.example:9092', /each broker must be host:port/],
    ['ok:9092,,ok2:9092', /has an empty item \(item 2\); remove the extra comma/],
    ['ok:9092,', /has an empty item \(item 2\)/],
    [',ok:9092', /has an empty item \(item 1\)/],
  ])('refuses %j with a clear message naming KAFKA_BROKERS', (value, message) => {
    for (const schema of [required, optional]) {
      const msg = problem(schema, { KAFKA_BROKERS: value });
      expect(msg).toMatch(new RegExp(`KAFKA_BROKERS: ${message.source}`));
      expect(msg.split('\n')).toHaveLength(2);
    }
  });

  it('refuses a 10k-character list without echoing it', () => {
    for (const value of ['a'.repeat(10_000), `${'k:1,'.repeat(2_500)}k:1`, `${'x'.repeat(9_990)}:9092`]) {
      const msg = problem(required, { KAFKA_BROKERS: value });
      expect(msg).toMatch(/KAFKA_BROKERS: is \d+ characters long; at most 4096 are accepted/);
      expect(msg.length).toBeLessThan(200);
    }
  });

  it('names every bad broker once (one line for the key)', () => {
    expect(problem(required, { KAFKA_BROKERS: 'a,b:1,c' })).toBe('invalid configuration:\n  KAFKA_BROKERS: each broker must be host:port (a hostname or IPv4 address and a port 1-65535)');
  });

  it('accepts only what kafkajs can split into a host and a port in range', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (item) => {
        if (!isBrokerAddress(item)) return;
        const parts = item.split(':');
        expect(parts).toHaveLength(2);
        expect(parts[0]!.length).toBeGreaterThan(0);
        expect(Number(parts[1])).toBeGreaterThanOrEqual(1);
        expect(Number(parts[1])).toBeLessThanOrEqual(65535);
      }),
    );
    fc.assert(
      fc.property(fc.domain(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(isBrokerAddress(`${host}:${port}`)).toBe(true);
      }),
    );
  });
});

describe('numbers', () => {
  const schema = z.object({ PORT: s.port(8082), STRICT: s.port(8929, { min: 1 }), N: s.intFrom(5, 10).optional(), D: s.durationMs().optional() });

  it('keeps defaults and reads whole numbers', () => {
    expect(parseEnv(schema, {})).toEqual({ PORT: 8082, STRICT: 8929 });
    expect(parseEnv(schema, { PORT: '0', STRICT: '65535', N: '010', D: String(24 * 3600 * 1000) })).toEqual({ PORT: 0, STRICT: 65535, N: 10, D: 86_400_000 });
  });

  it.each(['', ' 80', '80 ', '0x50', '1e3', '-1', '8.5', '65536', '+80', '٨٠', '9'.repeat(400)])('refuses PORT=%j naming the range', (value) => {
    expect(problem(schema, { PORT: value })).toBe('invalid configuration:\n  PORT: must be a whole number from 0 to 65535');
  });

  it('applies each schema its own bounds', () => {
    expect(problem(schema, { STRICT: '0' })).toMatch(/STRICT: must be a whole number from 1 to 65535/);
    expect(problem(schema, { N: '4' })).toMatch(/N: must be a whole number from 5 to 10/);
    expect(problem(schema, { D: String(24 * 3600 * 1000 + 1) })).toMatch(/D: must be a whole number from 0 to 86400000/);
  });
});

describe('host, log level, flags, ids, paths', () => {
  const schema = z.object({
    HOST: s.host(),
    LOG_LEVEL: s.logLevel(),
    FLAG: s.flag(false),
    ID: s.kafkaId('jit-x'),
    DIR: s.path().optional(),
  });

  it('has the shared defaults', () => {
    expect(parseEnv(schema, {})).toEqual({ HOST: '127.0.0.1', LOG_LEVEL: 'info', FLAG: false, ID: 'jit-x' });
  });

  it('accepts hostnames and IPv4/IPv6 listen addresses, flags as true/false/1/0', () => {
    for (const HOST of ['0.0.0.0', 'localhost', '::', '::1', 'svc.ns.svc.cluster.local']) expect(parseEnv(schema, { HOST }).HOST).toBe(HOST);
    expect(parseEnv(schema, { FLAG: 'true' }).FLAG).toBe(true);
    expect(parseEnv(schema, { FLAG: '1' }).FLAG).toBe(true);
    expect(parseEnv(schema, { FLAG: '0' }).FLAG).toBe(false);
  });

  it('names each bad one', () => {
    const msg = problem(schema, { HOST: 'a b', LOG_LEVEL: 'loud', FLAG: 'yes', ID: 'has space', DIR: '' });
    expect(msg.split('\n').slice(1)).toEqual([
      '  HOST: must be a hostname or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0',
      '  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      '  FLAG: must be true or false',
      '  ID: use 1-200 characters from [A-Za-z0-9._-]',
      '  DIR: must be a path',
    ]);
    expect(problem(schema, { HOST: 'h/../x' })).toMatch(/HOST:/);
    expect(problem(schema, { HOST: 'a'.repeat(254) })).toMatch(/HOST:/);
  });
});

describe('GitLab settings', () => {
  const schema = z.object(gitlabEnv());

  it('strips trailing slashes from the URL and gives numeric project ids as numbers', () => {
    const e = parseEnv(schema, { GITLAB_URL: 'https://gitlab.example.com/sub//', GITLAB_TOKEN: 'glpat-0123456789', JIT_ELEVATIONS_PROJECT: '42' });
    expect(gitlabFromEnv(e)).toEqual({ gitlab: { url: 'https://gitlab.example.com/sub', token: 'glpat-0123456789' }, elevationsProject: 42 });
    expect(gitlabFromEnv({ ...e, JIT_ELEVATIONS_PROJECT: 'group/sub/elevations' }).elevationsProject).toBe('group/sub/elevations');
  });

  it('says what each missing one is for', () => {
    expect(problem(schema, {}).split('\n').slice(1)).toEqual([
      '  GITLAB_URL: is required: the http(s) base URL of GitLab, e.g. https://gitlab.example.com',
      '  GITLAB_TOKEN: is required: a GitLab access token with api scope (or GITLAB_TOKEN_FILE: a file holding it)',
      '  JIT_ELEVATIONS_PROJECT: is required: the elevations project id or path, e.g. group/elevations',
    ]);
  });

  it('refuses other schemes, short tokens and path tricks', () => {
    const msg = problem(schema, { GITLAB_URL: 'ftp://gitlab', GITLAB_TOKEN: 'short', JIT_ELEVATIONS_PROJECT: '../etc' });
    expect(msg).toMatch(/GITLAB_URL: must be the http\(s\) base URL of GitLab/);
    expect(msg).toMatch(/GITLAB_TOKEN: must be a GitLab access token with api scope/);
    expect(msg).toMatch(/JIT_ELEVATIONS_PROJECT: must be a project id or path like group\/elevations/);
    expect(msg).not.toMatch(/short|ftp:|\.\.\/etc/);
  });
});

describe('groups', () => {
  it('server: PORT, HOST, LOG_LEVEL with the app default port', () => {
    const schema = z.object(serverEnv(8081));
    expect(serverFromEnv(parseEnv(schema, {}))).toEqual({ port: 8081, host: '127.0.0.1', logLevel: 'info', ops: { port: 9464, host: '127.0.0.1' } });
    expect(serverFromEnv(parseEnv(schema, { PORT: '0', HOST: '0.0.0.0', LOG_LEVEL: 'debug' }))).toEqual({ port: 0, host: '0.0.0.0', logLevel: 'debug', ops: { port: 9464, host: '127.0.0.1' } });
  });

  it('kafka consumer: brokers required, ids defaulted, session timeout bounded', () => {
    const schema = z.object(kafkaConsumerEnv('jit-issuer'));
    expect(kafkaConsumerFromEnv(parseEnv(schema, { KAFKA_BROKERS: 'k:1' }))).toEqual({ brokers: ['k:1'], clientId: 'jit-issuer', groupId: 'jit-issuer', sessionTimeoutMs: 30_000, security: {} });
    expect(problem(schema, { KAFKA_BROKERS: 'k:1', KAFKA_GROUP_ID: 'g/1', KAFKA_SESSION_TIMEOUT_MS: '5999' }).split('\n').slice(1)).toEqual([
      '  KAFKA_GROUP_ID: use 1-200 characters from [A-Za-z0-9._-]',
      '  KAFKA_SESSION_TIMEOUT_MS: must be a whole number from 6000 to 300000',
    ]);
  });

  it('bus: Kafka or an embedded log, exactly one', () => {
    const schema = z.object(busEnv('jit-gate')).superRefine(checkBusChoice);
    expect(busFromEnv(parseEnv(schema, { KAFKA_BROKERS: 'k:1' }))).toEqual({ kind: 'kafka', brokers: ['k:1'], clientId: 'jit-gate', security: {} });
    expect(busFromEnv(parseEnv(schema, { JIT_BUS_DIR: '/var/jit/bus' }))).toEqual({ kind: 'embedded', dir: '/var/jit/bus' });
    expect(problem(schema, {})).toMatch(/KAFKA_BROKERS: set KAFKA_BROKERS \(or JIT_BUS_DIR for an embedded bus\)/);
    expect(problem(schema, { KAFKA_BROKERS: 'k:1', JIT_BUS_DIR: '/x' })).toMatch(/JIT_BUS_DIR: set KAFKA_BROKERS or JIT_BUS_DIR, not both/);
  });

  it('lists: blank is empty, empty items are refused, items keep their own checks', () => {
    const schema = z.object({ L: s.csv(s.signingSecret()) });
    expect(parseEnv(schema, {}).L).toEqual([]);
    expect(parseEnv(schema, { L: 'whsec_YWJj, whsec_ZGVm' }).L).toEqual(['whsec_YWJj', 'whsec_ZGVm']);
    expect(problem(schema, { L: 'whsec_YWJj,,whsec_ZGVm' })).toMatch(/L: has an empty item \(item 2\)/);
    expect(problem(schema, { L: 'whsec_YWJj,not-a-whsec-token' })).toBe('invalid configuration:\n  L: must be whsec_<base64>');
  });
});

describe('JIT_OIDC_ALLOWED_PROJECTS', () => {
  const schema = z.object(authEnv());
  const parse = (v: string | undefined) => authFromEnv(parseEnv(schema, { JIT_OIDC_ALLOWED_PROJECTS: v }));

  it('reads project globs, each optionally @ a branch or tag glob; unset means the elevations project alone', () => {
    expect(parse('ops/deploy@main, apps/**, team/*@release/*').allowedProjects).toEqual([{ project: 'ops/deploy', ref: 'main' }, { project: 'apps/**' }, { project: 'team/*', ref: 'release/*' }]);
    // a ref glob needs a protected ref unless the rule waives it
    expect(parse('team/app@review/*:unprotected').allowedProjects).toEqual([{ project: 'team/app', ref: 'review/*', refUnprotected: true }]);
    expect(allowedCiProjects(parse(undefined), 'ops/elevations')).toEqual([{ project: 'ops/elevations' }]);
    expect(allowedCiProjects(parse(''), '42')).toEqual([]);
    expect(allowedCiProjects(parse('apps/*'), 'ops/elevations')).toEqual([{ project: 'apps/*' }]);
  });

  it.each(['*', 'ops', 'ops/{a,b}', '!ops/x', 'ops/x@', 'ops/x@main@dev', 'ops/x y', 'ops/x,,apps/y', 'ops/x:unprotected', 'ops/x@main:protected', 'ops/x@main:unprotected:unprotected'])(
    'refuses %j with a message naming the setting and the shape',
    (v) => {
      const m = problem(schema, { JIT_OIDC_ALLOWED_PROJECTS: v });
      expect(m).toMatch(/JIT_OIDC_ALLOWED_PROJECTS/);
      expect(m).toMatch(/project path or glob|empty item/);
    },
  );
});
