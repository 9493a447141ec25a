import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import type { Tree } from '@nx/devkit';
import ts from 'typescript';
import { beforeEach, describe, expect, it } from 'vitest';
import { ADAPTER_LIST_FILE, CREDENTIAL_LIST_FILE, writeAdapterLists } from './adapter-list';
import { substrateGenerator } from './generator';

const REPO = resolve(__dirname, '../../../..');

describe('substrate generator', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
    // the real root files, so the generator is tested against their actual shape
    tree.write('tsconfig.base.json', readFileSync(join(REPO, 'tsconfig.base.json'), 'utf-8'));
    // the real substrate projects, so the adapter lists are generated from their actual tags
    for (const dir of readdirSync(join(REPO, 'libs/substrates'))) {
      const file = `libs/substrates/${dir}/project.json`;
      if (existsSync(join(REPO, file))) tree.write(file, readFileSync(join(REPO, file), 'utf-8'));
    }
  });

  it('the committed adapter lists are what the Nx tags give (run `npx nx g ./tools/generators:substrate-list` if not)', () => {
    expect(writeAdapterLists(tree)).toEqual(['aws-sts', 'gcp-iam', 'postgres', 'vault']);
    expect(tree.read(ADAPTER_LIST_FILE, 'utf-8')).toBe(readFileSync(join(REPO, ADAPTER_LIST_FILE), 'utf-8'));
    expect(tree.read(CREDENTIAL_LIST_FILE, 'utf-8')).toBe(readFileSync(join(REPO, CREDENTIAL_LIST_FILE), 'utf-8'));
  });

  it('scaffolds the lib with tags, alias, registration with static facts, a contract-suite test, and lists it among the adapters', async () => {
    await substrateGenerator(tree, { name: 'mongo-db' });
    const root = 'libs/substrates/mongo-db';
    const project = JSON.parse(tree.read(`${root}/project.json`, 'utf-8') as string);
    expect(project).toMatchObject({ name: 'substrate-mongo-db', sourceRoot: `${root}/src`, tags: ['type:adapter', 'scope:substrate-mongo-db'], metadata: { sdk: [] } });
    expect(Object.keys(project.targets)).toEqual(['build', 'typecheck', 'lint', 'test', 'test:integration']);
    const paths = JSON.parse(tree.read('tsconfig.base.json', 'utf-8') as string).compilerOptions.paths;
    expect(paths['@jit/substrate-mongo-db']).toEqual([`${root}/src/index.ts`]);
    expect(paths['@jit/substrate-mongo-db/credential']).toEqual([`${root}/src/credential.ts`]);
    expect(paths['@jit/substrates']).toEqual(['libs/substrates/contract/src/index.ts']); // others untouched
    // the composition lib's generated lists now import it (eslint.config.mjs finds its tag by itself)
    expect(tree.read(ADAPTER_LIST_FILE, 'utf-8')).toContain("import { mongoDbSubstrate } from '@jit/substrate-mongo-db';\n");
    expect(tree.read(ADAPTER_LIST_FILE, 'utf-8')).toMatch(/gcpIamSubstrate,\n {2}mongoDbSubstrate,\n {2}postgresSubstrate,/);
    expect(tree.read(CREDENTIAL_LIST_FILE, 'utf-8')).toContain("import { MONGO_DB_CREDENTIAL } from '@jit/substrate-mongo-db/credential';\n");
    const adapter = tree.read(`${root}/src/mongo-db-substrate.ts`, 'utf-8') as string;
    expect(adapter).toContain("export const MONGO_DB_KIND = 'mongo-db';");
    expect(adapter).toContain('export const mongoDbSubstrate = defineSubstrate<MongoDbConfig, MongoDbDeps>({');
    expect(adapter).toContain('facts: () => ({ validateScope: validateMongoDbScope }),');
    expect(tree.read(`${root}/src/mongo-db-substrate.int.test.ts`, 'utf-8')).toContain('runSubstrateContractSuite({');
    expect(tree.exists(`${root}/README.md`)).toBe(true);
    expect(tree.read(`${root}/src/credential.ts`, 'utf-8')).toContain("export const MONGO_DB_CREDENTIAL = defineCredentialShape('mongo-db', {");
    expect(tree.children(`${root}/src`).sort()).toEqual(['credential.ts', 'index.ts', 'mongo-db-substrate.int.test.ts', 'mongo-db-substrate.test.ts', 'mongo-db-substrate.ts']);
  });

  it('produces TypeScript that compiles against the real contract lib', async () => {
    await substrateGenerator(tree, { name: 'zz-gen-check' });
    const root = 'libs/substrates/zz-gen-check';
    const virtual = new Map<string, string>();
    for (const f of tree.children(`${root}/src`)) virtual.set(join(REPO, root, 'src', f), tree.read(`${root}/src/${f}`, 'utf-8') as string);
    const base = ts.readConfigFile(join(REPO, 'tsconfig.base.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(base.config, ts.sys, REPO);
    const options = { ...parsed.options, noEmit: true, paths: { ...parsed.options.paths, '@jit/substrate-zz-gen-check': [`${root}/src/index.ts`] } };
    const host = ts.createCompilerHost(options);
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    host.readFile = (p) => virtual.get(p) ?? readFile(p);
    host.fileExists = (p) => virtual.has(p) || fileExists(p);
    host.getSourceFile = (p, lang) => {
      const text = host.readFile(p);
      return text === undefined ? undefined : ts.createSourceFile(p, text, lang);
    };
    host.directoryExists = (d) => d === dirname([...virtual.keys()][0] as string) || ts.sys.directoryExists(d);
    const program = ts.createProgram([...virtual.keys()], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  }, 60_000);

  it('produces code the repo lint rules accept', async () => {
    const { ESLint } = await import('eslint');
    await substrateGenerator(tree, { name: 'zz-lint-check' });
    const eslint = new ESLint({ cwd: REPO });
    const root = 'libs/substrates/zz-lint-check/src';
    const messages: string[] = [];
    for (const f of tree.children(root)) {
      const [result] = await eslint.lintText(tree.read(`${root}/${f}`, 'utf-8') as string, { filePath: join(REPO, root, f) });
      for (const m of result?.messages ?? []) messages.push(`${f}:${m.line} ${m.ruleId}: ${m.message}`);
    }
    expect(messages).toEqual([]);
  }, 60_000);

  it('refuses bad names, reserved names and an existing lib', async () => {
    for (const name of ['', 'A', 'Foo', '1db', 'x', 'a_b', '../evil', 'contract', 'a'.repeat(40)]) {
      await expect(substrateGenerator(tree, { name }), name).rejects.toThrow(/must be 2-31 lower-case/);
    }
    tree.write('libs/substrates/vault/project.json', '{}');
    await expect(substrateGenerator(tree, { name: 'vault' })).rejects.toThrow(/already exists/);
  });
});
