// `nx g ./tools/generators:substrate --name=<kind>`: scaffolds libs/substrates/<kind> with the
// registration skeleton, a contract-suite integration test, Nx tags, the tsconfig path alias and
// the lint boundary that bans every cloud SDK until the author allows the one it needs.
import { join } from 'node:path';
import { generateFiles, logger, names, updateJson, type Tree } from '@nx/devkit';

export interface SubstrateGeneratorSchema {
  name: string;
}

const KIND = /^[a-z][a-z0-9-]{1,30}$/;
const RESERVED = new Set(['contract', 'testing', 'substrates']);

/** Adds `scope:substrate-<kind>` after the last substrate boundary line of eslint.config.mjs. */
export function addLintBoundary(text: string, kind: string): string | undefined {
  const tag = `scope:substrate-${kind}`;
  if (text.includes(`'${tag}'`)) return text;
  const lines = text.split('\n');
  let last = -1;
  lines.forEach((l, i) => {
    if (/sourceTag: 'scope:substrate-[a-z0-9-]+'/.test(l)) last = i;
  });
  if (last < 0) return undefined;
  const indent = /^\s*/.exec(lines[last] as string)?.[0] ?? '';
  lines.splice(last + 1, 0, `${indent}{ sourceTag: '${tag}', bannedExternalImports: bannedExcept() },`);
  return lines.join('\n');
}

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

  if (tree.exists('eslint.config.mjs')) {
    const updated = addLintBoundary(tree.read('eslint.config.mjs', 'utf-8') ?? '', kind);
    if (updated === undefined) logger.warn(`eslint.config.mjs has no substrate boundary lines; add one for scope:substrate-${kind} by hand`);
    else tree.write('eslint.config.mjs', updated);
  }
  // No formatFiles: the repo has no formatter installed; the templates are already formatted.
  logger.info(`Scaffolded ${root} (${alias}). Next: docs/adding-a-substrate.md.`);
}

export default substrateGenerator;
