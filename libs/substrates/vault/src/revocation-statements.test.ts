import { describe, expect, it } from 'vitest';
import { POSTGRES_REVOCATION_STATEMENTS, revocationGaps } from './revocation-statements';

describe('revocationGaps', () => {
  it('finds nothing to say about the recommended statements or another engine’s', () => {
    expect(revocationGaps(POSTGRES_REVOCATION_STATEMENTS)).toEqual([]);
    expect(revocationGaps(["DROP USER '{{name}}'@'%'"])).toEqual([]);
  });

  it('names a missing NOLOGIN, a missing session end and a bare DROP ROLE (also inside a ;-joined entry)', () => {
    const gaps = revocationGaps(['REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{name}}"; DROP ROLE "{{name}}"']);
    expect(gaps).toEqual([expect.stringMatching(/NOLOGIN/), expect.stringMatching(/pg_terminate_backend/), expect.stringMatching(/bare DROP ROLE/)]);
  });
});
