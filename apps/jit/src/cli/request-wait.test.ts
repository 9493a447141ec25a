// `jit request --wait` and `jit catalog` driven end to end in one process: the MR is opened on the
// GitLab sandbox as the requester; the read API (libs/read-api over a ledger, served by fastify
// inject) answers the polls; each poll's sleep advances the elevation's events.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, type ElevationEventType } from '@jit/contracts';
import { FIXTURE_MERGE_SHA, FIXTURE_RECIPIENT, sampleData, sampleEvent } from '@jit/contracts/testing';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLedger, type Ledger } from '@jit/ledger';
import { readApiPlugin } from '@jit/read-api';
import { auditorReader } from '@jit/read-api/testing';
import type { FetchFn } from './api-client';
import { runCli, type CliIo } from './program';

const PROJECT = 'ops/elevations';
const AGENT_TOKEN = 'deploy-agent-token-0001';
let sandbox: Sandbox;
/** Branch names carry the request time to the second: each run gets its own minute. */
let minute = 0;
const freshNow = () => {
  const at = Date.parse('2026-11-26T10:00:00Z') + ++minute * 60_000;
  return () => new Date(at);
};

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [{ username: 'deploy-agent', token: AGENT_TOKEN }],
      projects: [{ path: PROJECT, default_branch: 'main', files: { 'policy.yaml': 'tiers: {}\n' }, members: [{ username: 'deploy-agent', access_level: 30 }] }],
    },
  });
});
afterAll(async () => {
  await sandbox?.close();
});

