// The probe's codec against hand-built frames, and the probe itself against a fake broker on
// loopback that answers correctly, slowly, wrongly or with hostile sizes.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeApiVersions, decodeMetadata, encodeMetadataBody, encodeRequest, pickMetadataVersion, probeKafka } from './kafka-probe';

function apiVersionsBody(ranges: [number, number, number][], errorCode = 0): Buffer {
  const b = Buffer.alloc(2 + 4 + ranges.length * 6);
  b.writeInt16BE(errorCode, 0);
  b.writeInt32BE(ranges.length, 2);
  ranges.forEach(([k, min, max], i) => {
    b.writeInt16BE(k, 6 + i * 6);
    b.writeInt16BE(min, 8 + i * 6);
    b.writeInt16BE(max, 10 + i * 6);
  });
  return b;
}

function str(s: string | null): Buffer {
  if (s === null) return Buffer.from([0xff, 0xff]);
  const b = Buffer.alloc(2);
  b.writeInt16BE(Buffer.byteLength(s), 0);
  return Buffer.concat([b, Buffer.from(s)]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
}

/** Metadata v4 response body; each topic has `partitions` partitions with one replica on node 1. */
function metadataBody(brokers: { id: number; host: string; port: number }[], clusterId: string | null, topics: { name: string; partitions: number }[] = []): Buffer {
  return Buffer.concat([
    int32(0),
    int32(brokers.length),
    ...brokers.flatMap((b) => [int32(b.id), str(b.host), int32(b.port), str(null)]),
    str(clusterId),
    int32(1),
    int32(topics.length),
    ...topics.flatMap((t) => [
      int16(0),
      str(t.name),
      Buffer.from([t.name.startsWith('__') ? 1 : 0]),
      int32(t.partitions),
      ...Array.from({ length: t.partitions }, (_, i) => [int16(0), int32(i), int32(1), int32(1), int32(1), int32(1), int32(1)]).flat(),
    ]),
  ]);
}

function frame(correlationId: number, body: Buffer): Buffer {
  return Buffer.concat([int32(4 + body.length), int32(correlationId), body]);
}

describe('Kafka probe codec', () => {
  it('encodes a request header v1 with size prefix', () => {
    const f = encodeRequest(18, 0, 7, Buffer.alloc(0));
    expect(f.readInt32BE(0)).toBe(f.length - 4);
    expect(f.readInt16BE(4)).toBe(18);
    expect(f.readInt16BE(6)).toBe(0);
    expect(f.readInt32BE(8)).toBe(7);
    expect(f.subarray(14).toString()).toBe('jit-testing-probe');
    expect(encodeMetadataBody()).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0]));
  });

  it('decodes ApiVersions and picks a Metadata version both sides speak', () => {
    const ranges = decodeApiVersions(
      apiVersionsBody([
        [3, 0, 12],
        [18, 0, 4],
      ]),
    );
    expect(ranges).toEqual([
      { apiKey: 3, min: 0, max: 12 },
      { apiKey: 18, min: 0, max: 4 },
    ]);
    expect(pickMetadataVersion(ranges)).toBe(4);
    expect(pickMetadataVersion([{ apiKey: 3, min: 6, max: 13 }])).toBe(6);
    expect(() => pickMetadataVersion([{ apiKey: 3, min: 9, max: 13 }])).toThrow(/no Metadata version in 4..7/);
    expect(() => pickMetadataVersion([])).toThrow(/does not support Metadata/);
  });

  it('rejects error codes, truncation and implausible arrays', () => {
    expect(() => decodeApiVersions(apiVersionsBody([], 35))).toThrow(/error code 35/);
    expect(() => decodeApiVersions(apiVersionsBody([[3, 0, 12]]).subarray(0, 9))).toThrow(/truncated/);
    const huge = Buffer.concat([Buffer.from([0, 0]), int32(1_000_000)]);
    expect(() => decodeApiVersions(huge)).toThrow(/implausible array length/);
    expect(() => decodeMetadata(Buffer.concat([int32(0), int32(-5)]))).toThrow(/implausible/);
  });

  it('decodes the brokers, cluster id and topic names of a Metadata response', () => {
    const body = metadataBody([{ id: 1, host: '127.0.0.1', port: 9092 }], 'abc', [
      { name: 'orders', partitions: 3 },
      { name: '__consumer_offsets', partitions: 2 },
      { name: 'audit', partitions: 0 },
    ]);
    expect(decodeMetadata(body)).toEqual({
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092 }],
      clusterId: 'abc',
      topics: ['__consumer_offsets', 'audit', 'orders'],
    });
    expect(() => decodeMetadata(body.subarray(0, body.length - 3))).toThrow(/truncated/);
  });
});

type Behaviour = (socket: Socket, request: Buffer) => void;

describe('probeKafka against a fake broker', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function fake(behaviour: Behaviour): Promise<number> {
    server = createServer((socket) => {
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          const req = buf.subarray(0, 4 + buf.readInt32BE(0));
          buf = buf.subarray(req.length);
          behaviour(socket, req);
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return (server!.address() as { port: number }).port;
  }

  const healthy =
    (brokers: { id: number; host: string; port: number }[]): Behaviour =>
    (socket, req) => {
      const apiKey = req.readInt16BE(4);
      const correlationId = req.readInt32BE(8);
      if (apiKey === 18)
        socket.write(
          frame(
            correlationId,
            apiVersionsBody([
              [3, 0, 12],
              [18, 0, 4],
            ]),
          ),
        );
      else if (apiKey === 3) {
        expect(req.readInt16BE(6)).toBe(4);
        socket.write(frame(correlationId, metadataBody(brokers, 'cluster-1')));
      }
    };

  it('passes when the broker lists itself', async () => {
    const port = await fake(healthy([{ id: 1, host: '127.0.0.1', port: 1 }]));
    await expect(probeKafka('127.0.0.1', port)).resolves.toEqual({
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 1 }],
      clusterId: 'cluster-1',
      topics: [],
    });
  });

  it('fails while no broker is registered (listening but fenced)', async () => {
    const port = await fake(healthy([]));
    await expect(probeKafka('127.0.0.1', port)).rejects.toMatchObject({
      code: 'JIT_ERR_TESTING_PROBE_FAILED',
      message: expect.stringContaining('no broker registered yet'),
    });
  });

  it('fails on a hostile response size instead of buffering it', async () => {
    const port = await fake((socket) => socket.write(int32(0x7fffffff)));
    await expect(probeKafka('127.0.0.1', port)).rejects.toThrow(/implausible response size/);
  });

  it('fails on an out-of-order response (wrong correlation id)', async () => {
    const port = await fake((socket) => socket.write(frame(99, apiVersionsBody([[3, 0, 12]]))));
    await expect(probeKafka('127.0.0.1', port)).rejects.toThrow(/correlation id 99 != 1/);
  });

  it('fails when the peer hangs up or never answers', async () => {
    const closing = await fake((socket) => socket.destroy());
    await expect(probeKafka('127.0.0.1', closing)).rejects.toThrow(/closed before a response|ECONNRESET/);
    const silent = await fake(() => undefined);
    await expect(probeKafka('127.0.0.1', silent, 100)).rejects.toThrow(/no answer within 100 ms/);
  });
});
