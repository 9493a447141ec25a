// Proves the Nx module-boundary constraints refuse what they must: each forbidden import
// is linted as if it were a file inside the offending project (ESLint lintText, nothing written).
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

const refused: Array<[string, string, string, RegExp]> = [
  ['an app importing another app', 'apps/issuer/src/fixture.ts', "import '../../revoker/src/main';", /revoker|relative|app/i],
  ['a lib importing an app', 'libs/gate/src/fixture.ts', "import '../../../apps/jit/src/main';", /.+/],
  ['kafkajs outside libs/bus', 'libs/ingest/src/fixture.ts', "import { Kafka } from 'kafkajs'; export const k = Kafka;", /kafkajs/],
  ['gitbeaker outside libs/gitlab', 'libs/gate/src/fixture.ts', "import { Gitlab } from '@gitbeaker/rest'; export const g = Gitlab;", /@gitbeaker\/rest/],
  ['the AWS SDK outside the STS adapter', 'libs/issuer/src/fixture.ts', "import { STSClient } from '@aws-sdk/client-sts'; export const s = STSClient;", /@aws-sdk\/client-sts/],
  ['the AWS SDK in another adapter', 'libs/substrates/vault/src/fixture.ts', "import { STSClient } from '@aws-sdk/client-sts'; export const s = STSClient;", /@aws-sdk\/client-sts/],
  ['the GCP SDK outside its adapter', 'libs/revoker/src/fixture.ts', "import { IAMCredentialsClient } from '@google-cloud/iam-credentials'; export const c = IAMCredentialsClient;", /@google-cloud/],
  ['node-vault outside the vault adapter', 'apps/jit/src/fixture.ts', "import vault from 'node-vault'; export const v = vault;", /node-vault/],
  ['pg outside the postgres adapter', 'libs/ledger/src/fixture.ts', "import pg from 'pg'; export const p = pg;", /pg/],
  ['a feature lib importing an adapter (adapters are injected by apps)', 'libs/issuer/src/fixture.ts', "import { x } from '@jit/substrate-postgres'; export const y = x;", /type:feature/],
  ['a contract lib importing a simulator lib', 'libs/contracts/src/fixture.ts', "import { startSandbox } from '@jit/gitlab-sandbox'; export const y = startSandbox;", /type:contract/],
];

describe('module boundaries', () => {
  it.each(refused)('refuses %s', async (_what, file, code, pattern) => {
    const errors = await boundaryErrors(file, code);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(pattern);
  });

  it.each([
    ['kafkajs inside libs/bus', 'libs/bus/src/fixture.ts', "import { Kafka } from 'kafkajs'; export const k = Kafka;"],
    ['gitbeaker inside libs/gitlab', 'libs/gitlab/src/fixture.ts', "import { Gitlab } from '@gitbeaker/rest'; export const g = Gitlab;"],
    ['the STS SDK inside its adapter', 'libs/substrates/aws-sts/src/fixture.ts', "import { STSClient } from '@aws-sdk/client-sts'; export const s = STSClient;"],
    ['an app composing an adapter', 'apps/jit/src/fixture.ts', "import { x } from '@jit/substrate-postgres'; export const y = x;"],
  ])('allows %s', async (_what, file, code) => {
    expect(await boundaryErrors(file, code)).toEqual([]);
  });
});
