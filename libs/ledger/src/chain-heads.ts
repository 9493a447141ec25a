// The chain heads: how a producer learns the `jitprev` of the next event it publishes (ADR 0010).
// A fold of the log like the ledger: every event this process reads from jit.elevations.v1 (any
// subscription or replay of its bus) and every event it publishes itself moves the head of its key
// to that event's digest. The head is the event latest in log order this process knows of: an event
// read back at a lower offset than the head (a slower subscription of the same process) never moves
// it back; the process's own event, whose offset it learns only when it reads it back, stays the
// head until then unless an event that links to it arrives. An event read is hashed only when the
// process is about to publish on its key (ADR 0010, Cost): a replay of the whole log (the revoker's
// rebuild) then hashes nothing, and a key is hashed once however many of its events were read. Until
// then its head is the event itself (read-only: no reader alters what the bus delivered); after, one
// string per key.
import { CHAIN_ATTRIBUTE, TOPIC_ELEVATIONS, chainKeyOf, eventDigest, linkEvent, type CloudEventJson } from '@jit/contracts';

/** What the signing bus needs (structurally @jit/bus's PublishChain). */
export interface ChainHeads {
  /** A copy of `event` linked to the head of its key (unchanged for other topics). */
  link<E extends CloudEventJson>(topic: string, event: E): E;
  /** The event as published (signed), once the bus accepted it: it becomes the head of its key. */
  appended(topic: string, event: CloudEventJson): void;
  /** An event read from the log, before the reader's handler sees it. */
  observed(message: { topic: string; partition: number; offset: string; event: CloudEventJson }): void;
  /** The digest the next event of `key` links to (undefined: it is the key's first). */
  head(key: string): string | undefined;
}

interface Head {
  /** Worked out from `event` when first needed. */
  digest?: string;
  /** The event read, until its digest is needed. */
  event?: CloudEventJson | undefined;
  partition?: number;
  /** Absent for this process's own event until it is read back. */
  offset?: number;
}

export function createChainHeads(topic: string = TOPIC_ELEVATIONS): ChainHeads {
  const heads = new Map<string, Head>();
  const digestOf = (key: string): string | undefined => {
    const cur = heads.get(key);
    if (cur && cur.digest === undefined && cur.event) {
      cur.digest = eventDigest(cur.event);
      cur.event = undefined;
    }
    return cur?.digest;
  };
  return {
    head: digestOf,
    link(t, event) {
      if (t !== topic) return event;
      return linkEvent(event, digestOf(chainKeyOf(event)));
    },
    appended(t, event) {
      if (t !== topic) return;
      heads.set(chainKeyOf(event), { digest: eventDigest(event) });
    },
    observed(m) {
      if (m.topic !== topic) return;
      const key = chainKeyOf(m.event);
      const offset = Number(m.offset);
      const cur = heads.get(key);
      // a slower reader of this process re-reading what is known: nothing to do
      if (cur?.offset !== undefined && m.partition === cur.partition && offset <= cur.offset) return;
      if (cur && cur.offset === undefined) {
        // our own event not read back yet (its digest is known): only itself (now with its offset) or
        // an event linking to it replaces it; hashing here is rare (right after this process published)
        const digest = eventDigest(m.event);
        if (digest !== cur.digest && m.event[CHAIN_ATTRIBUTE] !== cur.digest) return;
        heads.set(key, { digest, partition: m.partition, offset });
        return;
      }
      heads.set(key, { event: m.event, partition: m.partition, offset });
    },
  };
}