/** The read API over a ledger the test feeds, reached through the CLI's fetch. */
async function readApi(ledger: Ledger): Promise<{ app: FastifyInstance; fetch: FetchFn; polls: string[] }> {
  const app = Fastify();
  const reader = auditorReader();
  reader.actAs(app);
  await app.register(readApiPlugin, { ledger, ...reader });
  const polls: string[] = [];
  const fetch: FetchFn = async (url) => {
    const u = new URL(url);
    polls.push(u.pathname);
    const res = await app.inject({ url: u.pathname + u.search });
    return new Response(res.body, { status: res.statusCode, headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') } });
  };
  return { app, fetch, polls };
}

function events(id: string, types: ElevationEventType[]) {
  const [, projectId, mrIid] = /^gl-(\d+)-(\d+)$/.exec(id)!;
  const ids = { elevationId: id, projectId: Number(projectId), mrIid: Number(mrIid) };
  return types.map((t) => {
    const base = sampleData[t]() as Record<string, unknown>;
    const over: Record<string, unknown> = { elevationId: id };
    if ('projectId' in base) Object.assign(over, { projectId: ids.projectId, mrIid: ids.mrIid });
    if ('grantId' in base) over.grantId = `${id}-${FIXTURE_MERGE_SHA}`;
    return sampleEvent(t, over as never);
  });
}

interface Run {
  code: number;
  out: string[];
  err: string[];
}

/**
 * Runs `jit request --wait`; `steps[i]` are the events that appear during the i-th wait between
 * polls (the first poll happens before any event, as when the gate has not seen the MR yet).
 */
async function requestAndWait(steps: ElevationEventType[][], extra: string[] = [], clock?: { now: () => Date; tick: () => void }): Promise<Run & { polls: string[]; id: () => string }> {
  const ledger = createLedger();
  const api = await readApi(ledger);
  const out: string[] = [];
  const err: string[] = [];
  let id = '';
  let step = 0;
  let sleeps = 0;
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { HOME: '/nonexistent', GITLAB_URL: sandbox.url, GITLAB_TOKEN: AGENT_TOKEN, JIT_ELEVATIONS_PROJECT: PROJECT },
    fetch: api.fetch,
    sleep: async () => {
      // a CLI that never sees a final state would poll forever (the clock only moves on tick)
      if (++sleeps > 100) throw new Error(`still polling ${id} after 100 waits`);
      clock?.tick();
      if (!id) {
        const mr = sandbox.project(PROJECT).mergeRequests.at(-1)!;
        id = `gl-${sandbox.project(PROJECT).id}-${mr.iid}`;
      }
      for (const e of events(id, steps[step++] ?? [])) ledger.apply(e);
    },
    now: clock?.now ?? freshNow(),
  };
  const argv = [
    'request',
    '--target',
    'orders-db',
    '--scope',
    'write',
    '--ttl',
    '30m',
    '--tier',
    'reversible-write',
    '--justification',
    'backfill order totals after INC-4411',
    '--recipient',
    FIXTURE_RECIPIENT,
    '--wait',
    ...extra,
  ];
  const code = await runCli(argv, io);
  await api.app.close();
  return { code, out, err, polls: api.polls, id: () => id };
}

describe('jit request --wait', () => {
  it('keeps waiting while jit has not seen the MR yet (404), prints the timeline as it grows and exits 0 once granted', async () => {
    const r = await requestAndWait([[], [EVENT_TYPES.requested], [EVENT_TYPES.approvalRecorded, EVENT_TYPES.approved], [EVENT_TYPES.granted]]);
    expect(r.err, r.err.join('\n')).toEqual([]);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toMatch(new RegExp(`opened .*elevation ${r.id()}; waiting`));
    for (const t of ['elevation.requested', 'elevation.approval.recorded', 'elevation.approved', 'elevation.granted']) expect(text).toContain(t);
    // each timeline entry once, though it was polled several times
    expect(text.split('elevation.requested').length - 1).toBe(1);
    expect(text).toMatch(new RegExp(`elevation ${r.id()}: granted$`));
    expect(r.polls.filter((p) => p === `/v1/elevations/${r.id()}`).length).toBe(5);
    // the MR really exists on GitLab, opened by the requester
    const mr = sandbox.project(PROJECT).mergeRequests.at(-1)!;
    expect(`gl-${sandbox.project(PROJECT).id}-${mr.iid}`).toBe(r.id());
  });

  it('with --json prints only the final elevation; a rejection exits 2 with one line saying so', async () => {
    const r = await requestAndWait([[EVENT_TYPES.requested], [EVENT_TYPES.rejected]], []);
    expect(r.code, r.err.join('\n') + r.out.join('\n')).toBe(2);
    expect(r.err).toEqual([`jit: elevation ${r.id()} ended rejected`]);

    const j = await (async () => {
      const ledger = createLedger();
      const api = await readApi(ledger);
      const out: string[] = [];
      const err: string[] = [];
      let id = '';
      const code = await runCli(
        [
          '--json',
          'request',
          '--target',
          'orders-db',
          '--scope',
          'write',
          '--ttl',
          '30m',
          '--tier',
          'reversible-write',
          '--justification',
          'backfill order totals after INC-4411',
          '--recipient',
          FIXTURE_RECIPIENT,
          '--wait',
        ],
        {
          out: (s) => out.push(s),
          err: (s) => err.push(s),
          env: { HOME: '/nonexistent', GITLAB_URL: sandbox.url, GITLAB_TOKEN: AGENT_TOKEN, JIT_ELEVATIONS_PROJECT: PROJECT },
          fetch: api.fetch,
          now: freshNow(),
          sleep: async () => {
            const mr = sandbox.project(PROJECT).mergeRequests.at(-1)!;
            id = `gl-${sandbox.project(PROJECT).id}-${mr.iid}`;
            for (const e of events(id, [EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted])) ledger.apply(e);
          },
        },
      );
      await api.app.close();
      return { code, out, err, id };
    })();
    expect(j.code, j.err.join('\n')).toBe(0);
    expect(j.out).toHaveLength(1);
    const final = JSON.parse(j.out[0]!);
    expect(final).toMatchObject({ id: j.id, state: 'granted' });
    expect(j.out[0]).not.toContain('BEGIN AGE');
  });

  it('gives up after --timeout with exit 3', async () => {
    let t = Date.parse('2026-11-27T10:00:00Z');
    const r = await requestAndWait([], ['--timeout', '5s'], { now: () => new Date(t), tick: () => void (t += 1000) });
    expect(r.code).toBe(3);
    expect(r.err).toEqual([`jit: gave up waiting for ${r.id()} after 5s`]);
  });

  it('stops at once on an API error that is not "not found yet"', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [
        'request',
        '--target',
        'orders-db',
        '--scope',
        'write',
        '--ttl',
        '30m',
        '--tier',
        'reversible-write',
        '--justification',
        'backfill order totals after INC-4411',
        '--recipient',
        FIXTURE_RECIPIENT,
        '--wait',
      ],
      {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
        env: { HOME: '/nonexistent', GITLAB_URL: sandbox.url, GITLAB_TOKEN: AGENT_TOKEN, JIT_ELEVATIONS_PROJECT: PROJECT },
        now: freshNow(),
        fetch: async () => new Response(JSON.stringify({ code: 'JIT_ERR_X_BROKEN', message: 'read model unavailable' }), { status: 503 }),
        sleep: async () => {
          throw new Error('must not wait after a hard error');
        },
      },
    );
    expect(code).toBe(75);
    expect(err).toEqual(['jit: read model unavailable (JIT_ERR_X_BROKEN); jit is unavailable (503), retry in a moment']);
  });
});

