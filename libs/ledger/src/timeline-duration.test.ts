// `jit status` (the ledger's timeline) said a requested TTL as raw seconds ("for 5400s"), hostile review 5;
// where the MR comment, the CLI's request and the catalog say "1h30m" (formatDuration).
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type AnyElevationEvent } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { summarize } from './timeline';

describe('timeline durations', () => {
  it('a requested TTL of 5400 s reads 1h30m', () => {
    const ev = sampleEvent(EVENT_TYPES.requested) as AnyElevationEvent & { data: { ttlSeconds: number } };
    ev.data.ttlSeconds = 5400;
    const line = summarize(ev);
    expect(line).toContain('1h30m');
    expect(line).not.toMatch(/\b5400s\b/);
  });
});
