// `nx g ./tools/generators:substrate --name=<kind>`: scaffolds libs/substrates/<kind> with the
// registration skeleton, a contract-suite integration test, Nx tags and the tsconfig path alias,
// and regenerates the adapter lists: the new kind is in every jit process with no other edit.
import { join } from 'node:path';
import { generateFiles, logger, names, updateJson, type Tree } from '@nx/devkit';
import { writeAdapterLists } from './adapter-list';

export interface SubstrateGeneratorSchema {
  name: string;
}

const KIND = /^[a-z][a-z0-9-]{1,30}$/;
const RESERVED = new Set(['contract', 'testing', 'substrates']);

export async function substrateGenerator(tree: Tree, options: SubstrateGeneratorSchema): Promise<void> {
  const kind = String(options.name ?? '').trim();
  if (!KIND.test(kind) || RESERVED.has(kind)) {
    throw new Error(`substrate name "${kind.slice(0, 40)}" must be 2-31 lower-case letters, digits or "-", start with a letter, and not be ${[...RESERVED].join('/')}`);
  }
  const root = `libs/substrates/${kind}`;
  if (tree.exists(root)) throw new Error(`${root} already exists; pick another name or remove it first`);
  const n = names(kind);
  generateFiles(tree, join(__dirname, 'files'), root, {
    name: kind,
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    tmpl: '',
  });

  const alias = `@jit/substrate-${kind}`;
  updateJson(tree, 'tsconfig.base.json', (json) => {
    json.compilerOptions ??= {};
    json.compilerOptions.paths ??= {};
    json.compilerOptions.paths[alias] = [`${root}/src/index.ts`];
    json.compilerOptions.paths[`${alias}/credential`] = [`${root}/src/credential.ts`];
    return json;
  });

  // The composition lib's adapter lists come from the Nx tags; eslint.config.mjs finds the lib's
  // boundary (and the SDK it owns, project.json metadata.sdk) the same way.
  writeAdapterLists(tree);
  // No formatFiles: the repo has no formatter installed; the templates are already formatted.
  logger.info(`Scaffolded ${root} (${alias}). Next: docs/adding-a-substrate.md.`);
}

export default substrateGenerator;
