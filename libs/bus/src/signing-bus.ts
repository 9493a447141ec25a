// A bus that signs what a producer publishes to the given topics (the producer's key never reaches
// the bus implementation): apps wrap the bus once, so every event of the gate, the issuer and the
// revoker leaves signed, whichever code path publishes it. With a chain (ADR 0010) it also links each
// event to the previous one of its key before signing, and lets the chain fold every event this
// process reads (subscriptions and replays) and publishes; publishes of one key are then made one at
// a time, so two handlers of one process never link to the same event.
import type { BusMessage, CloudEventJson, EventBus } from './event-bus';

export interface PublishSigner {
  /** A copy of the event with its signature attributes set. */
  sign<E extends object>(event: E): E;
}

/** The per-key hash chain a producer keeps by folding the log (e.g. @jit/ledger's createChainHeads). */
export interface PublishChain {
  /** A copy of the event linked to the head of its key (unchanged for topics it does not chain). */
  link<E extends CloudEventJson>(topic: string, event: E): E;
  /** The signed event, once the bus accepted it. */
  appended(topic: string, event: CloudEventJson): void;
  /** An event read from the log, before the reader's handler sees it. */
  observed(message: BusMessage): void;
}

/** `bus` with every publish to one of `topics` signed by `signer` (and chained). Closing it closes `bus`. */
export function createSigningBus(bus: EventBus, signer: PublishSigner, topics: readonly string[], chain?: PublishChain): EventBus {
  const signed = new Set(topics);
  // per key: the tail of the publishes in flight, so one key's events are linked one after another
  const inFlight = new Map<string, Promise<unknown>>();
  const publishChained = (c: PublishChain, topic: string, key: string, event: CloudEventJson): Promise<void> => {
    const slot = `${topic}\0${key}`;
    const run = (inFlight.get(slot) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const out = signer.sign<CloudEventJson>(c.link(topic, event));
        await bus.publish(topic, key, out);
        c.appended(topic, out);
      });
    inFlight.set(slot, run);
    void run.finally(() => inFlight.get(slot) === run && inFlight.delete(slot)).catch(() => undefined);
    return run;
  };
  const observe = <M extends BusMessage>(handler: (m: M) => unknown) =>
    chain
      ? (m: M) => {
          chain.observed(m);
          return handler(m);
        }
      : handler;
  return {
    get kind() {
      return bus.kind;
    },
    ensureTopics: (specs) => bus.ensureTopics(specs),
    publish: (topic, key, event) => {
      if (!signed.has(topic)) return bus.publish(topic, key, event);
      if (chain) return publishChained(chain, topic, key, event);
      return bus.publish(topic, key, signer.sign<CloudEventJson>(event));
    },
    subscribe: (options) => bus.subscribe({ ...options, handler: observe(options.handler) as typeof options.handler }),
    replay: (topic, handler, options) => bus.replay(topic, observe(handler) as typeof handler, options),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
}
