// Every setting the chart hands a jit process must be one that process reads: a misspelt or
// unsupported name would be ignored silently, leaving the default (a secret not read, an ops port
// on loopback). Reads rendered manifests (helm template output) and, for each jit container, checks
// each environment variable against the names the app's own source and the libraries it runs
// (apps/<app>/src, libs/*/src; tests excluded) spell, with `X_FILE` for every `secretEnv('X', …)`.
// Usage: node --import tsx scripts/helm/check-env-names.ts <rendered.yaml>...
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
/** Read by the cloud SDKs, not by jit's code (AWS web identity, Google credentials). */
const SDK_SETTINGS = /^(AWS|GOOGLE)_[A-Z0-9_]+$/;
/** `jit serve <service>` → the app whose config it runs. */
const APP_OF: Record<string, string> = { all: 'jit', 'webhook-ingest': 'webhook-ingest', 'approval-gate': 'approval-gate', issuer: 'issuer', revoker: 'revoker', notifier: 'notifier' };

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'testing') continue;
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !/\.(int\.|e2e\.)?test\.ts$/.test(name)) out.push(path);
  }
  return out;
}

function namesIn(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b[A-Z][A-Z0-9_]{2,}\b/g)) names.add(m[0]);
    for (const m of text.matchAll(/secretEnv\('([A-Z0-9_]+)'/g)) names.add(`${m[1]}_FILE`);
  }
  return names;
}

const libs = sourceFiles(join(root, 'libs'));
const known = new Map<string, Set<string>>();
const knownFor = (app: string) => {
  if (!known.has(app)) known.set(app, namesIn([...sourceFiles(join(root, 'apps', app, 'src')), ...libs]));
  return known.get(app)!;
};

const problems: string[] = [];
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const m = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { containers?: { args?: string[]; env?: { name: string }[] }[] } } } } | null;
    if (m?.kind !== 'Deployment') continue;
    for (const c of m.spec?.template?.spec?.containers ?? []) {
      const app = APP_OF[c.args?.[1] ?? ''];
      if (c.args?.[0] !== 'serve' || !app) {
        problems.push(`${file}: ${m.metadata?.name}: not a jit service (args ${JSON.stringify(c.args)})`);
        continue;
      }
      for (const { name } of c.env ?? []) {
        checked++;
        if (!SDK_SETTINGS.test(name) && !knownFor(app).has(name)) problems.push(`${file}: ${m.metadata?.name}: ${name} is not a setting ${app} reads`);
      }
    }
  }
}
if (checked === 0) problems.push('no environment variable of a jit container was found to check');
for (const p of problems) console.error(p);
if (problems.length > 0) process.exit(1);
console.log(`  ${checked} settings of jit containers, each one its app reads`);
