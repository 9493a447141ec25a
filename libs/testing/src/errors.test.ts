import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TestingErrors } from './errors';
import { REPO_ROOT } from './paths';

describe('TestingErrors', () => {
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  const section = docs.slice(docs.indexOf('## testing'), docs.indexOf('\n## ', docs.indexOf('## testing') + 1) >>> 0);

  it.each(Object.values(TestingErrors).map((e) => [e.code, e]))('%s is documented in docs/errors.md with its retriable flag', (code, e) => {
    const row = section.split('\n').find((l) => l.includes(`\`${code}\``));
    expect(row, `${code} missing from the testing section`).toBeDefined();
    expect(row?.split('|')[2]?.trim()).toBe(e.retriable ? 'yes' : 'no');
  });

  it('fills message templates in order and says what to do', () => {
    const err = TestingErrors.notInstalled('Kafka', '/x/jars');
    expect(err.message).toBe('Kafka is not installed (missing /x/jars). Run `npm run services:setup` (scripts/services/setup.sh) first.');
    expect(TestingErrors.timeout('topic t', 50).message).toMatch(/^timed out waiting for topic t after 50 ms/);
  });
});
