// Lint: TypeScript rules plus Nx module boundaries with constraints that forbid.
// Two tag dimensions: type:* (what a project is) and scope:* (whose it is).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * The substrate adapters, found by their Nx tag (`type:adapter`) under libs/substrates/: each owns
 * the SDK its project.json names in `metadata.sdk`, and no other lib may import it. A new adapter
 * (tools/generators: substrate) is picked up here without an edit.
 */
const ADAPTERS = readdirSync(new URL('./libs/substrates/', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(new URL(`./libs/substrates/${d.name}/project.json`, import.meta.url)))
  .map((d) => JSON.parse(readFileSync(new URL(`./libs/substrates/${d.name}/project.json`, import.meta.url), 'utf8')))
  .filter((p) => p.tags?.includes('type:adapter'))
  .map((p) => ({
    scope: p.tags.find((t) => t.startsWith('scope:substrate-')),
    kind: p.tags.find((t) => t.startsWith('scope:substrate-')).slice('scope:substrate-'.length),
    sdk: p.metadata?.sdk ?? [],
  }));

const ALL_SDKS = {
  kafka: ['kafkajs'],
  gitlab: ['@gitbeaker/*'],
  ...Object.fromEntries(ADAPTERS.map((a) => [a.kind, a.sdk])),
};
/** Every SDK except the ones a scope owns is banned in that scope. */
const bannedExcept = (...owned) =>
  Object.entries(ALL_SDKS)
    .filter(([k]) => !owned.includes(k))
    .flatMap(([, v]) => v);

// what each kind of project may depend on, and which SDK each scope may import
const DEP_CONSTRAINTS = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:composition', 'type:feature', 'type:data-access', 'type:adapter', 'type:contract', 'type:util', 'type:simulator'] },
  // composition: assembles adapters from configuration for apps (only apps may use it)
  { sourceTag: 'type:composition', onlyDependOnLibsWithTags: ['type:feature', 'type:data-access', 'type:adapter', 'type:contract', 'type:util', 'type:testing'] },
  { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:data-access', 'type:contract', 'type:util', 'type:testing', 'type:simulator'] },
  { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:data-access', 'type:contract', 'type:util', 'type:testing', 'type:simulator'] },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:contract', 'type:util', 'type:testing'] },
  { sourceTag: 'type:contract', onlyDependOnLibsWithTags: ['type:contract', 'type:util'] },
  { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
  { sourceTag: 'type:simulator', onlyDependOnLibsWithTags: ['type:contract', 'type:util'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:data-access', 'type:adapter', 'type:contract', 'type:util', 'type:simulator'] },
  // which SDK each scope may import
  { sourceTag: 'scope:bus', bannedExternalImports: bannedExcept('kafka') },
  { sourceTag: 'scope:gitlab', bannedExternalImports: bannedExcept('gitlab') },
  // the sandbox's own tests drive it through gitbeaker, as a user's client would
  { sourceTag: 'scope:gitlab-sandbox', bannedExternalImports: bannedExcept('gitlab') },
  ...ADAPTERS.map((a) => ({ sourceTag: a.scope, bannedExternalImports: bannedExcept(a.kind) })),
  { sourceTag: 'scope:substrate-wiring', bannedExternalImports: bannedExcept() },
  // the harness starts PostgreSQL and probes it; Kafka/cloud clients stay in their libs
  { sourceTag: 'scope:testing', bannedExternalImports: bannedExcept('postgres') },
  // the all-in-one app's demo writes to its demo database as a user would
  { sourceTag: 'scope:jit', bannedExternalImports: bannedExcept('postgres') },
  ...['shared', 'policy', 'ledger', 'substrates', 'webhook-ingest', 'approval-gate', 'issuer', 'revoker', 'notify', 'read-api', 'identity', 'dashboard', 'workspace'].map((s) => ({
    sourceTag: `scope:${s}`,
    bannedExternalImports: bannedExcept(),
  })),
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', '.jit/**', '.nx/**', '**/*.d.ts', '.venv/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts', '**/*.mts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      // noUncheckedIndexedAccess makes x! the honest way to say "checked above"
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Name what a module exports (no `export *`).' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: DEP_CONSTRAINTS,
        },
      ],
    },
  },
  {
    // an app's tests may use the shared test harness (waitFor, freePort, servers); its code may not
    files: ['apps/**/*.test.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: DEP_CONSTRAINTS.map((c) => (c.sourceTag === 'type:app' ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] } : c)),
        },
      ],
    },
  },
];
