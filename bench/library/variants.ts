// The variants of the library benchmark: one client (this module's ContextualCache, raw ioredis
// with and without auto-pipelining, cache-manager on @keyv/redis) times one operation (a GET that
// hits, a GET that misses, a SET with a TTL). Each variant runs in its own worker process.
import { BENCH_APP, BENCH_DEVICE } from '../support/redis';

export const LIBRARY_CLIENTS = [
  'cache',
  'ioredis',
  'ioredis-autopipeline',
  'cache-manager',
] as const;
export type LibraryClient = (typeof LIBRARY_CLIENTS)[number];

export const LIBRARY_OPERATIONS = ['get-hit', 'get-miss', 'set'] as const;
export type LibraryOperation = (typeof LIBRARY_OPERATIONS)[number];

export type LibraryVariant = `${LibraryClient}-${LibraryOperation}`;

/** Every variant, grouped by operation (the report's order). */
export const LIBRARY_VARIANTS: readonly LibraryVariant[] = LIBRARY_OPERATIONS.flatMap((operation) =>
  LIBRARY_CLIENTS.map((client): LibraryVariant => `${client}-${operation}`),
);

export function parseVariant(variant: LibraryVariant): {
  client: LibraryClient;
  operation: LibraryOperation;
} {
  const operation = LIBRARY_OPERATIONS.find((op) => variant.endsWith(`-${op}`));
  const client = operation && variant.slice(0, -operation.length - 1);
  if (!operation || !LIBRARY_CLIENTS.includes(client as LibraryClient)) {
    throw new Error(`Unknown library variant ${JSON.stringify(variant)}`);
  }
  return { client: client as LibraryClient, operation };
}

export const variantOf = (client: LibraryClient, operation: LibraryOperation): LibraryVariant =>
  `${client}-${operation}`;

/**
 * The targets of the issue, for `cache` GETs (hits and misses): at least this many times the
 * ops/s of the reference client's same operation, in the same round.
 */
export const LIBRARY_TARGETS: readonly { reference: LibraryClient; ratio: number }[] = [
  { reference: 'cache-manager', ratio: 1.0 },
  { reference: 'ioredis-autopipeline', ratio: 0.95 },
];

// Keys. The hit key of cache, ioredis and ioredis-autopipeline is BENCH_KEY (seeded by the
// orchestrator each round); cache-manager stores its values wrapped by Keyv, so it reads a key of
// its own, written by the worker through cache-manager.
/** What `withContext(BENCH_APP, BENCH_DEVICE)` reads for a hit (its Redis key is BENCH_KEY). */
export const CACHE_HIT_KEY = 'k';
/** Never written: every GET of it misses. */
export const CACHE_MISS_KEY = 'absent';
/** Every SET variant overwrites this key. */
export const CACHE_SET_KEY = 'bench-set';
/** The Redis key of a contextual key, as `ContextualCache.keyFor` builds it. */
export const redisKeyOf = (key: string) => `/${BENCH_APP}/${BENCH_DEVICE}/${key}`;
export const MISS_KEY = redisKeyOf(CACHE_MISS_KEY);
export const SET_KEY = redisKeyOf(CACHE_SET_KEY);
/** cache-manager's hit key (Keyv's own value format, so not BENCH_KEY). */
export const CACHE_MANAGER_HIT_KEY = redisKeyOf('cache-manager-k');

/** TTL of every SET: short, so a shared Redis is left clean even if a worker dies. */
export const SET_TTL_SECONDS = 60;
/** TTL of cache-manager's hit key: well past any run (the worker deletes it when done). */
export const CACHE_MANAGER_HIT_TTL_SECONDS = 3 * 3600;

