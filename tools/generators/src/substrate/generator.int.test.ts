// The generator as a user runs it: through the Nx CLI (dry run, nothing written).
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '../../../..');

describe('nx g ./tools/generators:substrate', () => {
  it('loads through the Nx CLI and plans the scaffold', async () => {
    // CI=true turns Nx's colours on (CREATE/UPDATE are coloured words): compare the text a user reads
    const { stdout: raw } = await promisify(execFile)('npx', ['nx', 'g', './tools/generators:substrate', '--name=zz-cli-check', '--dry-run', '--no-interactive'], {
      cwd: REPO,
      env: { ...process.env, NX_NO_CLOUD: 'true', NX_DAEMON: 'false' },
      timeout: 120_000,
    });
    const stdout = stripVTControlCharacters(raw);
    expect(stdout).toContain('CREATE libs/substrates/zz-cli-check/project.json');
    expect(stdout).toContain('CREATE libs/substrates/zz-cli-check/src/zz-cli-check-substrate.int.test.ts');
    expect(stdout).toContain('UPDATE tsconfig.base.json');
    expect(stdout).toContain('UPDATE libs/substrates/wiring/src/adapters.generated.ts');
    expect(stdout).toContain('UPDATE libs/substrates/wiring/src/credential-shapes.generated.ts');
  }, 150_000);
});
