// The one error a jit app's parseConfig throws: every bad setting on its own line, key first,
// never the value. runService prints its message and exits 2.
import { JitError } from '@jit/errors';
import { ConfigInvalid } from './errors';

export class ConfigError extends JitError {
  /** `KEY: what is wrong and what is expected`, one per bad setting. */
  readonly problems: string[];

  /** `service` names the app in the message ("invalid issuer configuration"); without it "invalid configuration". */
  constructor(problems: string[], service?: string) {
    super(ConfigInvalid.code, `invalid ${service ? `${service} ` : ''}configuration:\n  ${problems.join('\n  ')}`, {
      retriable: ConfigInvalid.retriable,
      statusCode: ConfigInvalid.statusCode,
      details: { keys: [...new Set(problems.map((p) => p.split(':', 1)[0]))] },
    });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
