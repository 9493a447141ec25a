import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli/program';
import { SERVE_MODES, serveEntry, type ServeMode } from './serve';

describe('jit serve', () => {
  it.each(SERVE_MODES)('from source, %s is an app entry module that exists', (mode) => {
    const file = fileURLToPath(serveEntry(mode));
    expect(file).toMatch(mode === 'all' ? /apps\/jit\/src\/main\.ts$/ : new RegExp(`apps/${mode}/src/main\\.ts$`));
    expect(existsSync(file)).toBe(true);
  });

  it('from the build, each mode is its app bundle beside dist/apps/jit', () => {
    const from = 'file:///app/dist/apps/jit/jit.js';
    expect(serveEntry('all', from).pathname).toBe('/app/dist/apps/jit/main.js');
    expect(serveEntry('issuer', from).pathname).toBe('/app/dist/apps/issuer/main.js');
    expect(serveEntry('webhook-ingest', from).pathname).toBe('/app/dist/apps/webhook-ingest/main.js');
  });

  it('starts the named service, and refuses an unknown one with the choices', async () => {
    const started: ServeMode[] = [];
    const err: string[] = [];
    const io = { out: () => undefined, err: (s: string) => err.push(s), env: {}, serve: async (m: ServeMode) => void started.push(m) };
    expect(await runCli(['serve', 'revoker'], io)).toBe(0);
    expect(started).toEqual(['revoker']);
    expect(await runCli(['serve', 'gateway'], io)).not.toBe(0);
    expect(err.join('\n')).toContain('all, webhook-ingest, approval-gate, issuer, revoker');
    expect(started).toEqual(['revoker']);
  });
});
