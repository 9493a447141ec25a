// Shared by this lib's tests only: a controllable in-memory bus, GitLab fixtures and a signer that
// computes Standard Webhooks signatures with node:crypto directly (independent of the code under test).
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { openMemoryBus } from '@jit/bus/testing';
import type { BusMessage, CloudEventJson, EventBus, SubscribeOptions, Subscription, TopicSpec } from '@jit/bus';

export interface Published {
  topic: string;
  key: string;
  event: CloudEventJson;
}

/**
 * The bus lib's memory bus (real validation, serialisation, size limit) behind switches that simulate a
 * broker going away: `ready`, `failWith` and `hold`. `published` lists what the memory bus accepted.
 */
export class FakeBus implements EventBus {
  readonly kind = 'embedded' as const;
  private inner: EventBus | undefined;
  readonly published: Published[] = [];
  ready = true;
  failWith: Error | undefined;
  /** When set, publish waits for this promise before storing. */
  hold: Promise<void> | undefined;
  /** Publishes started and not yet finished. */
  inFlight = 0;

  async ensureTopics(_topics: TopicSpec[]): Promise<void> {
    return undefined;
  }
  async publish(topic: string, key: string, event: CloudEventJson): Promise<void> {
    this.inFlight++;
    try {
      if (this.hold) await this.hold;
      if (this.failWith) throw this.failWith;
      this.inner ??= await openMemoryBus();
      await this.inner.publish(topic, key, event);
      // What a real bus stores: the serialised form.
      this.published.push({ topic, key, event: JSON.parse(JSON.stringify(event)) });
    } finally {
      this.inFlight--;
    }
  }
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    return { groupId: options.groupId, topic: options.topic, stop: async () => undefined };
  }
  async replay(_topic: string, _handler: (m: BusMessage) => void | Promise<void>): Promise<void> {
    return undefined;
  }
  isReady(): boolean {
    return this.ready;
  }
  async close(): Promise<void> {
    await this.inner?.close();
  }
}

export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** A `whsec_` signing token from 32 random-looking bytes. */
export function signingToken(seed: string): string {
  return `whsec_${Buffer.from(seed.padEnd(32, '#').slice(0, 32)).toString('base64')}`;
}

/** HMAC-SHA256 over `id.timestamp.body`, keyed by the base64-decoded token, as GitLab sends it. */
export function signatureFor(token: string, id: string, timestamp: number, body: string | Buffer): string {
  const key = Buffer.from(token.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export function signedHeaders(token: string, body: string | Buffer, opts: { id?: string; timestamp?: number } = {}) {
  const id = opts.id ?? `msg_${randomUUID()}`;
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureFor(token, id, timestamp, body),
  };
}

/** A writable that keeps every log line, for asserting what was (not) logged. */
export function captureStream(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
