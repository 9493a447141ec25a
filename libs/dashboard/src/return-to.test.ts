import { describe, expect, it } from 'vitest';
import { DASHBOARD_HOME, safeReturnTo } from './return-to';

describe('safeReturnTo: where a sign-in may send the browser back to', () => {
  it.each([
    ['/ui/history?state=granted&target=orders-db', '/ui/history?state=granted&target=orders-db'],
    ['/ui/elevations/gl-1-2', '/ui/elevations/gl-1-2'],
    ['/ui/live', '/ui/live'],
  ])('keeps the dashboard path %s', (input, out) => expect(safeReturnTo(input)).toBe(out));

  it.each([
    'https://evil.example/ui/',
    '//evil.example/ui/',
    '///evil.example/ui/',
    '/\\evil.example/ui/',
    '/ui/\\..\\..\\evil',
    '/ui/../../evil',
    '/ui/%2e%2e/evil',
    'javascript:alert(1)',
    '/ui/\u0000x',
    '/ui/\nLocation: https://evil.example',
    '/v1/elevations',
    '/ui/auth/logout',
    '/ui/auth/callback?code=x&state=y',
    'ui/history',
    '',
    `/ui/${'a'.repeat(3000)}`,
    undefined,
    ['/ui/live'],
  ])('replaces %j by the dashboard home', (input) => {
    const out = safeReturnTo(input);
    // whatever it is, it is a dashboard path on this origin
    expect(new URL(out, 'http://jit.invalid').origin).toBe('http://jit.invalid');
    expect(out.startsWith('/ui/')).toBe(true);
    expect(out).toBe(DASHBOARD_HOME);
  });
});
