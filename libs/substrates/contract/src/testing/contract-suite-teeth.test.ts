// The contract suite must fail on the defects it exists to catch: run it (in a child vitest)
// against deliberately broken adapters and check which cases fail, and that the control passes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../../../../..');

interface Result {
  ancestorTitles: string[];
  title: string;
  status: string;
}

async function runFixtures(): Promise<Map<string, Map<string, string>>> {
  const dir = mkdtempSync(join(tmpdir(), 'jit-suite-teeth-'));
  const out = join(dir, 'report.json');
  try {
    await promisify(execFile)('npx', ['vitest', 'run', '--config', 'libs/substrates/contract/src/testing/fixtures/vitest.fixtures.config.ts', '--reporter=json', `--outputFile=${out}`], {
      cwd: REPO,
      timeout: 120_000,
    }).catch((err: unknown) => {
      // failures are the point; a missing report is not
      if ((err as { code?: number }).code !== 1) throw err;
    });
    const report = JSON.parse(readFileSync(out, 'utf8')) as { testResults: { assertionResults: Result[] }[] };
    const bySuite = new Map<string, Map<string, string>>();
    for (const r of report.testResults.flatMap((t) => t.assertionResults)) {
      const suite = (r.ancestorTitles[0] ?? '').replace('substrate contract: ', '');
      if (!bySuite.has(suite)) bySuite.set(suite, new Map());
      bySuite.get(suite)?.set(r.title, r.status);
    }
    return bySuite;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const failed = (m: Map<string, string> | undefined, prefix: string): boolean =>
  [...(m ?? new Map<string, string>()).entries()].some(([title, status]) => title.startsWith(prefix) && status === 'failed');

describe('runSubstrateContractSuite has teeth', () => {
  it('fails each broken adapter on its defect and passes the control', async () => {
    const r = await runFixtures();
    expect([...(r.get('control: memory double')?.values() ?? [])]).toEqual(Array(16).fill('passed'));
    expect([...(r.get('control: memory double with checks')?.values() ?? [])]).toEqual(Array(16).fill('passed'));
    expect(failed(r.get('broken: checkTtl throws on a hostile scope'), 'the safety checks')).toBe(true);
    expect(failed(r.get('broken: a finding quotes the secret'), 'no secret appears')).toBe(true);
    expect(failed(r.get('broken: a finding quotes the secret'), 'the safety checks')).toBe(false);
    expect(failed(r.get('broken: revoke is a no-op'), 'revoke ends the credential')).toBe(true);
    expect(failed(r.get('broken: handle leaks the secret'), 'issue returns a working credential')).toBe(true);
    expect(failed(r.get('broken: handle leaks the secret'), 'no secret appears')).toBe(true);
    expect(failed(r.get('broken: re-issue makes a second live credential'), 'issuing the same grant id twice')).toBe(true);
    expect(failed(r.get('broken: revoke accepts foreign handles'), 'revoke refuses a handle')).toBe(true);
    expect(failed(r.get('broken: revoke is not idempotent'), 'revoking twice')).toBe(true);
    expect(failed(r.get('broken: error quotes the secret'), 'no secret appears')).toBe(true);
    expect(failed(r.get('broken: listIssued is empty'), 'listIssued shows')).toBe(true);
    expect(failed(r.get('broken: secret outside its credential shape'), 'issue returns a working credential')).toBe(true);
    // what the grantee will try: each broken adapter fails its own case and only that one
    const grantee: Array<[string, string]> = [
      ['broken: the grantee goes beyond the scope', 'the grantee cannot use the credential beyond its scope'],
      ['broken: a foothold outlives revoke', 'nothing the grantee set up keeps access once revoked'],
      ['broken: the grantee blocks revoke', 'the grantee cannot keep revoke from ending the credential'],
      ["broken: jit's admin runs what the grantee planted", "nothing the grantee plants runs in jit's admin session"],
    ];
    for (const [suite, title] of grantee) {
      expect(failed(r.get(suite), title), suite).toBe(true);
      expect(
        [...(r.get(suite)?.entries() ?? [])].filter(([t, st]) => st === 'failed' && t !== title),
        suite,
      ).toEqual([]);
      expect(failed(r.get('broken: grantee attacks not addressed'), title), `unaddressed: ${title}`).toBe(true);
    }
    expect(failed(r.get('broken: validateScope accepts everything'), 'validateScope accepts')).toBe(true);
  }, 150_000);
});
