// Dead letters on Kafka: a failed event goes to <topic>.dlq with the DLQ extension attributes also
// written as jit-dlq-* headers; a record that is not a CloudEvent goes there byte for byte,
// described by the headers only. Sending is retried until it succeeds or the subscription stops.
import type { IHeaders } from 'kafkajs';
import { DEAD_LETTER_SUFFIX } from '@jit/contracts';
import type { Logger } from '@jit/observability';
import type { CloudEventJson } from './event-bus';
import { DLQ_EXTENSIONS, sendDeadLetter, type StopSignal } from './delivery';
import type { KafkaProducer } from './kafka-producer';
import { encodeEvent } from './validate';

export class KafkaDeadLetters {
  constructor(
    private readonly producer: KafkaProducer,
    private readonly logger: Logger,
    private readonly maxEventBytes: number,
  ) {}

  /** A dead-letter copy of an event (from delivery's deadLetterEvent); false if stopped before it was sent. */
  async event(event: CloudEventJson, key: string, signal: StopSignal): Promise<boolean> {
    const headers: IHeaders = {
      'jit-dlq-code': String(event[DLQ_EXTENSIONS.code]),
      'jit-dlq-attempts': String(event[DLQ_EXTENSIONS.attempts]),
      'jit-dlq-topic': String(event[DLQ_EXTENSIONS.topic]),
      'jit-dlq-partition': String(event[DLQ_EXTENSIONS.partition]),
      'jit-dlq-offset': String(event[DLQ_EXTENSIONS.offset]),
    };
    const value = encodeEvent(event, this.maxEventBytes + 4096);
    return this.send(String(event[DLQ_EXTENSIONS.topic]) + DEAD_LETTER_SUFFIX, key, value, headers, signal);
  }

  /** A record that is not a CloudEvent goes to the DLQ byte for byte, described by headers. */
  raw(topic: string, key: string, value: Buffer, info: { code: string; attempts: number; partition: number; offset: string }, signal: StopSignal): Promise<boolean> {
    const headers: IHeaders = {
      'jit-dlq-code': info.code,
      'jit-dlq-attempts': String(info.attempts),
      'jit-dlq-topic': topic,
      'jit-dlq-partition': String(info.partition),
      'jit-dlq-offset': info.offset,
    };
    return this.send(topic + DEAD_LETTER_SUFFIX, key || 'malformed', value, headers, signal);
  }

  private send(dlq: string, key: string, value: Buffer, headers: IHeaders, signal: StopSignal): Promise<boolean> {
    return sendDeadLetter(() => this.producer.enqueue(dlq, key, value, headers), { topic: dlq, signal, logger: this.logger });
  }
}