describe('jit catalog', () => {
  const catalog = {
    entries: [
      { target: 'orders-db', scope: 'write', substrate: 'postgres', tier: 'reversible-write', ttlMaxSeconds: 7200, requiredApprovals: 1 },
      { target: 'orders-db', scope: 'ddl', substrate: 'postgres', tier: 'semi-destructive', ttlMaxSeconds: 3600, requiredApprovals: 2 },
    ],
  };
  const io = (fetch: FetchFn, out: string[], err: string[]): CliIo => ({
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { HOME: '/nonexistent', JIT_URL: 'http://gate.example:8082', JIT_ID_TOKEN: 'ci-id-token-of-the-test' },
    fetch,
  });

  it('prints every allowed shape as a table, or the catalog itself with --json, from JIT_URL', async () => {
    const urls: string[] = [];
    const fetch: FetchFn = async (url) => {
      urls.push(url);
      return new Response(JSON.stringify(catalog), { status: 200 });
    };
    const out: string[] = [];
    expect(await runCli(['catalog'], io(fetch, out, []))).toBe(0);
    expect(urls).toEqual(['http://gate.example:8082/v1/catalog']);
    const lines = out.join('\n').split('\n');
    expect(lines[0]).toMatch(/target\s+scope\s+substrate\s+tier\s+ttlMax\s+approvals/i);
    expect(lines.some((l) => /orders-db\s+ddl\s+postgres\s+semi-destructive\s+1h\s+2/.test(l))).toBe(true);

    const json: string[] = [];
    expect(await runCli(['--json', 'catalog'], io(fetch, json, []))).toBe(0);
    expect(JSON.parse(json.join('\n'))).toEqual(catalog);
  });

  it('an answer that is not JSON, or an error, is one line and exit 1', async () => {
    const err: string[] = [];
    expect(
      await runCli(
        ['catalog'],
        io(async () => new Response('<html>bad gateway</html>', { status: 502 }), [], err),
      ),
    ).toBe(1);
    expect(err).toEqual(['jit: jit answered 502 with a body that is not JSON']);
    const err2: string[] = [];
    expect(
      await runCli(
        ['catalog'],
        io(async () => new Response(JSON.stringify({ code: 'JIT_ERR_GATE_POLICY_UNAVAILABLE', message: 'no valid policy loaded' }), { status: 503 }), [], err2),
      ),
    ).toBe(75);
    expect(err2).toEqual(['jit: no valid policy loaded (JIT_ERR_GATE_POLICY_UNAVAILABLE); jit is unavailable (503), retry in a moment']);
  });
});

describe('jit request', () => {
  it('two requests made in the same second open two MRs (branch names never collide)', async () => {
    const fixed = () => new Date('2026-11-26T09:00:00Z');
    const run = async () => {
      const err: string[] = [];
      const out: string[] = [];
      const io: CliIo = {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
        env: { HOME: '/nonexistent', GITLAB_URL: sandbox.url, GITLAB_TOKEN: AGENT_TOKEN, JIT_ELEVATIONS_PROJECT: PROJECT },
        now: fixed,
      };
      const argv = [
        'request',
        '--target',
        'orders-db',
        '--scope',
        'write',
        '--ttl',
        '30m',
        '--tier',
        'reversible-write',
        '--justification',
        'backfill order totals after INC-4411',
        '--recipient',
        FIXTURE_RECIPIENT,
      ];
      return { code: await runCli(argv, io), err, out };
    };
    const before = sandbox.project(PROJECT).mergeRequests.length;
    const a = await run();
    const b = await run();
    expect([a.code, b.code], [...a.err, ...b.err].join('\n')).toEqual([0, 0]);
    const opened = sandbox.project(PROJECT).mergeRequests.slice(before);
    expect(opened).toHaveLength(2);
    expect(new Set(opened.map((m) => m.sourceBranch)).size).toBe(2);
    // the branch is printed: where a CI job of the requester may run (and get its ID token)
    expect(a.out.join('')).toContain(`(branch ${opened[0]!.sourceBranch})`);
  });
});
