#!/usr/bin/env node
// Compiles one app to plain ESM JavaScript under dist/apps/<app>/ (the `build` target of every
// app; ADR 0007 says why esbuild): our own code and the @jit/* libs (tsconfig path aliases) are
// bundled, third-party packages stay imports resolved from node_modules at run time, so the image
// ships `npm ci --omit=dev` plus these files. Files the code locates with
// `new URL('<relative path>', import.meta.url)` (seed files) are copied to assets/ beside the
// bundle (with their directory) and the URL rewritten, so they are found wherever dist/ is installed.
//   node scripts/build/bundle-app.mjs <app>
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Entry points per app: output name -> source. `main` is what `jit serve <mode>` runs. */
const APPS = {
  jit: { jit: 'apps/jit/src/cli.ts', main: 'apps/jit/src/main.ts' },
  'webhook-ingest': { main: 'apps/webhook-ingest/src/main.ts' },
  'approval-gate': { main: 'apps/approval-gate/src/main.ts' },
  issuer: { main: 'apps/issuer/src/main.ts' },
  revoker: { main: 'apps/revoker/src/main.ts' },
  notifier: { main: 'apps/notifier/src/main.ts' },
};

const app = process.argv[2];
if (!app || !(app in APPS)) {
  process.stderr.write(`usage: bundle-app.mjs <${Object.keys(APPS).join('|')}>\n`);
  process.exit(2);
}
const outdir = join(ROOT, 'dist', 'apps', app);
rmSync(outdir, { recursive: true, force: true });

const ASSET_URL = /new URL\((['"])(\.{1,2}\/[^'"]+)\1,\s*import\.meta\.url\)/g;
const CODE = /\.(?:[cm]?[jt]s|tsx?|json)$/;

/**
 * Copies what `new URL('./x.yaml', import.meta.url)` points at, with the rest of its directory (a
 * seed names files beside it), to assets/<path in the repo> and points the URL there.
 */
const assets = {
  name: 'jit-assets',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const contents = source.replace(ASSET_URL, (whole, _q, rel) => {
        const target = resolve(dirname(args.path), rel);
        if (CODE.test(target) || !statSync(target, { throwIfNoEntry: false })?.isFile()) return whole;
        const dir = relative(ROOT, dirname(target));
        if (dir.startsWith('..')) throw new Error(`${args.path}: asset ${rel} is outside the repository`);
        const bytes = treeBytes(dirname(target));
        if (bytes > MAX_ASSET_DIR_BYTES) throw new Error(`${args.path}: asset directory ${dir} holds ${bytes} bytes (over ${MAX_ASSET_DIR_BYTES})`);
        cpSync(dirname(target), join(outdir, 'assets', dir), { recursive: true });
        return `new URL('./assets/${dir}/${basename(target)}', import.meta.url)`;
      });
      return { contents, loader: 'ts' };
    });
  },
};
const MAX_ASSET_DIR_BYTES = 1 << 20;
function treeBytes(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
}

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: APPS[app],
  outdir,
  entryNames: '[name]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // third-party code is installed by npm (production dependencies), not copied into the bundle
  packages: 'external',
  tsconfig: join(ROOT, 'tsconfig.base.json'),
  // stack traces map back to the TypeScript with `node --enable-source-maps`
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [assets],
});

// every import left in the bundle must be a Node builtin or a package the image installs
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const prod = new Set(Object.keys(pkg.dependencies ?? {}));
// an optional dependency (absent from the image) may only be loaded on demand, with import()
const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
const missing = new Set();
for (const out of Object.values(result.metafile.outputs)) {
  for (const imp of out.imports) {
    if (!imp.external || imp.path.startsWith('node:') || imp.path.startsWith('.')) continue;
    const name = imp.path.startsWith('@') ? imp.path.split('/').slice(0, 2).join('/') : imp.path.split('/')[0];
    if (prod.has(name) || builtinModules.includes(name)) continue;
    if (optional.has(name) && imp.kind === 'dynamic-import') continue;
    missing.add(imp.kind === 'dynamic-import' ? name : `${name} (a static import)`);
  }
}
if (missing.size) {
  process.stderr.write(`${app}: the build imports packages the image does not install (not production dependencies): ${[...missing].join(', ')}\n`);
  process.exit(1);
}
writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
const sizes = Object.entries(result.metafile.outputs)
  .filter(([f]) => f.endsWith('.js'))
  .map(([f, o]) => `${relative(ROOT, f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
process.stdout.write(`${sizes.join('\n')}\n`);
