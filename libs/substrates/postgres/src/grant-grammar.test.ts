import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGrant, renderGrant, schemasOf } from './grant-grammar';

const ok = (text: string) => {
  const r = parseGrant(text);
  if (!r.ok) throw new Error(`expected ${text} to parse: ${r.error}`);
  return r.grant;
};
const err = (text: unknown): string => {
  const r = parseGrant(text);
  if (r.ok) throw new Error(`expected ${String(text)} to be refused`);
  return r.error;
};

describe('parseGrant / renderGrant', () => {
  it.each([
    ['INSERT, UPDATE ON ALL TABLES IN SCHEMA public', 'GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA "public" TO "jit_g"'],
    ['select on public.orders', 'GRANT SELECT ON TABLE "public"."orders" TO "jit_g"'],
    ['SELECT, UPDATE ON TABLE billing.invoices, app."Odd Name"', 'GRANT SELECT, UPDATE ON TABLE "billing"."invoices", "app"."Odd Name" TO "jit_g"'],
    ['USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, app', 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public", "app" TO "jit_g"'],
    ['CREATE ON SCHEMA public', 'GRANT CREATE ON SCHEMA "public" TO "jit_g"'],
    ['EXECUTE ON ALL FUNCTIONS IN SCHEMA app', 'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "app" TO "jit_g"'],
    ['TEMP ON DATABASE orders', 'GRANT TEMP ON DATABASE "orders" TO "jit_g"'],
    ['UPDATE ON SEQUENCE app.seq', 'GRANT UPDATE ON SEQUENCE "app"."seq" TO "jit_g"'],
  ])('%s', (text, sql) => {
    expect(renderGrant(ok(text), 'jit_g')).toBe(sql);
  });

  it('gives the schemas the role needs USAGE on', () => {
    expect(schemasOf(ok('INSERT ON ALL TABLES IN SCHEMA a, b'))).toEqual(['a', 'b']);
    expect(schemasOf(ok('SELECT ON x.t, y.u, x.v'))).toEqual(['x', 'y']);
    expect(schemasOf(ok('CREATE ON SCHEMA s'))).toEqual([]);
  });

  it.each([
    ['INSERT ON orders; DROP TABLE orders', /";"/],
    ['SELECT ON orders -- comment', /comments/],
    ['SELECT ON orders /* x */', /comments/],
    ['ALL PRIVILEGES ON DATABASE orders', /ALL \[PRIVILEGES\]/],
    ['ALL ON TABLE orders', /ALL \[PRIVILEGES\]/],
    ['SUPERUSER', /not a grantable privilege/],
    ['postgres TO jit', /not a grantable privilege/],
    ['pg_read_all_data', /not a grantable privilege/],
    ['SELECT ON orders TO public', /grantee/],
    ['SELECT ON orders WITH GRANT OPTION', /grantee/],
    ['CREATE ON DATABASE orders', /cannot be granted on database/],
    ['INSERT ON SCHEMA public', /cannot be granted on schema/],
    ['SELECT ON pg_catalog.pg_authid', /system schema/],
    // unqualified names resolve through pg_catalog first: pg_authid would be the password hashes
    ['SELECT ON pg_authid', /names no schema/],
    ['SELECT ON TABLE pg_user_mapping', /names no schema/],
    ['SELECT ON pg_statistic, public.orders', /names no schema/],
    ['UPDATE ON SEQUENCE seq', /names no schema/],
    ['SELECT ON orders', /names no schema/],
    ['SELECT ON pg_toast.pg_toast_1260', /system schema/],
    ['SELECT ON ALL TABLES IN SCHEMA pg_catalog', /system schema/],
    ['USAGE ON SCHEMA information_schema', /system schema/],
    ['SELECT ON s."a""b"', /double quote/],
    ['SELECT ON "unterminated', /unterminated/],
    ['SELECT ON ""', /1-63/],
    ['SELECT ON public.orders(id)', /unexpected character "\("/],
    ["SELECT ON 'x'", /unexpected character/],
    ['SELECT ON a.b.c', /unexpected text/],
    ['SELECT, ON t', /expected a privilege|not a grantable/],
    ['SELECT ON', /expected a name/],
    ['SELECT', /expected ON/],
    ['', /expected a privilege/],
    ['SELECT ON ALL VIEWS IN SCHEMA x', /TABLES, SEQUENCES/],
    ['SELECT ON ALL TABLES IN x', /expected SCHEMA/],
    ['SELECT ON TABLE', /expected a name/],
    ['SELECT ON DATABASE a, b', /unexpected text/],
    ['SELECT\u00a0ON t', /U\+00a0/],
    ['SELECT ON t\u0000', /U\+0000/],
  ])('refuses %j', (text, why) => {
    expect(err(text)).toMatch(why);
  });

  it('refuses non-strings, oversized text and too many objects', () => {
    expect(err(42)).toMatch(/string/);
    expect(err(null)).toMatch(/string/);
    expect(err(`SELECT ON ${'t,'.repeat(600)}t`)).toMatch(/longer than 1000/);
    expect(err(`SELECT ON ${Array.from({ length: 60 }, (_, i) => `s.t${i}`).join(',')}`)).toMatch(/more than 50/);
    expect(err(`SELECT ON s.${'a'.repeat(64)}`)).toMatch(/longer than 63/);
  });

  it('never lets a statement separator, comment or quote through, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 50 }), (prefix, rest) => {
        const text = `SELECT ON t${prefix};${rest}`;
        expect(parseGrant(text).ok).toBe(false);
        expect(parseGrant(`SELECT ON t --${rest}`).ok).toBe(false);
      }),
    );
    // anything accepted renders to a single statement of quoted identifiers and known keywords
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        const r = parseGrant(text);
        if (!r.ok) return;
        const sql = renderGrant(r.grant, 'jit_x');
        expect(sql).not.toMatch(/;|--|\/\*/);
        expect(sql).toMatch(/^GRANT [A-Z, ]+ ON [A-Z ]+ .+ TO "jit_x"$/);
      }),
    );
  });
});
