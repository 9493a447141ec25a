// What the log-bus engine runs on: a store of topics, each a list of append-only partition logs,
// plus the committed offsets document; and how a record (key + CloudEvent) is laid out in a
// partition and which partition a key goes to. Implemented by file-log (embedded) and the memory double.
import { crc32 } from 'node:zlib';
import type { CloudEventJson } from './event-bus';
import { parseCloudEvent } from './validate';

/** One partition: an append-only sequence of payloads numbered from 0. */
export interface PartitionLog {
  /** The next offset = number of durable records. */
  readonly end: number;
  /** Resolves with the record's offset once it is durable. The payload may come in chunks (stored concatenated). */
  append(payload: Buffer | readonly Buffer[]): Promise<number>;
  read(from: number, max: number): Promise<Buffer[]>;
}

export interface TopicLog {
  readonly partitions: readonly PartitionLog[];
  readonly retentionMs: number;
}

/** group id → topic → next offset per partition. */
export type OffsetsDoc = Record<string, Record<string, number[]>>;

export interface LogStore {
  topic(name: string): TopicLog | undefined;
  createTopic(name: string, partitions: number, retentionMs: number): Promise<TopicLog>;
  loadOffsets(): Promise<OffsetsDoc>;
  saveOffsets(doc: OffsetsDoc): Promise<void>;
  /** False once a write failed in a way that needs an operator. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** Record payload: u32 key length, key bytes, CloudEvent JSON bytes — as chunks, the event's bytes not copied. */
export function recordChunks(key: string, event: Buffer | readonly Buffer[]): Buffer[] {
  const keyLength = Buffer.byteLength(key, 'utf8');
  const head = Buffer.allocUnsafe(4 + keyLength);
  head.writeUInt32BE(keyLength, 0);
  head.write(key, 4, 'utf8');
  return Buffer.isBuffer(event) ? [head, event] : [head, ...event];
}

/** The record payload as one buffer. */
export function encodeRecord(key: string, eventBytes: Buffer): Buffer {
  return Buffer.concat(recordChunks(key, eventBytes));
}

export function decodeRecord(payload: Buffer): { key: string; event: CloudEventJson } | { problem: string } {
  if (payload.length < 4) return { problem: 'record shorter than its header' };
  const keyLength = payload.readUInt32BE(0);
  if (4 + keyLength > payload.length) return { problem: 'key length beyond the record' };
  const key = payload.toString('utf8', 4, 4 + keyLength);
  const parsed = parseCloudEvent(payload.toString('utf8', 4 + keyLength));
  return 'problem' in parsed ? parsed : { key, event: parsed.event };
}

export function partitionFor(key: string, partitions: number): number {
  return crc32(key) % partitions;
}