const CLIENT_DESCRIPTIONS: Record<LibraryClient, string> = {
  cache:
    "this module's `ContextualCache` (`withContext('app1', 'dev1')`), built as `RedisCacheModule` builds it: `resolveRedisCacheOptions({ url, metrics: { registry } })`, the module's own fail-fast client from `createRedisClient` (no offline queue, no retries, no auto-pipelining), a `RedisStore` over it (200 ms one-timer deadlines), `connectWithin`, then `new RedisCache(store, settings, { observer: new PrometheusCacheMetrics(registry, 'matrx_cache_'), tracer: new CacheTracer(defaults: enabled, no SDK registered, so non-recording spans) })`; metrics ON in a fresh prom-client `Registry`",
  ioredis: 'raw ioredis: a plain `new Redis(url)` (defaults: offline queue, no auto-pipelining)',
  'ioredis-autopipeline':
    'raw ioredis with `enableAutoPipelining: true` (commands issued in the same tick go out in one write)',
  'cache-manager':
    '`@nestjs/cache-manager`\'s `CACHE_MANAGER` from `CacheModule.register({ stores: [createKeyv(url)] })` in a Nest application context (the NestJS docs\' Redis setup): cache-manager\'s `createCache` over a `Keyv` on `@keyv/redis` (node-redis); values are stored by Keyv as JSON `{"value":…,"expires":…}`',
};

const OPERATION_DESCRIPTIONS: Record<LibraryClient, Record<LibraryOperation, string>> = {
  cache: {
    'get-hit':
      "`cache.get('k')` (Redis key `/app1/dev1/k`), expects `{ found: true }` with 200 bytes",
    'get-miss': "`cache.get('absent')`, expects `{ found: false }`",
    set: `\`cache.set('bench-set', value, ${SET_TTL_SECONDS})\``,
  },
  ioredis: {
    'get-hit': "`client.getBuffer('/app1/dev1/k')`, expects a 200-byte Buffer",
    'get-miss': "`client.getBuffer('/app1/dev1/absent')`, expects `null`",
    set: `\`client.set('/app1/dev1/bench-set', value, 'EX', ${SET_TTL_SECONDS})\``,
  },
  'ioredis-autopipeline': {
    'get-hit': 'as `ioredis-get-hit`',
    'get-miss': 'as `ioredis-get-miss`',
    set: 'as `ioredis-set`',
  },
  'cache-manager': {
    'get-hit': `\`cache.get('${CACHE_MANAGER_HIT_KEY}')\` (written by \`cache.set\` at start), expects the 200-character string`,
    'get-miss': "`cache.get('/app1/dev1/absent')`, expects `undefined`",
    set: `\`cache.set('/app1/dev1/bench-set', value, ${SET_TTL_SECONDS * 1000})\` (ms)`,
  },
};

export function describeVariant(variant: LibraryVariant): string {
  const { client, operation } = parseVariant(variant);
  return OPERATION_DESCRIPTIONS[client][operation];
}

export function describeClient(client: LibraryClient): string {
  return CLIENT_DESCRIPTIONS[client];
}

/** What a worker prints after `READY `, once connected and warmed up. */
export interface WorkerReady {
  variant: LibraryVariant;
  pid: number;
  node: string;
}

/** What a worker prints after `SLICE `, for each `RUN <ms>` it was given. */
export interface WorkerSlice {
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** The worker's own CPU time (user + system) during the slice, in µs. */
  cpuUs: number;
  unexpected: number;
  errors: number;
}

/** What a worker prints after `RESULT `, when told `END`: the slices it was told to KEEP, added up. */
export interface WorkerResult {
  variant: LibraryVariant;
  node: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** Latency of every measured operation (issue to settle, 64 in flight), in µs. */
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** CPU time per operation while measured, in µs: the client-side cost of one operation. */
  cpuUsPerOp: number;
  /** CPU the worker used while measured, in cores (≈ 1 when it is the bottleneck). */
  cores: number;
  /** Results that were not what the variant expects (a miss on a hit key, say). */
  unexpected: number;
  /** Operations that rejected, plus failures the cache reported (it fails open). */
  errors: number;
  /**
   * `cache` variants: the operation count the module's own Prometheus counter holds for the
   * expected result (warm-up included), proof that metrics were on and saw every operation.
   */
  metricsCount?: number;
  /** The worker's CPU time over its whole life, in ms (for the orchestrator's load accounting). */
  lifetimeCpuMs: number;
}
