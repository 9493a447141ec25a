import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Substrate, SubstrateDefinition } from '@jit/substrates';
import { gcpIamSubstrate } from './gcp-iam-substrate';
import { type GcpIamConfig, type GcpIamExtra } from './gcp-iam-config';
import { GCP_IAM_ERRORS } from './errors';

describe('gcp-iam public surface', () => {
  it('documents every error code under its own heading in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## substrate-gcp-iam'));
    expect(doc).toContain('## substrate-gcp-iam');
    for (const e of GCP_IAM_ERRORS) expect(section, e.code).toContain(`\`${e.code}\``);
  });

  it('is a substrate definition whose instances are Substrates', () => {
    expectTypeOf(gcpIamSubstrate).toExtend<SubstrateDefinition<GcpIamConfig, GcpIamExtra>>();
    expectTypeOf<ReturnType<typeof gcpIamSubstrate.create>>().toExtend<Substrate>();
    expect(gcpIamSubstrate.kind).toBe('gcp-iam');
  });
});
