// Sums vitest's JSON results of a test run into one closing line: "N passed, N failed, N skipped".
// Failed tests are listed by name (file and message head) above that line, so a CI log that only
// keeps its tail still says what failed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2] ?? 'tmp/vitest-results';
// `--exit-status N`: the test command's exit status; a failed run never closes with "0 failed"
const statusArg = process.argv.indexOf('--exit-status');
const exitStatus = statusArg > 0 ? Number(process.argv[statusArg + 1]) : 0;
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
if (existsSync(dir)) {
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      for (const file of r.testResults ?? []) {
        const where = relative(process.cwd(), file.name ?? '');
        const failedTests = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
        for (const a of failedTests) {
          const first = String((a.failureMessages ?? [])[0] ?? '')
            .split('\n')
            .slice(0, 3)
            .join(' | ');
          failures.push(`FAILED ${where} › ${a.fullName}\n    ${first.slice(0, 400)}`);
        }
        // a file that failed to load or crashed in a hook has no failed assertion to name
        if (file.status === 'failed' && failedTests.length === 0) {
          failed += 1; // counted, so the closing line never says "0 failed" for a failed run
          failures.push(
            `FAILED ${where} (suite error)\n    ${String(file.message ?? '')
              .split('\n')
              .slice(0, 3)
              .join(' | ')
              .slice(0, 400)}`,
          );
        }
      }
    } catch {
      failed += 1; // an unreadable result file is a failed run, not a silent pass
      failures.push(`FAILED ${name}: unreadable result file`);
    }
  }
}
if (exitStatus !== 0 && failed === 0) {
  // e.g. a worker killed by an out-of-memory error: vitest's report still says success
  failed += 1;
  failures.push(`FAILED the run itself (exit status ${exitStatus}) outside any reported test; see the log above`);
}
for (const line of failures) console.log(line);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
