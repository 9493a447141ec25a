import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvFile, readEnvFile, renderEnvFile, updateEnvFile } from './env-file';

describe('env file', () => {
  it('round-trips KEY=value lines, sorted', () => {
    const text = renderEnvFile({ B: 'postgres://u:p@127.0.0.1:5/postgres', A: 'http://127.0.0.1:1' });
    expect(text).toBe('A=http://127.0.0.1:1\nB=postgres://u:p@127.0.0.1:5/postgres\n');
    expect(parseEnvFile(text)).toEqual({ A: 'http://127.0.0.1:1', B: 'postgres://u:p@127.0.0.1:5/postgres' });
  });

  it('skips comments, blank lines and lines that are not assignments', () => {
    expect(parseEnvFile('# c\n\nnot a line\n=x\nlower=1\nOK=1=2\n')).toEqual({ OK: '1=2' });
  });

  it('refuses values a shell would interpret, naming the key but not the value', () => {
    const secret = 's3cr3t$(rm -rf /)';
    let message = '';
    try {
      renderEnvFile({ JIT_TEST_VAULT_TOKEN: secret });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('JIT_TEST_VAULT_TOKEN');
    expect(message).not.toContain('s3cr3t');
  });

  it('refuses keys that are not UPPER_SNAKE', () => {
    expect(() => renderEnvFile({ 'a-b': 'x' })).toThrow(/not UPPER_SNAKE/);
  });

  it('merges updates into an existing file, owner-readable only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jit-envfile-'));
    const path = join(dir, 'env');
    try {
      updateEnvFile(path, { A: '1', B: '2' });
      updateEnvFile(path, { B: '3', C: '4' });
      expect(readEnvFile(path)).toEqual({ A: '1', B: '3', C: '4' });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toBe('A=1\nB=3\nC=4\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a missing file as empty', () => {
    expect(readEnvFile('/nonexistent/jit/env')).toEqual({});
  });
});
