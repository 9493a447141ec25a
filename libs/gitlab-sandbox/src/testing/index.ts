// Test helpers for code that talks to the sandbox: a webhook receiver that records what
// GitLab (the sandbox) sent, and a small ready-made seed.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SeedInput } from '../seed';

/** A CI ID token for a job of a user in a project, as GitLab CI issues it (RS256, the sandbox's key). */
export { issueCiIdToken } from '../ci-id-token';
export type { CiIdTokenInput } from '../ci-id-token';

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

export interface HookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Status the receiver answers with (default 200). */
  respondWith(status: number, delayMs?: number): void;
  /** Hold every answer until release() (requests are recorded only when answered). */
  hold(): void;
  release(): void;
  /** Requests that arrived and are waiting for release(). */
  readonly held: number;
  /** Resolves when at least `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedHook[]>;
  close(): Promise<void>;
}

/** An HTTP endpoint on 127.0.0.1 (free port) that records every POST it receives. */
export async function startHookReceiver(): Promise<HookReceiver> {
  const received: ReceivedHook[] = [];
  let status = 200;
  let delay = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  let holding = false;
  let parked: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const answer = () => {
        received.push({ headers: req.headers, body, json });
        res.statusCode = status;
        res.end('ok');
        waiters = waiters.filter((w) => (received.length >= w.n ? (w.resolve(), false) : true));
      };
      if (holding) parked.push(answer);
      else if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    respondWith(s, d = 0) {
      status = s;
      delay = d;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      const toAnswer = parked;
      parked = [];
      for (const a of toAnswer) a();
    },
    get held() {
      return parked.length;
    },
    waitFor(n, timeoutMs = 5000) {
      if (received.length >= n) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`expected ${n} webhook requests, got ${received.length}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(received)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A small seed: an elevations repo on Premium, platform approvers, an author and a bot. */
export const DEMO_SEED: SeedInput = {
  users: [
    { username: 'alice', name: 'Alice Approver', token: 'alice-token-0001' },
    { username: 'bob', name: 'Bob Approver', token: 'bob-token-00001' },
    { username: 'dave', name: 'Dave Developer', token: 'dave-token-0001' },
    { username: 'deploy-agent', name: 'Deploy Agent', token: 'agent-token-001', bot: true },
    { username: 'root', name: 'Administrator', token: 'root-token-0001', admin: true },
  ],
  groups: [
    { path: 'platform', members: ['alice', 'bob'] },
    {
      path: 'ops',
      members: [
        { username: 'dave', access_level: 30 },
        { username: 'deploy-agent', access_level: 30 },
      ],
    },
  ],
  projects: [
    {
      path: 'ops/elevations',
      default_branch: 'main',
      tier: 'premium',
      files: { 'policy.yaml': 'tiers: {}\n', 'README.md': '# elevations\n' },
      members: [
        { username: 'alice', access_level: 40 },
        { username: 'bob', access_level: 40 },
      ],
      approval_rules: [{ name: 'platform', approvals_required: 1, groups: ['platform'] }],
    },
  ],
};
