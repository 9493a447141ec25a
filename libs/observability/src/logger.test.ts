import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';

describe('createLogger', () => {
  it('censors tokens, passwords and auth headers', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ name: 't', destination });
    log.info({ token: 'glpat-s3cr3t', conn: { password: 'hunter2' }, headers: { 'x-gitlab-token': 'whk-tok' } }, 'hello');
    const out = lines.join('');
    expect(out).toContain('hello');
    expect(out).not.toContain('glpat-s3cr3t');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain('whk-tok');
  });
});
