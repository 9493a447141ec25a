// Lint: TypeScript rules plus Nx module boundaries with constraints that forbid.
// Two tag dimensions: type:* (what a project is) and scope:* (whose it is).
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const ALL_SDKS = {
  kafka: ['kafkajs'],
  gitlab: ['@gitbeaker/*'],
  aws: ['@aws-sdk/*', '@smithy/*'],
  gcp: ['@google-cloud/*', 'google-gax', 'google-auth-library'],
  vault: ['node-vault'],
  pg: ['pg', 'pg-*'],
};
/** Every SDK except the ones a scope owns is banned in that scope. */
const bannedExcept = (...owned) =>
  Object.entries(ALL_SDKS)
    .filter(([k]) => !owned.includes(k))
    .flatMap(([, v]) => v);

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
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Name what a module exports (no `export *`).' },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            // what each kind of project may depend on
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
            { sourceTag: 'scope:substrate-postgres', bannedExternalImports: bannedExcept('pg') },
            { sourceTag: 'scope:substrate-vault', bannedExternalImports: bannedExcept('vault') },
            { sourceTag: 'scope:substrate-aws-sts', bannedExternalImports: bannedExcept('aws') },
            { sourceTag: 'scope:substrate-gcp-iam', bannedExternalImports: bannedExcept('gcp') },
            { sourceTag: 'scope:substrate-wiring', bannedExternalImports: bannedExcept() },
            // the harness starts PostgreSQL and probes it; Kafka/cloud clients stay in their libs
            { sourceTag: 'scope:testing', bannedExternalImports: bannedExcept('pg') },
            // the all-in-one app's demo writes to its demo database as a user would
            { sourceTag: 'scope:jit', bannedExternalImports: bannedExcept('pg') },
            ...['shared', 'policy', 'ledger', 'substrates', 'webhook-ingest', 'approval-gate', 'issuer', 'revoker', 'notify', 'read-api', 'identity', 'workspace'].map((s) => ({
              sourceTag: `scope:${s}`,
              bannedExternalImports: bannedExcept(),
            })),
          ],
        },
      ],
    },
  },
];
