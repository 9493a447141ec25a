// A local HTTP receiver (127.0.0.1, a free port) standing in for a Slack, Teams or webhook
// endpoint: it records each request, checks the body with the platform's published format and
// answers with the status the test scripts (e.g. 500 twice, then 200).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as sent. */
  raw: string;
  body: unknown;
  /** What the validator found wrong (empty: the payload is well-formed for its platform). */
  problems: string[];
  status: number;
}

export interface Receiver {
  url: string;
  /** A URL with a secret-looking path, as Slack and Teams webhook URLs are. */
  urlFor(path: string): string;
  requests: ReceivedRequest[];
  /**
   * Requests to a path no `urlFor` gave out, once it gave out one: not counted as deliveries. Test
   * files run side by side, and a port another suite's closed receiver had is reused by the OS, so a
   * retry from that suite can land here.
   */
  strays: ReceivedRequest[];
  /** Resolves once `count` requests have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** Status codes to answer with, in order; then `defaultStatus`. */
  respond(...statuses: number[]): void;
  defaultStatus: number;
  close(): Promise<void>;
}

export async function startReceiver(validate: (body: unknown) => string[] = () => []): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const strays: ReceivedRequest[] = [];
  const paths = new Set<string>();
  const script: number[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      let problems: string[];
      try {
        body = JSON.parse(raw);
        problems = validate(body);
      } catch {
        problems = ['the body is not JSON'];
      }
      const path = req.url ?? '';
      if (paths.size > 0 && !paths.has(path)) {
        strays.push({ path, headers: req.headers, raw, body, problems, status: 404 });
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no');
        return;
      }
      const status = script.shift() ?? receiver.defaultStatus;
      requests.push({ path, headers: req.headers, raw, body, problems, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const receiver: Receiver = {
    url,
    urlFor: (path) => {
      const p = `/${path.replace(/^\/+/, '')}`;
      paths.add(p);
      return `${url}${p}`;
    },
    requests,
    strays,
    defaultStatus: 200,
    respond: (...statuses) => void script.push(...statuses),
    waitFor(count, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return;
          cleanup();
          resolve(requests.slice(0, count));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`expected ${count} requests at ${url}, got ${requests.length}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
