// Input checks shared by every bus implementation: topic names, keys, CloudEvents, options.
// A publish is serialised once here; what is stored is exactly what was checked.
import { types } from 'node:util';
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

export function cloudEventProblem(doc: unknown): string | undefined {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return 'not an object';
  const e = doc as Record<string, unknown>;
  if (e['specversion'] !== '1.0') return 'specversion must be "1.0"';
  for (const attr of ['id', 'source', 'type']) {
    const v = e[attr];
    if (typeof v !== 'string' || v.length === 0) return `${attr} must be a non-empty string`;
  }
  return undefined;
}

/**
 * Events serialised (and checked) ahead of publish by prepareEvent → their bytes, in chunks. A
 * module-private WeakMap: nothing outside this lib can forge an entry, and the bytes die with the event.
 */
const encoded = new WeakMap<object, { chunks: readonly Buffer[]; length: number }>();

/** For prepareEvent only: `chunks`, concatenated, are the checked serialisation of the frozen `event`. */
export function rememberEncoded(event: object, chunks: readonly Buffer[]): void {
  encoded.set(event, { chunks, length: chunks.reduce((n, c) => n + c.length, 0) });
}

const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'] as const;

/**
 * The required attributes of `event` read off the object itself, when that provably equals what
 * JSON.stringify writes for them: a plain (non-proxy) object without toJSON whose attributes are own,
 * enumerable data properties holding strings (a string is serialised as itself and parses back the
 * same). Anything else (class instances, getters, toJSON anywhere up the chain, non-string values)
 * returns undefined and is checked on the serialised text instead.
 */
export function attributesAsWritten(event: unknown): Record<string, string> | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event) || types.isProxy(event)) return undefined;
  const proto = Object.getPrototypeOf(event) as unknown;
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in event) return undefined;
  const out: Record<string, string> = {};
  for (const attr of REQUIRED_ATTRIBUTES) {
    const d = Object.getOwnPropertyDescriptor(event, attr);
    if (!d || !d.enumerable || !('value' in d) || typeof d.value !== 'string') return undefined;
    out[attr] = d.value;
  }
  return out;
}

/**
 * Serialises and checks an event; returns the exact bytes to store. The CloudEvent attributes are
 * checked on the object when they are exactly what gets written (the usual case: a plain object, as
 * CloudEvent#toJSON returns), otherwise on the round-tripped text, so what toJSON or getters produced
 * is what is checked. The serialised text is never parsed back for a plain event: that parse cost as
 * much as the serialisation itself. An event from prepareEvent was serialised and checked there.
 */
export function encodeEvent(event: unknown, maxBytes: number): Buffer {
  const chunks = encodeEventChunks(event, maxBytes);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** encodeEvent, as chunks to be stored concatenated (a prepared event's embedded text is not copied). */
export function encodeEventChunks(event: unknown, maxBytes: number): readonly Buffer[] {
  const ready = typeof event === 'object' && event !== null ? encoded.get(event) : undefined;
  if (ready) {
    if (ready.length > maxBytes) throw EventTooLarge(ready.length, maxBytes);
    return ready.chunks;
  }
  return [serialise(event, maxBytes)];
}

function serialise(event: unknown, maxBytes: number): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(event);
  } catch (err) {
    throw InvalidEvent('not JSON-serialisable', { cause: err });
  }
  if (text === undefined) throw InvalidEvent('not JSON-serialisable');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes) throw EventTooLarge(bytes.length, maxBytes);
  const attributes = attributesAsWritten(event);
  const problem = attributes ? cloudEventProblem(attributes) : roundTripProblem(text);
  if (problem) throw InvalidEvent(problem);
  return bytes;
}

function roundTripProblem(text: string): string | undefined {
  const parsed = parseCloudEvent(text);
  return 'problem' in parsed ? parsed.problem : undefined;
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
  if (options.ephemeral !== undefined && typeof options.ephemeral !== 'boolean') throw InvalidOptions('ephemeral must be true or false');
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
