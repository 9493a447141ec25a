// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): top functions by self time, and the
// inclusive time of the functions named on the command line (each sample counted once per
// function even under recursion). Used to find where the webhook intake spends its CPU.
//   npx tsx bench/ingest/cpu-profile-summary.ts <file.cpuprofile> [--top 25] [--focus name,name]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `name (file:line)`, with node_modules paths shortened to the package. */
function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const nm = frame.url.lastIndexOf('node_modules/');
  const where = nm >= 0 ? frame.url.slice(nm + 'node_modules/'.length) : basename(frame.url);
  return `${name} (${where}:${frame.lineNumber + 1})`;
}

export function summarise(profile: CpuProfile, focus: string[]): { totalUs: number; self: [string, number][]; inclusive: [string, number][] } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return;
    totalUs += dt;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = byId.get(cur)!.callFrame.functionName;
      if (focus.includes(fn) && !seen.has(fn)) {
        seen.add(fn);
        inclusive.set(fn, (inclusive.get(fn) ?? 0) + dt);
      }
    }
  });
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalUs, self: sorted(self), inclusive: sorted(inclusive) };
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!file) {
    console.error('usage: cpu-profile-summary.ts <file.cpuprofile> [--top N] [--focus fnA,fnB]');
    process.exit(2);
  }
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const focusAt = args.indexOf('--focus');
  const focus = focusAt >= 0 ? (args[focusAt + 1] ?? '').split(',').filter(Boolean) : [];
  const { totalUs, self, inclusive } = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, focus);
  const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
  console.log(`busy (non-idle) CPU sampled: ${(totalUs / 1000).toFixed(0)} ms`);
  console.log(`top ${top} by self time:`);
  for (const [key, us] of self.slice(0, top)) console.log(`  ${pct(us)}  ${key}`);
  if (focus.length > 0) {
    console.log('inclusive (self + callees):');
    for (const [fn, us] of inclusive) console.log(`  ${pct(us)}  ${fn}`);
  }
}

main();
