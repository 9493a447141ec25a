// Adding a substrate is the generator plus the new folder: in a temporary copy of the workspace
// (sources only, node_modules by symlink), the generator scaffolds a throw-away kind, its folder
// gets a working adapter (an in-memory backend), and with no edit anywhere else the kind is in
// every catalog a jit process builds and passes the shared substrate contract suite.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { substrateGenerator } from './generator';

const REPO = resolve(__dirname, '../../../..');
const KIND = 'zz-throwaway';
const ROOT_FILES = ['package.json', 'nx.json', 'tsconfig.base.json', 'eslint.config.mjs', 'vitest.shared.ts', 'vitest.integration.config.ts'];
const SKIP = new Set(['node_modules', 'dist', '.cache', 'tmp', '.nx']);

/** The new folder's adapter, as its author would write it: here a backend that lives in memory. */
const ADAPTER = `// ${KIND}: a throw-away adapter on an in-memory backend (the generator's CI test).
import { z } from 'zod';
import { defineSubstrate, type Problem, type Substrate, type SubstrateDeps } from '@jit/substrates';
import { createMemorySubstrate } from '@jit/substrates/testing';

export const ZZ_THROWAWAY_KIND = '${KIND}';
export const zzThrowawayConfigSchema = z.object({ maxTtlSeconds: z.number().int().positive().optional() }).strict();
export type ZzThrowawayConfig = z.output<typeof zzThrowawayConfigSchema>;
export type ZzThrowawayDeps = object;

// the same judgement as the in-memory backend's own validateScope: the contract suite holds the
// static facts to the instance's answer for every hostile scope
export function validateZzThrowawayScope(scope: unknown): Problem[] {
  if (!scope || typeof scope !== 'object' || Array.isArray(scope)) return [{ path: 'scope', message: 'must be an object' }];
  const access = (scope as { access?: unknown }).access;
  return access === 'read' || access === 'write' ? [] : [{ path: 'scope.access', message: 'must be "read" or "write"' }];
}

export function createZzThrowawaySubstrate(config: ZzThrowawayConfig, deps: SubstrateDeps): Substrate {
  return createMemorySubstrate({ kind: ZZ_THROWAWAY_KIND, name: deps.name, ...(config.maxTtlSeconds ? { maxTtlSeconds: config.maxTtlSeconds } : {}) });
}

export const zzThrowawaySubstrate = defineSubstrate<ZzThrowawayConfig, ZzThrowawayDeps>({
  kind: ZZ_THROWAWAY_KIND,
  configSchema: zzThrowawayConfigSchema,
  facts: (c) => ({ validateScope: validateZzThrowawayScope, ...(c.maxTtlSeconds ? { maxTtlSeconds: c.maxTtlSeconds } : {}) }),
  create: createZzThrowawaySubstrate,
});
`;

/** Its contract-suite test: the shared suite, the grantee attacks skipped (no server to attack). */
const CONTRACT_TEST = `import { SubstrateRegistry } from '@jit/substrates';
import { createLogger } from '@jit/observability';
import { runSubstrateContractSuite } from '@jit/substrates/testing';
import { zzThrowawaySubstrate } from './${KIND}-substrate';

runSubstrateContractSuite({
  name: '${KIND}',
  skip: Object.fromEntries((['beyondScope', 'outliveRevoke', 'blockRevoke', 'hijackAdmin'] as const).map((c) => [c, 'in memory: no server for a grantee to attack'])),
  async setup() {
    const registry = new SubstrateRegistry({ logger: createLogger({ name: 't', level: 'silent' }), definitions: [zzThrowawaySubstrate] });
    const substrate = registry.configure('${KIND}', {}) as ReturnType<typeof registry.configure> & { works(s: Record<string, string>): boolean };
    return {
      substrate,
      facts: zzThrowawaySubstrate.facts({}),
      makeRequest: (grantId) => ({ grantId, elevationId: grantId.split('-').slice(0, 3).join('-'), requester: 'alice', target: 't', scopeName: 'write', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 }),
      probe: async (secret) => substrate.works(secret),
      teardown: () => registry.closeAll(),
    };
  },
});
`;

/** What a jit process sees: every catalog, the settings parser and the credential list know the kind. */
const CATALOG_TEST = `import { describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { SUBSTRATE_DEFINITIONS, createSubstrates, parseSubstrateSettings, staticSubstrateCatalog, substrateCatalog } from '@jit/substrate-wiring';
import { credentialShapeFor } from '@jit/substrate-wiring/credentials';

describe('${KIND} in a jit process', () => {
  it('is in the gate catalog, the settings, the instance catalog and the credential shapes', async () => {
    expect(SUBSTRATE_DEFINITIONS.map((d) => d.kind)).toContain('${KIND}');
    const gate = staticSubstrateCatalog({ '${KIND}': { maxTtlSeconds: 900 } });
    expect(gate['${KIND}']!.validateScope({ access: 'write' })).toEqual([]);
    expect(gate['${KIND}']!.validateScope({ access: 'root' })).not.toEqual([]);
    expect(gate['${KIND}']!.maxTtlSeconds).toBe(900);
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify({ '${KIND}:prod': { maxTtlSeconds: 600 } }) });
    expect(problems).toEqual([]);
    const registry = createSubstrates(instances, createLogger({ name: 't', level: 'silent' }));
    expect(registry.get('${KIND}:prod').kind).toBe('${KIND}');
    expect(substrateCatalog(registry)['${KIND}:prod']!.maxTtlSeconds).toBe(600);
    expect(credentialShapeFor('${KIND}:prod')?.kind).toBe('${KIND}');
    await registry.closeAll();
  });
});
`;

const run = promisify(execFile);
let work: string;

describe('a new substrate is the generator plus its folder', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'jit-new-substrate-'));
    for (const f of ROOT_FILES) cpSync(join(REPO, f), join(work, f));
    for (const dir of ['libs', 'tools/generators']) cpSync(join(REPO, dir), join(work, dir), { recursive: true, filter: (src) => !SKIP.has(basename(src)) });
    symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'), 'dir');
    const tree = new FsTree(work, false);
    await substrateGenerator(tree, { name: KIND });
    flushChanges(work, tree.listChanges());
    // the author's work, all of it inside the new folder
    const src = join(work, 'libs/substrates', KIND, 'src');
    writeFileSync(join(src, `${KIND}-substrate.ts`), ADAPTER);
    writeFileSync(join(src, `${KIND}-substrate.int.test.ts`), CONTRACT_TEST);
    writeFileSync(join(src, `${KIND}-catalog.int.test.ts`), CATALOG_TEST);
    rmSync(join(src, `${KIND}-substrate.test.ts`)); // the skeleton's unit test is about the skeleton
  }, 60_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the composition lib compiles with the new kind in its generated lists', async () => {
    const tsc = join(work, 'node_modules/.bin/tsc');
    await expect(run(tsc, ['-p', 'libs/substrates/wiring/tsconfig.json', '--noEmit'], { cwd: work, timeout: 180_000 })).resolves.toBeDefined();
  }, 200_000);

  it('the kind is in every catalog and passes the substrate contract suite', async () => {
    const vitest = join(work, 'node_modules/.bin/vitest');
    const out = await run(vitest, ['run', '--config', 'vitest.integration.config.ts', `libs/substrates/${KIND}/`], {
      cwd: work,
      timeout: 180_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`vitest in the copy failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`.slice(-6000));
    });
    expect(out.stdout).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(out.stdout).not.toMatch(/\d+ failed/);
  }, 200_000);
});
