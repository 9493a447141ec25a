// The chain heads: how a producer learns the `jitprev` of the next event it publishes (ADR 0010).
// A fold of the log like the ledger: every event this process reads from jit.elevations.v1 (any
// subscription or replay of its bus) and every event it publishes itself moves the head of its key
// to that event's digest. The head is the event latest in log order this process knows of: an event
// read back at a lower offset than the head (a slower subscription of the same process) never moves
// it back; the process's own event, whose offset it learns only when it reads it back, stays the
// head until then unless an event that links to it arrives. One string per key.
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
  digest: string;
  partition?: number;
  /** Absent for this process's own event until it is read back. */
  offset?: number;
}

export function createChainHeads(topic: string = TOPIC_ELEVATIONS): ChainHeads {
  const heads = new Map<string, Head>();
  return {
    head: (key) => heads.get(key)?.digest,
    link(t, event) {
      if (t !== topic) return event;
      return linkEvent(event, heads.get(chainKeyOf(event))?.digest);
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
      // a slower reader of this process re-reading what is known: no digest to compute (rebuilds stay cheap)
      if (cur?.offset !== undefined && m.partition === cur.partition && offset <= cur.offset) return;
      const digest = eventDigest(m.event);
      const at: Head = { digest, partition: m.partition, offset };
      // our own event not read back yet: only itself (now with its offset) or an event linking to it replaces it
      if (cur && cur.offset === undefined && digest !== cur.digest && m.event[CHAIN_ATTRIBUTE] !== cur.digest) return;
      heads.set(key, at);
    },
  };
}
