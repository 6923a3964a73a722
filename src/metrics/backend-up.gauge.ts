import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { CacheStore } from '../stores/cache-store.interface';
import { registered } from './prometheus-cache-metrics';

// The stores each registry's gauge reports on (several modules may share a registry).
const storesOf = new WeakMap<Gauge, Set<CacheStore>>();

/**
 * `{prefix}backend_up`: 1 while every store in the registry is connected and answering, else 0.
 * Read from the stores' own state when Prometheus scrapes; no command is sent.
 */
export function reportBackendUp(registry: Registry, prefix: string, store: CacheStore): () => void {
  const gauge = registered(registry, `${prefix}backend_up`, Gauge, (name) => {
    const created: Gauge = new Gauge({
      name,
      help: 'Whether the cache backend (Redis) is connected and answering (1) or not (0).',
      registers: [registry],
      collect() {
        const stores = storesOf.get(created) ?? new Set();
        created.set([...stores].every((each) => each.available) ? 1 : 0);
      },
    });
    return created;
  });
  const stores = storesOf.get(gauge) ?? new Set<CacheStore>();
  storesOf.set(gauge, stores);
  stores.add(store);
  return () => stores.delete(store);
}
