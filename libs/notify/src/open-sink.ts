// The HTTP sink as the apps start it from their parsed settings: the URL and the signing secret
// opened as live secrets (their _FILE forms re-read when rotated), the sink built on them.
import type { Registry } from 'prom-client';
import type { EventBus } from '@jit/bus';
import type { Logger } from '@jit/observability';
import { envSchemas, openSecret } from '@jit/service';
import { createHttpSink, type HttpSink } from './http-sink';
import type { SinkConfig } from './notify-env';
import type { FetchLike } from './post-json';

export function openHttpSink(c: SinkConfig, deps: { bus: EventBus; logger: Logger; registry?: Registry; fetch?: FetchLike }): { sink: HttpSink; close(): void } {
  const url = openSecret({
    setting: 'JIT_SINK_URL',
    value: c.url.value,
    ...(c.url.file ? { file: c.url.file } : {}),
    schema: envSchemas.httpUrl('the http(s) URL the SIEM receives batches at'),
    logger: deps.logger,
  });
  const secret = openSecret({ setting: 'JIT_SINK_SECRET', value: c.secret.value, ...(c.secret.file ? { file: c.secret.file } : {}), schema: envSchemas.signingSecret(), logger: deps.logger });
  const sink = createHttpSink({
    bus: deps.bus,
    groupId: c.groupId,
    url,
    secret,
    maxEvents: c.maxEvents,
    lingerMs: c.lingerMs,
    retry: c.retry,
    logger: deps.logger,
    ...(deps.registry ? { registry: deps.registry } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  return { sink, close: () => (url.close(), secret.close()) };
}
