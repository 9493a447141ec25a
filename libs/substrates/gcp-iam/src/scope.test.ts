import { describe, expect, it } from 'vitest';
import { validateGcpIamScope } from './scope';

const SA = 'orders-writer@jit-test.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

describe('validateGcpIamScope', () => {
  it('accepts service-account emails of every Google SA domain, scopes and delegates', () => {
    for (const sa of [SA, 'my-project@appspot.gserviceaccount.com', '123456789-compute@developer.gserviceaccount.com', 'service-123@gcp-sa-pubsub.iam.gserviceaccount.com']) {
      expect(validateGcpIamScope({ serviceAccount: sa, scopes: [SCOPE, 'openid'] }), sa).toEqual([]);
    }
    expect(validateGcpIamScope({ serviceAccount: SA, scopes: [SCOPE], delegates: ['hop@p.iam.gserviceaccount.com'] })).toEqual([]);
    expect(validateGcpIamScope({ tier: 'cosmetic', serviceAccount: SA, scopes: [SCOPE] })).toEqual([]);
  });

  it('refuses bad emails and scopes with the field path', () => {
    const cases: Array<[unknown, string]> = [
      [{ serviceAccount: 'alice@gmail.com', scopes: [SCOPE] }, 'serviceAccount'],
      [{ serviceAccount: 'UPPER@p.iam.gserviceaccount.com', scopes: [SCOPE] }, 'serviceAccount'],
      [{ serviceAccount: `${SA}\n`, scopes: [SCOPE] }, 'serviceAccount'],
      [{ serviceAccount: 'a@b.iam.gserviceaccount.com.evil.io', scopes: [SCOPE] }, 'serviceAccount'],
      [{ serviceAccount: SA, scopes: [] }, 'scopes'],
      [{ serviceAccount: SA, scopes: ['cloud-platform'] }, 'scopes.0'],
      [{ serviceAccount: SA, scopes: ['http://www.googleapis.com/auth/cloud-platform'] }, 'scopes.0'],
      [{ serviceAccount: SA, scopes: ['https://evil.example/auth/x'] }, 'scopes.0'],
      [{ serviceAccount: SA, scopes: [SCOPE, SCOPE] }, 'scopes'],
      [{ serviceAccount: SA, scopes: [SCOPE], delegates: ['projects/-/serviceAccounts/x'] }, 'delegates.0'],
      [{ serviceAccount: SA, scopes: [SCOPE], lifetime: 99999 }, ''],
    ];
    for (const [scope, path] of cases) {
      const problems = validateGcpIamScope(scope);
      expect(problems.length, JSON.stringify(scope)).toBeGreaterThan(0);
      expect(
        problems.map((p) => p.path),
        JSON.stringify(scope),
      ).toContain(path);
    }
  });

  it('turns hostile input into bounded problems and never throws', () => {
    for (const h of [
      null,
      undefined,
      7,
      'x',
      [],
      JSON.parse('{"__proto__":{"serviceAccount":"x"}}'),
      { serviceAccount: 'a'.repeat(100_000), scopes: [SCOPE] },
      { scopes: Array(10_000).fill(SCOPE) },
      { [`k${'z'.repeat(50_000)}`]: 1 },
    ]) {
      const problems = validateGcpIamScope(h);
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) expect(p.message.length + p.path.length).toBeLessThan(700);
    }
  });
});
