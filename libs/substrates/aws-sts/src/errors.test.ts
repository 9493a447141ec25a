import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Substrate, SubstrateDefinition } from '@jit/substrates';
import { awsStsSubstrate } from './aws-sts-substrate';
import type { AwsStsConfig, AwsStsExtra } from './config';
import { AWS_STS_ERRORS } from './errors';

describe('aws-sts public surface', () => {
  it('documents every error code under its own heading in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## substrate-aws-sts'));
    expect(doc).toContain('## substrate-aws-sts');
    for (const e of AWS_STS_ERRORS) expect(section, e.code).toContain(`\`${e.code}\``);
  });

  it('is a substrate definition whose instances are Substrates', () => {
    expectTypeOf(awsStsSubstrate).toExtend<SubstrateDefinition<AwsStsConfig, AwsStsExtra>>();
    expectTypeOf<ReturnType<typeof awsStsSubstrate.create>>().toExtend<Substrate>();
    expect(awsStsSubstrate.kind).toBe('aws-sts');
  });
});
