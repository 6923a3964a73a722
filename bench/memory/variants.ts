// What the memory benchmark's orchestrator and its workers share: the variants, the operation
// mix, and what a worker reports.
export const MEMORY_VARIANTS = ['contextual-cache', 'raw-ioredis'] as const;
export type MemoryVariant = (typeof MEMORY_VARIANTS)[number];

export const MEMORY_VARIANT_DESCRIPTIONS: Record<MemoryVariant, string> = {
  'contextual-cache':
    '`cache.withContext(app, device)` per operation (a fresh `ContextualCache`, as per request), then `get(key)` or `set(key, value)`; metrics on (`PrometheusCacheMetrics` in a fresh prom-client `Registry`, scraped once per sample), tracing off',
  'raw-ioredis':
    "`client.getBuffer('/{app}/{device}/{key}')` or `client.set(key, value, 'EX', 3600)` on the same kind of client, no cache layer: the floor",
};

/** Apps × devices × keys: gets read keys 0-19 of a context, sets write 0-9, so about half hit. */
export const APPS = 10;
export const DEVICES = 200;
export const SET_KEYS = 10;
export const GET_KEYS = 20;
/** Share of operations that are gets; the rest are sets. */
export const GET_SHARE = 0.8;
export const VALUE_TTL_SECONDS = 3600;

/** App ids carry the run's tag, so the keys a run wrote are told apart from anyone else's. */
export const appName = (tag: string, index: number) => `m${index}-${tag}`;
/** SCAN MATCH pattern of every key a run wrote. */
export const runKeysPattern = (tag: string) => `/m*-${tag}/*`;

/** One point of the series: after `ops` operations and a forced GC. */
export interface MemorySample {
  ops: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Operations per second over the chunk that ended here (0 for the first sample). */
  opsPerSec: number;
}

/** What a worker prints after `RESULT `. */
export interface MemoryWorkerResult {
  variant: MemoryVariant;
  ops: number;
  hits: number;
  misses: number;
  sets: number;
  errors: number;
  /** Operations the cache's own metrics counted (contextual-cache only): must equal `ops`. */
  metricsCounted?: number;
  seconds: number;
  /** The worker's CPU time over its life, in ms. */
  cpuMs: number;
  series: MemorySample[];
}
