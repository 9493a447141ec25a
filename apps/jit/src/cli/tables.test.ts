// Every table the CLI prints, against the answers of the real catalog plugin and read API (not
// hand-written JSON): a column whose field the API does not have (renamed, or never there) prints
// empty and fails here.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@jit/contracts';
import { FIXTURE_ELEVATION, sampleEvent } from '@jit/contracts/testing';
import { createFakeGitlab } from '@jit/gitlab/testing';
import { createLedger } from '@jit/ledger';
import { catalogPlugin, createPolicyStore, policyBlobSha } from '@jit/policy';
import { EXAMPLE_POLICY_YAML, fakeSubstrates } from '@jit/policy/testing';
import { readApiPlugin } from '@jit/read-api';
import { auditorReader } from '@jit/read-api/testing';
import { runCli } from './program';
import { AUDIT_COLUMNS, CATALOG_COLUMNS } from './tables';

let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  const fake = createFakeGitlab({ botUsername: 'jit-bot' });
  fake.addProject({ id: 5, files: { 'policy.yaml': EXAMPLE_POLICY_YAML } });
  const store = createPolicyStore({ gitlab: fake.client(), projectId: 5, substrates: fakeSubstrates(), pin: policyBlobSha(EXAMPLE_POLICY_YAML) });
  expect((await store.refresh()).ok).toBe(true);
  const ledger = createLedger();
  // one elevation through its whole life (every field of the audit table set), one rejected
  for (const e of [sampleEvent(EVENT_TYPES.requested), sampleEvent(EVENT_TYPES.approved), sampleEvent(EVENT_TYPES.granted)]) ledger.apply(e);
  ledger.apply(sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-8' }));
  ledger.apply(sampleEvent(EVENT_TYPES.rejected, { elevationId: 'gl-42-8' }));
  app = Fastify();
  const reader = auditorReader();
  reader.actAs(app);
  await app.register(catalogPlugin, { store, resolveGroup: async () => [{ username: 'carol' }, { username: 'dave' }] });
  await app.register(readApiPlugin, { ledger, ...reader });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app?.close());

async function cli(...argv: string[]): Promise<string[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', url, ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: '/nonexistent', GITLAB_TOKEN: 'alice-token-for-the-test' } });
  expect(err, err.join('\n')).toEqual([]);
  expect(code).toBe(0);
  return out.join('\n').split('\n');
}

/** The cells of a table printed by toTable: columns start where the header's words start. */
function parseTable(lines: string[], headers: string[]): Array<Record<string, string>> {
  const head = lines[0]!;
  expect(head.split(/\s{2,}/)).toEqual(headers.map((h) => h.toUpperCase()));
  const starts = headers.map((h) => head.indexOf(h.toUpperCase()));
  return lines.slice(1).map((l) => Object.fromEntries(headers.map((h, i) => [h, l.slice(starts[i], starts[i + 1]).trim()])));
}

describe('CLI tables against the real API', () => {
  it('jit catalog: every column of every row filled from GET /v1/catalog', async () => {
    const lines = await cli('catalog');
    const blank = lines.indexOf('');
    const rows = parseTable(
      lines.slice(0, blank),
      CATALOG_COLUMNS.map((c) => c.header),
    );
    // under the table: the policy in force and how it came into force
    expect(lines.slice(blank + 1)).toEqual([expect.stringMatching(/^policy [0-9a-f]{12} in force: pinned by the operator \(JIT_POLICY_PIN\), at \d{4}-/)]);
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) for (const [col, v] of Object.entries(row)) expect(v, `${col} of ${JSON.stringify(row)}`).not.toBe('');
    // the example policy: orders-db write is reversible-write, 2h, one approval
    expect(rows).toContainEqual({ target: 'orders-db', scope: 'write', substrate: 'postgres', tier: 'reversible-write', ttlMax: '2h', approvals: '1' });
  });

  it('jit audit (table and csv): each column filled by the read API where the elevation has it', async () => {
    const headers = AUDIT_COLUMNS.map((c) => c.header);
    const table = parseTable(await cli('audit'), headers);
    const csvLines = await cli('audit', '--format', 'csv');
    expect(csvLines[0]).toBe(headers.join(','));
    const csv = csvLines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [headers[i]!, v])));
    for (const rows of [table, csv]) {
      expect(rows).toHaveLength(2);
      for (const col of headers)
        expect(
          rows.some((r) => r[col] !== ''),
          `column ${col} is empty in every row`,
        ).toBe(true);
      const granted = rows.find((r) => r.id === FIXTURE_ELEVATION)!;
      for (const col of headers) expect(granted[col], `${col} of the granted elevation`).not.toBe('');
      expect(granted.state).toBe('granted');
    }
  });

  it('jit status: requester, scope@target, expiry and a summarised timeline from GET /v1/elevations/:id', async () => {
    const [head, ...timeline] = await cli('status', FIXTURE_ELEVATION);
    expect(head).toMatch(new RegExp(`^${FIXTURE_ELEVATION}  granted  \\S+ \\S+@\\S+  until \\d{4}-`));
    expect(timeline).toHaveLength(3);
    for (const line of timeline) expect(line).toMatch(/^ {2}\d{4}-\S+ {2}elevation\.\S+ {2}\S/);
  });
});
