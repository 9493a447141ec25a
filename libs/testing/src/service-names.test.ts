import { describe, expect, it } from 'vitest';
import { parseServiceNames } from './service-names';

describe('parseServiceNames', () => {
  it('expands all and removes duplicates', () => {
    expect(parseServiceNames(['all'])).toEqual(['kafka', 'openbao', 'moto', 'postgres']);
    expect(parseServiceNames(['moto', 'moto', 'kafka'])).toEqual(['moto', 'kafka']);
  });

  it('rejects unknown names with the list of valid ones, and an empty list', () => {
    expect(() => parseServiceNames(['kafak'])).toThrow(/unknown service "kafak"; use kafka, openbao, moto, postgres or all/);
    expect(() => parseServiceNames([])).toThrow(/name a service/);
  });

  it('truncates a hostile oversized name in the message', () => {
    let message = '';
    try {
      parseServiceNames(['x'.repeat(10_000)]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.length).toBeLessThan(200);
  });
});
