import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envSchemas as s, gitlabEnv, kafkaConsumerEnv, serverEnv } from './env-schemas';
import { ConfigError } from './config-error';
import { formatEnvIssues, parseEnv, type Env } from './parse-env';

// An app-like schema: every shared kind of setting at once.
const schema = z.object({ ...kafkaConsumerEnv('jit-t'), ...gitlabEnv(), ...serverEnv(8080), JIT_FLAG: s.flag(false) });
const good = { KAFKA_BROKERS: 'k1:9092', GITLAB_URL: 'https://gitlab.example.com', GITLAB_TOKEN: 'glpat-0123456789', JIT_ELEVATIONS_PROJECT: 'ops/elevations' };

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseEnv', () => {
  it('returns the typed config', () => {
    const e = parseEnv(schema, { ...good, PORT: '9000', UNRELATED: 'ignored' });
    expect(e).toMatchObject({ KAFKA_BROKERS: ['k1:9092'], PORT: 9000, HOST: '127.0.0.1', JIT_FLAG: false });
    expect(e).not.toHaveProperty('UNRELATED');
  });

  it('names every bad key on its own line, with the service, in one error', () => {
    const err = thrown(() => parseEnv(schema, { KAFKA_BROKERS: 'nope', PORT: '70000', LOG_LEVEL: 'loud' }, { service: 'issuer' }));
    expect(err.message.split('\n')[0]).toBe('invalid issuer configuration:');
    expect(err.problems.map((p) => p.split(':')[0])).toEqual(['KAFKA_BROKERS', 'GITLAB_URL', 'GITLAB_TOKEN', 'JIT_ELEVATIONS_PROJECT', 'PORT', 'LOG_LEVEL']);
    expect(err.message.split('\n')).toHaveLength(err.problems.length + 1);
  });

  it('reports other readers’ problems with its own, and fails on them alone', () => {
    const err = thrown(() => parseEnv(schema, { ...good, PORT: 'x' }, { problems: ['JIT_SUBSTRATES: not valid JSON'] }));
    expect(err.problems).toEqual(['PORT: must be a whole number from 0 to 65535', 'JIT_SUBSTRATES: not valid JSON']);
    expect(thrown(() => parseEnv(schema, good, { problems: ['JIT_SUBSTRATES: x'] })).problems).toEqual(['JIT_SUBSTRATES: x']);
  });

  describe('never echoes a value', () => {
    const SECRET = 'glpat-Zx9SECRETq7Lw2';

    it('in any kind of bad setting', () => {
      const err = thrown(() =>
        parseEnv(schema, {
          KAFKA_BROKERS: `${SECRET}:99999`,
          KAFKA_CLIENT_ID: `${SECRET}!`,
          KAFKA_SESSION_TIMEOUT_MS: SECRET,
          GITLAB_URL: `ftp://${SECRET}`,
          GITLAB_TOKEN: `${SECRET}\n`,
          JIT_ELEVATIONS_PROJECT: `../${SECRET}`,
          PORT: SECRET,
          HOST: `${SECRET} x`,
          LOG_LEVEL: SECRET,
          JIT_FLAG: SECRET,
        }),
      );
      expect(err.problems).toHaveLength(10);
      for (const part of ['Zx9SECRET', 'SECRETq7', 'q7Lw2']) {
        expect(err.message).not.toContain(part);
        expect(JSON.stringify(err)).not.toContain(part);
      }
    });

    it('even when a custom message would quote it', () => {
      const leaky = z.object({ TOKEN: z.string().refine((v) => v.startsWith('tok_'), { error: (iss) => `got ${String(iss.input)}, expected tok_…` }) });
      const err = thrown(() => parseEnv(leaky, { TOKEN: SECRET }));
      expect(err.message).not.toContain(SECRET);
      expect(err.problems).toEqual(['TOKEN: got [redacted], expected tok_…']);
    });

    it('for any secret-looking value in any setting (property)', () => {
      const secret = fc.stringMatching(/^S3CR3T[A-Za-z0-9+/=_:.,-]{6,40}$/);
      const keys = Object.keys(schema.shape);
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom(...keys), secret), (overrides) => {
          let message = '';
          try {
            parseEnv(schema, { ...good, ...overrides });
            return;
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            message = (err as Error).message;
          }
          for (const value of Object.values(overrides)) expect(message).not.toContain(value);
          expect(message).not.toContain('S3CR3T');
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('hostile input', () => {
    it.each([
      ['a newline', 'glpat-0123456789\n'],
      ['a carriage return', 'glpat-0123456789\r'],
      ['a NUL', 'glpat-01234\u000056789'],
      ['a tab', 'glpat-01234\t56789'],
      ['an escape sequence', 'glpat-\u001b[2J0123456789'],
      ['DEL', 'glpat-0123456789\u007f'],
    ])('refuses a value with %s, without echoing it', (_what, value) => {
      const err = thrown(() => parseEnv(schema, { ...good, GITLAB_TOKEN: value }));
      expect(err.problems).toEqual(['GITLAB_TOKEN: contains a control character (a newline, tab or NUL); remove it']);
      expect(err.message).not.toContain('0123456789');
    });

    it('refuses an injected line that would fake another setting', () => {
      const err = thrown(() => parseEnv(schema, { ...good, HOST: '127.0.0.1\n  PORT: fine' }));
      expect(err.message.split('\n')).toEqual(['invalid configuration:', '  HOST: contains a control character (a newline, tab or NUL); remove it']);
    });

    it('refuses oversized values quickly, by length, once', () => {
      const started = performance.now();
      const err = thrown(() => parseEnv(schema, { ...good, GITLAB_URL: `https://${'a'.repeat(1_000_000)}`, KAFKA_BROKERS: 'k:1,'.repeat(3000) }));
      expect(performance.now() - started).toBeLessThan(5000); // a quadratic pattern would take minutes on 1 MB
      expect(err.problems).toEqual(['KAFKA_BROKERS: is 12000 characters long; at most 4096 are accepted', 'GITLAB_URL: is 1000008 characters long; at most 4096 are accepted']);
      expect(thrown(() => parseEnv(schema, { ...good, GITLAB_TOKEN: 'x'.repeat(101) }, { maxValueLength: 100 })).problems).toEqual(['GITLAB_TOKEN: is 101 characters long; at most 100 are accepted']);
    });

    it('reads only own entries: a __proto__ key cannot inject settings or pollute prototypes', () => {
      const env = JSON.parse(
        '{"__proto__": {"PORT": "1", "KAFKA_BROKERS": "evil:1"}, "GITLAB_URL": "https://gitlab.example.com", "GITLAB_TOKEN": "glpat-0123456789", "JIT_ELEVATIONS_PROJECT": "ops/elevations"}',
      ) as Env;
      expect(Object.prototype.hasOwnProperty.call(env, '__proto__')).toBe(true);
      expect(thrown(() => parseEnv(schema, env)).problems).toEqual(['KAFKA_BROKERS: is required: comma-separated host:port of the Kafka brokers']);
      expect(parseEnv(schema, { ...env, KAFKA_BROKERS: 'k:1' }).PORT).toBe(8080);
      expect(({} as Record<string, unknown>)['PORT']).toBeUndefined();
    });

    it('ignores inherited entries (a polluted prototype)', () => {
      const env = Object.assign(Object.create({ KAFKA_BROKERS: 'evil:1', PORT: '1' }) as Env, good, { KAFKA_BROKERS: undefined });
      expect(thrown(() => parseEnv(schema, env)).problems).toEqual(['KAFKA_BROKERS: is required: comma-separated host:port of the Kafka brokers']);
      expect(parseEnv(schema, Object.assign(Object.create({ PORT: '1' }) as Env, good)).PORT).toBe(8080);
    });

    it('handles keys named like Object members and values that are not strings', () => {
      const odd = z.object({ constructor: s.intFrom(1, 2).optional(), toString: s.flag(false), hasOwnProperty: s.path().optional() });
      expect(parseEnv(odd, {})).toEqual({ toString: false });
      expect(parseEnv(odd, { constructor: '2', toString: 'true', hasOwnProperty: '/x' })).toEqual({ constructor: 2, toString: true, hasOwnProperty: '/x' });
      const err = thrown(() => parseEnv(schema, { ...good, PORT: 8080 as unknown as string, GITLAB_TOKEN: { toString: () => 'glpat-0123456789' } as unknown as string }));
      expect(err.problems.map((p) => p.split(':')[0])).toEqual(['GITLAB_TOKEN', 'PORT']);
    });

    it.each([null, undefined, 'KAFKA_BROKERS=k:1', ['k:1'], 42])('refuses an environment that is not an object (%j)', (env) => {
      expect(thrown(() => parseEnv(schema, env as unknown as Env)).problems).toEqual(['(env): the environment must be an object of strings']);
    });

    it('either parses or throws ConfigError, whatever the strings (property)', () => {
      const keys = [...Object.keys(schema.shape), '__proto__', 'constructor'];
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom(...keys), fc.string({ unit: 'binary', maxLength: 200 })), (env) => {
          try {
            parseEnv(schema, env);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            for (const line of (err as Error).message.split('\n').slice(1)) expect(line).toMatch(/^ {2}[A-Z_]+: /);
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe('formatEnvIssues', () => {
  it('formats a ZodError from any object schema as KEY: message', () => {
    const r = schema.safeParse({ ...good, PORT: '-1' });
    expect(r.success).toBe(false);
    expect(formatEnvIssues(r.error!.issues)).toEqual(['PORT: must be a whole number from 0 to 65535']);
    expect(formatEnvIssues([{ code: 'custom', path: [], message: 'bad', input: undefined }])).toEqual(['(env): bad']);
  });
});
