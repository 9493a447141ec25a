import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import type { Tree } from '@nx/devkit';
import ts from 'typescript';
import { beforeEach, describe, expect, it } from 'vitest';
import { addLintBoundary, substrateGenerator } from './generator';

const REPO = resolve(__dirname, '../../../..');

describe('substrate generator', () => {
  let tree: Tree;

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
    // the real root files, so the generator is tested against their actual shape
    tree.write('tsconfig.base.json', readFileSync(join(REPO, 'tsconfig.base.json'), 'utf-8'));
    tree.write('eslint.config.mjs', readFileSync(join(REPO, 'eslint.config.mjs'), 'utf-8'));
  });

  it('scaffolds the lib with tags, alias, lint boundary, registration and a contract-suite test', async () => {
    await substrateGenerator(tree, { name: 'mongo-db' });
    const root = 'libs/substrates/mongo-db';
    const project = JSON.parse(tree.read(`${root}/project.json`, 'utf-8') as string);
    expect(project).toMatchObject({ name: 'substrate-mongo-db', sourceRoot: `${root}/src`, tags: ['type:adapter', 'scope:substrate-mongo-db'] });
    expect(Object.keys(project.targets)).toEqual(['build', 'typecheck', 'lint', 'test', 'test:integration']);
    const paths = JSON.parse(tree.read('tsconfig.base.json', 'utf-8') as string).compilerOptions.paths;
    expect(paths['@jit/substrate-mongo-db']).toEqual([`${root}/src/index.ts`]);
    expect(paths['@jit/substrate-mongo-db/credential']).toEqual([`${root}/src/credential.ts`]);
    expect(paths['@jit/substrates']).toEqual(['libs/substrates/contract/src/index.ts']); // others untouched
    const eslint = tree.read('eslint.config.mjs', 'utf-8') as string;
    expect(eslint).toContain("{ sourceTag: 'scope:substrate-mongo-db', bannedExternalImports: bannedExcept() },");
    const adapter = tree.read(`${root}/src/mongo-db-substrate.ts`, 'utf-8') as string;
    expect(adapter).toContain("export const MONGO_DB_KIND = 'mongo-db';");
    expect(adapter).toContain('export const mongoDbSubstrate = defineSubstrate<MongoDbConfig, MongoDbDeps>({');
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

  it('adds the lint boundary once, and says so when the config has no substrate lines', () => {
    const text = "x\n    { sourceTag: 'scope:substrate-a', bannedExternalImports: bannedExcept('aws') },\ny";
    const once = addLintBoundary(text, 'b') as string;
    expect(once.split('\n')).toEqual(['x', "    { sourceTag: 'scope:substrate-a', bannedExternalImports: bannedExcept('aws') },", "    { sourceTag: 'scope:substrate-b', bannedExternalImports: bannedExcept() },", 'y']);
    expect(addLintBoundary(once, 'b')).toBe(once);
    expect(addLintBoundary('export default [];', 'b')).toBeUndefined();
  });
});
