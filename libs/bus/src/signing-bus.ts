// A bus that signs what a producer publishes to the given topics (the producer's key never reaches
// the bus implementation): apps wrap the bus once, so every event of the gate, the issuer and the
// revoker leaves signed, whichever code path publishes it. Reads pass through unchanged.
import type { CloudEventJson, EventBus } from './event-bus';

export interface PublishSigner {
  /** A copy of the event with its signature attributes set. */
  sign<E extends object>(event: E): E;
}

/** `bus` with every publish to one of `topics` signed by `signer`. Closing it closes `bus`. */
export function createSigningBus(bus: EventBus, signer: PublishSigner, topics: readonly string[]): EventBus {
  const signed = new Set(topics);
  return {
    get kind() {
      return bus.kind;
    },
    ensureTopics: (specs) => bus.ensureTopics(specs),
    publish: (topic, key, event) => bus.publish(topic, key, signed.has(topic) ? signer.sign<CloudEventJson>(event) : event),
    subscribe: (options) => bus.subscribe(options),
    replay: (topic, handler, options) => bus.replay(topic, handler, options),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
}
