import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { SUBSTRATE_ERRORS, SubstrateDenied, classifySubstrateError } from './errors';

describe('substrate error catalogue', () => {
  it('documents every code in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    for (const e of SUBSTRATE_ERRORS) expect(doc, e.code).toContain(`\`${e.code}\``);
  });

  it('classifies network failures and 5xx/429 as retriable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(classifySubstrateError('pg', 'connect', refused)).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_UNREACHABLE', retriable: true });
    const nested = new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) });
    expect(classifySubstrateError('vault', 'read', nested).retriable).toBe(true);
    const agg = Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]), {});
    expect(classifySubstrateError('pg', 'connect', agg).code).toBe('JIT_ERR_SUBSTRATE_UNREACHABLE');
    for (const status of [500, 502, 503, 429]) {
      expect(classifySubstrateError('vault', 'write', Object.assign(new Error('x'), { response: { statusCode: status } })).retriable).toBe(true);
    }
    expect(classifySubstrateError('sts', 'assume', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } })).code).toBe('JIT_ERR_SUBSTRATE_UPSTREAM');
  });

  it('classifies permission and validation failures as not retriable', () => {
    expect(classifySubstrateError('vault', 'w', Object.assign(new Error('x'), { response: { statusCode: 403 } }))).toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_DENIED',
      retriable: false,
    });
    expect(classifySubstrateError('vault', 'w', Object.assign(new Error('x'), { statusCode: 400 }))).toMatchObject({
      code: 'JIT_ERR_SUBSTRATE_REJECTED',
      retriable: false,
    });
    expect(classifySubstrateError('x', 'y', new Error('weird'))).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_FAILED', retriable: false });
    expect(classifySubstrateError('x', 'y', 'a string')).toBeInstanceOf(JitError);
  });

  it('lets the adapter decide first, and passes catalogue errors through unchanged', () => {
    const own = SubstrateDenied('pg', 'create role');
    expect(classifySubstrateError('pg', 'z', own)).toBe(own);
    const pgErr = Object.assign(new Error('permission denied'), { code: '42501' });
    const mapped = classifySubstrateError('pg', 'grant', pgErr, (e) => ((e as { code?: string }).code === '42501' ? SubstrateDenied('pg', 'grant', { cause: e }) : undefined));
    expect(mapped.code).toBe('JIT_ERR_SUBSTRATE_DENIED');
  });

  it('never copies the foreign message (it may echo a request body) into ours', () => {
    const leaky = Object.assign(new Error('bad request: {"password":"hunter2-s3cret"}'), { response: { statusCode: 400 } });
    const err = classifySubstrateError('vault', 'token create', leaky);
    expect(JSON.stringify(err) + err.message).not.toContain('hunter2');
    expect(err.cause).toBe(leaky);
  });
});
