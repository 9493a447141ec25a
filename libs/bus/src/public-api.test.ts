// Type tests for the public contract: what other libs compile against.
import { describe, expectTypeOf, it } from 'vitest';
import { createEmbeddedBus, createKafkaBus, type BusMessage, type EmbeddedBus, type EventBus, type KafkaBus, type SubscribeOptions } from './index';
import { createMemoryBus, openMemoryBus, runBusContractSuite } from './testing/index';

describe('public API types', () => {
  it('both factories resolve to an EventBus with a fixed kind', () => {
    expectTypeOf(createKafkaBus).returns.resolves.toEqualTypeOf<KafkaBus>();
    expectTypeOf<KafkaBus>().toMatchTypeOf<EventBus>();
    expectTypeOf<KafkaBus['kind']>().toEqualTypeOf<'kafka'>();
    expectTypeOf(createEmbeddedBus).returns.resolves.toEqualTypeOf<EmbeddedBus>();
    expectTypeOf<EmbeddedBus>().toMatchTypeOf<EventBus>();
    expectTypeOf<EmbeddedBus['kind']>().toEqualTypeOf<'embedded'>();
    expectTypeOf(createMemoryBus).returns.toEqualTypeOf<EventBus>();
    expectTypeOf(openMemoryBus).returns.resolves.toEqualTypeOf<EventBus>();
  });

  it('handlers receive a BusMessage and return a promise; options need topic, group and handler', () => {
    expectTypeOf<SubscribeOptions['handler']>().parameter(0).toEqualTypeOf<BusMessage>();
    expectTypeOf<SubscribeOptions['handler']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<{ topic: string; groupId: string }>().not.toMatchTypeOf<SubscribeOptions>();
    expectTypeOf<BusMessage['offset']>().toEqualTypeOf<string>();
    expectTypeOf(runBusContractSuite).parameter(0).toEqualTypeOf<string>();
  });
});
