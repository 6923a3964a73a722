// The variants of the library benchmark: one client (this module's ContextualCache, raw ioredis
// with and without auto-pipelining, cache-manager on @keyv/redis) times one operation (a GET that
// hits, a GET that misses, a SET with a TTL). Each variant runs in its own worker process.
import { BENCH_APP, BENCH_DEVICE, BENCH_VALUE } from '../support/redis';

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

export const variantOf = (client: LibraryClient, operation: LibraryOperation): LibraryVariant =>
  `${client}-${operation}`;

/** Every variant, grouped by operation (the report's order). */
export const LIBRARY_VARIANTS = LIBRARY_OPERATIONS.flatMap((operation) =>
  LIBRARY_CLIENTS.map((client) => variantOf(client, operation)),
);

/** A variant's client and operation (the variant is one of LIBRARY_VARIANTS). */
export function parseVariant(variant: LibraryVariant) {
  const operation = LIBRARY_OPERATIONS.find((op) => variant.endsWith(`-${op}`))!;
  return { client: variant.slice(0, -operation.length - 1) as LibraryClient, operation };
}

/**
 * The targets of the issue, for `cache` GETs (hits and misses): at least this many times the
 * ops/s of the reference client's same operation, in the same round.
 */
export const LIBRARY_TARGETS: readonly { reference: LibraryClient; ratio: number }[] = [
  { reference: 'cache-manager', ratio: 1.0 },
  { reference: 'ioredis-autopipeline', ratio: 0.95 },
];

/** One variant's operation on its client, how to tell a right result, and how to clean up. */
export interface Operation {
  run(): Promise<unknown>;
  isExpected(result: unknown): boolean;
  /** Failures the client swallowed (the cache fails open; Keyv reports errors as events). */
  swallowedErrors(): number;
  /** The module's own counter for the expected result (`cache` variants only). */
  metricsCount?(): Promise<number>;
  /** Deletes the keys this worker wrote and closes the client. */
  close(): Promise<void>;
}

/** The benchmark value, as bytes. */
export const isBenchBuffer = (result: unknown): boolean =>
  Buffer.isBuffer(result) && result.length === Buffer.byteLength(BENCH_VALUE);

/**
 * The keys of `withContext(BENCH_APP, BENCH_DEVICE)`: `hit` is BENCH_KEY (seeded every round);
 * cache-manager stores values wrapped by Keyv, so it reads a key of its own, written at start.
 */
export const KEYS = {
  hit: 'k',
  miss: 'absent',
  set: 'bench-set',
  cacheManagerHit: 'cache-manager-k',
};
/** The Redis key of a contextual key, as `ContextualCache.keyFor` builds it. */
export const redisKeyOf = (key: string) => `/${BENCH_APP}/${BENCH_DEVICE}/${key}`;
/** TTL of every SET: short, so a shared Redis is left clean even if a worker dies. */
export const SET_TTL_SECONDS = 60;

export const CLIENT_DESCRIPTIONS: Record<LibraryClient, string> = {
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
    'get-hit': `\`cache.get('${redisKeyOf(KEYS.cacheManagerHit)}')\` (written by \`cache.set\` at start), expects the 200-character string`,
    'get-miss': "`cache.get('/app1/dev1/absent')`, expects `undefined`",
    set: `\`cache.set('/app1/dev1/bench-set', value, ${SET_TTL_SECONDS * 1000})\` (ms)`,
  },
};

export function describeVariant(variant: LibraryVariant): string {
  const { client, operation } = parseVariant(variant);
  return OPERATION_DESCRIPTIONS[client][operation];
}
