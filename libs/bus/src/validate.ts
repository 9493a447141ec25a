// Input checks shared by every bus implementation: topic names, keys, CloudEvents, options.
// A publish is serialised once here; what is stored is exactly what was checked.
import type { CloudEventJson, SubscribeOptions } from './event-bus';
import { EventTooLarge, InvalidEvent, InvalidKey, InvalidOptions, InvalidTopic } from './errors';

/** Kafka's own rule for topic names; also safe as a path component for the embedded log. */
const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
export const MAX_KEY_BYTES = 1024;
/** Kafka's default message.max.bytes is ~1 MiB; both implementations refuse above this. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || !TOPIC_RE.test(topic) || topic === '.' || topic === '..') {
    throw InvalidTopic(JSON.stringify(typeof topic === 'string' ? topic.slice(0, 80) : typeof topic));
  }
  return topic;
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string') throw InvalidKey(`got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0) throw InvalidKey('empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw InvalidKey(`${Buffer.byteLength(key)} bytes`);
  return key;
}

/** Parses a stored/received document; returns a reason when it is not a CloudEvent. */
export function parseCloudEvent(text: string): { event: CloudEventJson } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  const problem = cloudEventProblem(doc);
  return problem ? { problem } : { event: doc as CloudEventJson };
}

function cloudEventProblem(doc: unknown): string | undefined {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return 'not an object';
  const e = doc as Record<string, unknown>;
  if (e['specversion'] !== '1.0') return 'specversion must be "1.0"';
  for (const attr of ['id', 'source', 'type']) {
    const v = e[attr];
    if (typeof v !== 'string' || v.length === 0) return `${attr} must be a non-empty string`;
  }
  return undefined;
}

/** Serialises and checks an event; returns the exact bytes to store. */
export function encodeEvent(event: unknown, maxBytes: number): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(event);
  } catch (err) {
    throw InvalidEvent('not JSON-serialisable', { cause: err });
  }
  if (text === undefined) throw InvalidEvent('not JSON-serialisable');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes) throw EventTooLarge(bytes.length, maxBytes);
  // Check the round-tripped document: what toJSON or getters produced is what consumers get.
  const parsed = parseCloudEvent(text);
  if ('problem' in parsed) throw InvalidEvent(parsed.problem);
  return bytes;
}

export interface ResolvedSubscribeOptions extends SubscribeOptions {
  startFrom: 'earliest' | 'latest';
  maxAttempts: number;
  retryBackoffMs: number;
}

export function checkSubscribeOptions(options: SubscribeOptions): ResolvedSubscribeOptions {
  if (!options || typeof options !== 'object') throw InvalidOptions('subscribe options must be an object');
  checkTopic(options.topic);
  if (typeof options.groupId !== 'string' || options.groupId.length === 0 || options.groupId.length > 255) {
    throw InvalidOptions('groupId must be a non-empty string of at most 255 characters');
  }
  if (typeof options.handler !== 'function') throw InvalidOptions('handler must be a function');
  const startFrom = options.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest') throw InvalidOptions('startFrom must be earliest or latest');
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw InvalidOptions('maxAttempts must be an integer from 1 to 100');
  }
  const retryBackoffMs = options.retryBackoffMs ?? 200;
  if (!Number.isFinite(retryBackoffMs) || retryBackoffMs < 0 || retryBackoffMs > 60_000) {
    throw InvalidOptions('retryBackoffMs must be a number of ms from 0 to 60000');
  }
  if (options.onAssignment !== undefined && typeof options.onAssignment !== 'function') {
    throw InvalidOptions('onAssignment must be a function');
  }
  return { ...options, startFrom, maxAttempts, retryBackoffMs };
}
