import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '@jit/observability';
import { defineSubstrate } from './define-substrate';
import { SubstrateRegistry } from './substrate-registry';
import type { Substrate } from './substrate';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger({ name: 'reg-test', destination }) };
}

const closed: string[] = [];
const fake = defineSubstrate<{ url: string; failClose?: boolean }, { marker: string }>({
  kind: 'fake',
  configSchema: z.object({ url: z.string().url(), failClose: z.boolean().optional() }).strict(),
  facts: () => ({ validateScope: () => [] }),
  create(config, deps): Substrate {
    return {
      kind: 'fake',
      name: deps.name,
      canRevokeEarly: true,
      validateScope: () => [],
      issue: async () => {
        throw new Error(`not used ${deps.marker ?? ''}`);
      },
      revoke: async () => undefined,
      close: async () => {
        closed.push(deps.name);
        if (config.failClose) throw new Error('close failed');
      },
    };
  },
});

describe('defineSubstrate', () => {
  it('refuses a kind that cannot be an instance name prefix', () => {
    expect(() => defineSubstrate({ ...fake, kind: 'Bad Kind' })).toThrow(/kind/);
    expect(() => defineSubstrate({ ...fake, kind: 'vault:prod' })).toThrow(/kind/);
  });
});

describe('SubstrateRegistry', () => {
  it('configures named instances of one kind and finds them by name and by handle', () => {
    const { logger } = capture();
    const reg = new SubstrateRegistry({ logger, definitions: [fake] });
    const prod = reg.configure('fake:prod', { url: 'https://prod.example' });
    const stage = reg.configure('fake:stage', { url: 'https://stage.example' });
    expect(prod.name).toBe('fake:prod');
    expect(reg.get('fake:stage')).toBe(stage);
    expect(reg.names()).toEqual(['fake:prod', 'fake:stage']);
    expect(reg.forHandle({ kind: 'fake', instance: 'fake:prod', grantId: 'g', ref: {}, expiresAt: '' })).toBe(prod);
    expect(() => reg.forHandle({ kind: 'other', instance: 'fake:prod', grantId: 'g', ref: {}, expiresAt: '' })).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_INVALID_HANDLE' }));
  });

  it('passes adapter-specific injections through to create', async () => {
    const reg = new SubstrateRegistry({ logger: capture().logger, definitions: [fake] });
    const s = reg.configure<{ marker: string }>('fake', { url: 'https://x.example' }, { marker: 'M1' });
    await expect(s.issue({} as never)).rejects.toThrow(/not used M1/);
  });

  it('rejects unknown kinds, unknown instances, duplicates and bad names with catalogue errors', () => {
    const reg = new SubstrateRegistry({ logger: capture().logger, definitions: [fake] });
    expect(() => reg.register(fake)).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_DUPLICATE' }));
    expect(() => reg.configure('nope:prod', {})).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_UNKNOWN_KIND' }));
    expect(() => reg.get('fake:none')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_UNKNOWN_INSTANCE' }));
    reg.configure('fake:a', { url: 'https://a.example' });
    expect(() => reg.configure('fake:a', { url: 'https://a.example' })).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_DUPLICATE' }));
    for (const bad of ['', 'FAKE', 'fake:', 'fake:a:b', 'fake:x y', `fake:${'a'.repeat(70)}`, '../fake']) {
      expect(() => reg.configure(bad, { url: 'https://a.example' }), bad).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_INVALID_CONFIG' }));
    }
  });

  it('names the bad config keys but never echoes their values', () => {
    const reg = new SubstrateRegistry({ logger: capture().logger, definitions: [fake] });
    const secretUrl = 'postgres://admin:hunter2-s3cret@db';
    let err: unknown;
    try {
      reg.configure('fake', { url: secretUrl.replace('postgres://', 'not a url '), extra: 'hunter2-s3cret' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_INVALID_CONFIG', retriable: false });
    const text = JSON.stringify(err) + String(err);
    expect(text).toContain('url');
    expect(text).not.toContain('hunter2');
    expect(() => reg.configure('fake', null)).toThrow(/\(root\)/);
  });

  it('closeAll closes every instance even when one close fails, logs it, and forgets them', async () => {
    closed.length = 0;
    const { logger, lines } = capture();
    const reg = new SubstrateRegistry({ logger, definitions: [fake] });
    reg.configure('fake:a', { url: 'https://a.example', failClose: true });
    reg.configure('fake:b', { url: 'https://b.example' });
    await reg.closeAll();
    expect(closed.sort()).toEqual(['fake:a', 'fake:b']);
    expect(lines.join('')).toContain('substrate close failed');
    expect(reg.names()).toEqual([]);
    expect(() => reg.get('fake:b')).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_UNKNOWN_INSTANCE' }));
  });
});
