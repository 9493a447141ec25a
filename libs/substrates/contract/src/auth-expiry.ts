// `jit_substrate_auth_expires_seconds{substrate}`: how long the credential an adapter itself holds
// (jit's Vault token, a web-identity session) stays valid, read at scrape time. One gauge per
// metrics registry, shared by every instance that reports (each under its own `substrate` label).
import { Gauge, type Registry } from 'prom-client';

export const AUTH_EXPIRES_METRIC = 'jit_substrate_auth_expires_seconds';

/** When the adapter's own credential expires (ms since epoch), Infinity when it never does, undefined when unknown. */
export type AuthExpirySource = () => number | undefined;

const sources = new WeakMap<Registry, Map<string, AuthExpirySource>>();

/**
 * Reports `source` under `substrate` on `registry` until the returned function is called (on close).
 * Seconds left, never below 0; +Inf for a credential without expiry; no sample while unknown
 * (e.g. before the first login succeeded).
 */
export function reportAuthExpiry(registry: Registry | undefined, substrate: string, source: AuthExpirySource, now: () => number = Date.now): () => void {
  if (!registry) return () => undefined;
  let byName = sources.get(registry);
  if (!byName) {
    const own = new Map<string, AuthExpirySource>();
    byName = own;
    sources.set(registry, own);
    if (!registry.getSingleMetric(AUTH_EXPIRES_METRIC)) {
      new Gauge({
        name: AUTH_EXPIRES_METRIC,
        help: "Seconds until the credential a substrate instance itself uses (jit's Vault token, a cloud session) expires; +Inf when it never does. Alert well before 0.",
        labelNames: ['substrate'],
        registers: [registry],
        collect() {
          this.reset();
          const t = now();
          for (const [name, read] of own) {
            const at = read();
            if (at === undefined) continue;
            this.set({ substrate: name }, at === Infinity ? Infinity : Math.max(0, (at - t) / 1000));
          }
        },
      });
    }
  }
  byName.set(substrate, source);
  const mine = byName;
  return () => {
    if (mine.get(substrate) === source) mine.delete(substrate);
  };
}
