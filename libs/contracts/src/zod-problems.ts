// Turns zod issues on a loaded YAML value into located problems (field path + line/column).
import type { z } from 'zod';
import { formatPath, type Problem } from './problem';
import type { LoadedYaml } from './yaml-load';

export function zodProblems(issues: readonly z.core.$ZodIssue[], loaded: LoadedYaml): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        out.push({ path: formatPath(path), message: 'unknown field; remove it or check its spelling', ...loaded.locateKey(path) });
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      out.push({ path: formatPath(issue.path), message: `invalid name: ${inner}`, ...loaded.locateKey(issue.path) });
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) message = 'is required';
    else if (issue.code === 'invalid_type') message = `must be ${issue.expected === 'object' ? 'a map' : `a ${issue.expected}`}`;
    out.push({ path: formatPath(issue.path), message, ...loaded.locate(issue.path) });
  }
  return out;
}
