// Readiness check on the Kafka wire protocol, without a client library (kafkajs belongs to
// libs/bus): ApiVersions v0, then Metadata — ready means the broker lists itself, i.e. it has
// registered with the controller and been unfenced, so clients can create topics and produce.
import { Socket } from 'node:net';
import { TestingErrors } from './errors';

const API_METADATA = 3;
const API_VERSIONS = 18;
const CLIENT_ID = 'jit-testing-probe';
/** Responses larger than this are not what a probe expects: refuse instead of buffering. */
const MAX_RESPONSE = 1 << 20;

export interface ApiVersionRange {
  apiKey: number;
  min: number;
  max: number;
}

export interface KafkaProbeResult {
  brokers: { nodeId: number; host: string; port: number }[];
  clusterId: string | null;
  /** Every topic the broker knows, internal ones (`__consumer_offsets`) included, sorted. */
  topics: string[];
}

/** A request frame: size, header v1 (key, version, correlation id, client id), body. */
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, body: Buffer): Buffer {
  const client = Buffer.from(CLIENT_ID, 'utf8');
  const header = Buffer.alloc(2 + 2 + 4 + 2);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(client.length, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + client.length + body.length, 0);
  return Buffer.concat([size, header, client, body]);
}

/** Bounds-checked reader: a truncated or hostile response throws instead of reading garbage. */
class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new Error('truncated response');
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    this.need(len);
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }
  int8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
  arrayLength(maxItems: number): number {
    const n = this.int32();
    if (n < -1 || n > maxItems) throw new Error(`implausible array length ${n}`);
    return Math.max(n, 0);
  }
}

/** ApiVersions v0 response body (after the correlation id). */
export function decodeApiVersions(body: Buffer): ApiVersionRange[] {
  const r = new Reader(body);
  const errorCode = r.int16();
  if (errorCode !== 0) throw new Error(`ApiVersions error code ${errorCode}`);
  const n = r.arrayLength(1000);
  const out: ApiVersionRange[] = [];
  for (let i = 0; i < n; i++) out.push({ apiKey: r.int16(), min: r.int16(), max: r.int16() });
  return out;
}

/** Metadata request bodies v4..v7 share one shape: all topics (null array), no auto-creation. */
export function pickMetadataVersion(ranges: ApiVersionRange[]): number {
  const m = ranges.find((x) => x.apiKey === API_METADATA);
  if (!m) throw new Error('broker does not support Metadata');
  for (const v of [4, 5, 6, 7]) if (v >= m.min && v <= m.max) return v;
  throw new Error(`no Metadata version in 4..7 (broker supports ${m.min}..${m.max})`);
}

export function encodeMetadataBody(): Buffer {
  const b = Buffer.alloc(5);
  b.writeInt32BE(-1, 0); // null topics array: all topics
  b.writeInt8(0, 4); // allow_auto_topic_creation = false
  return b;
}

/** Metadata v4..v7 response body: brokers, cluster id and topic names. */
export function decodeMetadata(body: Buffer, version = 4): KafkaProbeResult {
  const r = new Reader(body);
  r.int32(); // throttle_time_ms
  const n = r.arrayLength(10_000);
  const brokers: KafkaProbeResult['brokers'] = [];
  for (let i = 0; i < n; i++) {
    const nodeId = r.int32();
    const host = r.nullableString() ?? '';
    const port = r.int32();
    r.nullableString(); // rack
    brokers.push({ nodeId, host, port });
  }
  const clusterId = r.nullableString();
  r.int32(); // controller_id
  const topics: string[] = [];
  const topicCount = r.arrayLength(1_000_000);
  for (let i = 0; i < topicCount; i++) {
    r.int16(); // error_code
    const name = r.nullableString();
    r.int8(); // is_internal
    const partitions = r.arrayLength(1_000_000);
    for (let j = 0; j < partitions; j++) {
      r.skip(2 + 4 + 4 + (version >= 7 ? 4 : 0)); // error_code, partition_index, leader_id, leader_epoch
      for (let k = 0; k < (version >= 5 ? 3 : 2); k++) r.skip(4 * r.arrayLength(10_000)); // replicas, isr, offline
    }
    if (name !== null) topics.push(name);
  }
  return { brokers, clusterId, topics: topics.sort() };
}

/** One request/response on an open socket, framed by the 4-byte size prefix. */
function roundTrip(socket: Socket, frame: Buffer, correlationId: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const size = buf.readInt32BE(0);
      if (size < 4 || size > MAX_RESPONSE) return done(new Error(`implausible response size ${size}`));
      if (buf.length < 4 + size) return;
      const got = buf.readInt32BE(4);
      if (got !== correlationId) return done(new Error(`correlation id ${got} != ${correlationId}`));
      done(undefined, buf.subarray(8, 4 + size));
    };
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new Error('connection closed before a response'));
    const done = (err?: Error, body?: Buffer): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(body as Buffer);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(frame);
  });
}

/** Connects, asks ApiVersions then Metadata; rejects unless the broker lists at least itself. */
export async function probeKafka(host: string, port: number, timeoutMs = 5_000): Promise<KafkaProbeResult> {
  const socket = new Socket();
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const versions = decodeApiVersions(await roundTrip(socket, encodeRequest(API_VERSIONS, 0, 1, Buffer.alloc(0)), 1));
    const v = pickMetadataVersion(versions);
    const meta = decodeMetadata(await roundTrip(socket, encodeRequest(API_METADATA, v, 2, encodeMetadataBody()), 2), v);
    if (meta.brokers.length === 0) throw new Error('no broker registered yet');
    return meta;
  } catch (err) {
    throw TestingErrors.probeFailed(`Kafka at ${host}:${port}`, (err as Error).message, { cause: err });
  } finally {
    socket.destroy();
  }
}
