import type { Redis, RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { Registry, register } from 'prom-client';
import { z } from 'zod';
import { invalidOptionMessage, redactUrl } from './errors/messages';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import type { CacheTracingSettings } from './tracing/cache-tracer';
import type {
  CacheRouteParams,
  CacheStoreKind,
  RedisCacheModuleOptions,
} from './redis-cache.interfaces';

/** Where the module connects when no address is given, as the Go service did. */
export const DEFAULT_REDIS_HOST = 'localhost';
export const DEFAULT_REDIS_PORT = 6379;

export const REDIS_CACHE_DEFAULTS = {
  store: 'redis' as CacheStoreKind,
  defaultTtlSeconds: 60,
  maxTtlSeconds: 86_400,
  operationTimeoutMs: 200,
  startupWaitMs: 1_500,
  failOpen: true,
  routeParams: { app: 'appId', device: 'deviceId' },
  metricsPrefix: 'matrx_cache_',
  keyCountIntervalMs: 30_000,
};

/** Metrics settings after defaults. */
export interface ResolvedCacheMetricsOptions {
  enabled: boolean;
  prefix: string;
  registry: Registry;
  /** App ids with their own `app` label value. */
  apps: ReadonlySet<string>;
  /** 0: no background key counts. */
  keyCountIntervalMs: number;
}

/** How the Redis store reaches its server. */
export type RedisConnection =
  | { kind: 'client'; client: Redis }
  | {
      kind: 'create';
      /** A URL, or host and port; the rest completes or overrides it. */
      url?: string;
      host: string;
      port: number;
      username?: string;
      password?: string;
      db?: number;
      tls?: ConnectionOptions;
      redisOptions: RedisOptions;
    };

/** Options after defaults and validation: what the providers receive. */
export interface ResolvedRedisCacheOptions {
  store: CacheStoreKind;
  connection: RedisConnection;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  operationTimeoutMs: number;
  startupWaitMs: number;
  failOpen: boolean;
  routeParams: CacheRouteParams;
  metrics: ResolvedCacheMetricsOptions;
  tracing: CacheTracingSettings;
}

const positiveInt = (max = Number.MAX_SAFE_INTEGER) => z.number().int().min(1).max(max).optional();

// Route params become object keys on the request: a plain identifier keeps them unambiguous.
const paramName = z
  .string()
  .regex(/^[A-Za-z_$][\w$]*$/)
  .optional();

const optionsSchema = z.strictObject({
  url: z
    .string()
    .regex(/^rediss?:\/\//)
    .refine((url) => URL.canParse(url))
    .optional(),
  addr: z.string().optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65_535).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  db: z.number().int().min(0).optional(),
  tls: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
  client: z.custom<Redis>((value) => isRedisClient(value)).optional(),
  redisOptions: z.record(z.string(), z.unknown()).optional(),
  store: z.enum(['redis', 'memory']).optional(),
  defaultTtlSeconds: positiveInt(),
  maxTtlSeconds: positiveInt(),
  operationTimeoutMs: positiveInt(60_000),
  startupWaitMs: z.number().int().min(0).max(60_000).optional(),
  failOpen: z.boolean().optional(),
  routeParams: z.strictObject({ app: paramName, device: paramName }).optional(),
  metrics: z
    .strictObject({
      enabled: z.boolean().optional(),
      prefix: z
        .string()
        .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/)
        .optional(),
      registry: z.instanceof(Registry).optional(),
      apps: z.array(z.string().min(1)).optional(),
      keyCountIntervalMs: z.number().int().min(0).max(86_400_000).optional(),
    })
    .optional(),
  tracing: z
    .strictObject({
      enabled: z.boolean().optional(),
      recordDeviceId: z.boolean().optional(),
      recordKey: z.boolean().optional(),
    })
    .optional(),
});

/** What each option expects, for error messages. */
const EXPECTED: Record<string, string> = {
  url: 'a redis:// or rediss:// URL',
  addr: '"host:port" with a port from 1 to 65535',
  host: 'a non-empty host name',
  port: 'an integer port from 1 to 65535',
  username: 'a string',
  password: 'a string',
  db: 'an integer >= 0',
  tls: 'true, false or Node TLS connection options',
  client: 'an ioredis Redis instance',
  redisOptions: 'an object of ioredis options',
  store: '"redis" or "memory"',
  defaultTtlSeconds: 'a whole number of seconds >= 1',
  maxTtlSeconds: 'a whole number of seconds >= 1',
  operationTimeoutMs: 'a whole number of milliseconds from 1 to 60000',
  startupWaitMs: 'a whole number of milliseconds from 0 to 60000',
  failOpen: 'a boolean',
  routeParams: 'an object with "app" and "device" route parameter names',
  'routeParams.app': 'a route parameter name (letters, digits, _ or $)',
  'routeParams.device': 'a route parameter name (letters, digits, _ or $)',
  metrics: 'an object with enabled, prefix, registry, apps and keyCountIntervalMs',
  'metrics.enabled': 'a boolean',
  'metrics.prefix':
    'a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit)',
  'metrics.registry': 'a prom-client Registry',
  'metrics.apps': 'an array of app ids',
  'metrics.keyCountIntervalMs': 'a whole number of milliseconds from 0 (off) to 86400000',
  tracing: 'an object with enabled, recordDeviceId and recordKey',
  'tracing.enabled': 'a boolean',
  'tracing.recordDeviceId': 'a boolean',
  'tracing.recordKey': 'a boolean',
};

/** Validates module options once, at the edge, and fills in the defaults. */
export function resolveRedisCacheOptions(
  options: RedisCacheModuleOptions = {},
): ResolvedRedisCacheOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys' && issue.path.length > 0) {
      throw new RedisCacheConfigError(
        `RedisCacheModule option "${issue.path.join('.')}" has no key "${issue.keys.join('", "')}"; expected ${EXPECTED[issue.path.join('.')]}.`,
      );
    }
    if (issue.code === 'unrecognized_keys') {
      throw new RedisCacheConfigError(
        `RedisCacheModule has no option "${issue.keys.join('", "')}". Known options: ${Object.keys(
          EXPECTED,
        )
          .filter((k) => !k.includes('.'))
          .join(', ')}.`,
      );
    }
    const path = issue.path.join('.');
    throw optionError(path, valueAt(options, issue.path));
  }

  const defaultTtlSeconds = options.defaultTtlSeconds ?? REDIS_CACHE_DEFAULTS.defaultTtlSeconds;
  const maxTtlSeconds =
    options.maxTtlSeconds ?? Math.max(REDIS_CACHE_DEFAULTS.maxTtlSeconds, defaultTtlSeconds);
  if (defaultTtlSeconds > maxTtlSeconds) {
    throw new RedisCacheConfigError(
      `RedisCacheModule option "defaultTtlSeconds" (${defaultTtlSeconds}) must not exceed "maxTtlSeconds" (${maxTtlSeconds}).`,
    );
  }
  const routeParams = {
    ...REDIS_CACHE_DEFAULTS.routeParams,
    ...stripUndefined(options.routeParams),
  };
  if (routeParams.app === routeParams.device) {
    throw new RedisCacheConfigError(
      `RedisCacheModule option "routeParams": app and device must be different params, both are "${routeParams.app}".`,
    );
  }

  return {
    store: options.store ?? REDIS_CACHE_DEFAULTS.store,
    connection: resolveConnection(options),
    defaultTtlSeconds,
    maxTtlSeconds,
    operationTimeoutMs: options.operationTimeoutMs ?? REDIS_CACHE_DEFAULTS.operationTimeoutMs,
    startupWaitMs: options.startupWaitMs ?? REDIS_CACHE_DEFAULTS.startupWaitMs,
    failOpen: options.failOpen ?? REDIS_CACHE_DEFAULTS.failOpen,
    routeParams,
    metrics: {
      enabled: options.metrics?.enabled ?? true,
      prefix: options.metrics?.prefix ?? REDIS_CACHE_DEFAULTS.metricsPrefix,
      registry: options.metrics?.registry ?? register,
      apps: new Set(options.metrics?.apps ?? []),
      keyCountIntervalMs:
        options.metrics?.keyCountIntervalMs ?? REDIS_CACHE_DEFAULTS.keyCountIntervalMs,
    },
    tracing: {
      enabled: options.tracing?.enabled ?? true,
      recordDeviceId: options.tracing?.recordDeviceId ?? false,
      recordKey: options.tracing?.recordKey ?? false,
    },
  };
}

function resolveConnection(options: RedisCacheModuleOptions): RedisConnection {
  const given: string[] = (['client', 'url', 'addr', 'host'] as const).filter(
    (k) => options[k] !== undefined,
  );
  // A port belongs with host; beside client, url or addr it would be silently ignored.
  if (options.port !== undefined && given.some((k) => k !== 'host')) given.push('port');
  if (given.length > 1) {
    throw new RedisCacheConfigError(
      `RedisCacheModule options ${given.map((k) => `"${k}"`).join(' and ')} both say where Redis is: set only one of client, url, addr or host/port.`,
    );
  }
  if (options.client) {
    const prefix = options.client.options?.keyPrefix;
    if (prefix) {
      throw new RedisCacheConfigError(
        `RedisCacheModule option "client": the client has keyPrefix ${JSON.stringify(prefix)}, which SCAN patterns ignore, so flushes and stats would miss keys. Pass a client without keyPrefix (use a separate db to keep data apart).`,
      );
    }
    return { kind: 'client', client: options.client };
  }
  const address = options.addr !== undefined ? parseAddr(options.addr, 'addr') : undefined;
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
  return {
    kind: 'create',
    url: options.url,
    host: address?.host ?? options.host ?? DEFAULT_REDIS_HOST,
    port: address?.port ?? options.port ?? DEFAULT_REDIS_PORT,
    username: options.username,
    password: options.password,
    db: options.db,
    tls,
    redisOptions: options.redisOptions ?? {},
  };
}

/** Parses `"host:port"` (`"[::1]:6379"` for IPv6); `source` names the option or variable. */
export function parseAddr(
  addr: string,
  source: string,
  fail: (source: string, got: string) => Error = optionError,
): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(addr.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65_535) throw fail(source, addr);
  return { host: match[1] ?? match[2], port };
}

function optionError(path: string, got: unknown): RedisCacheConfigError {
  const expected = EXPECTED[path] ?? EXPECTED[path.split('.')[0]] ?? 'a valid value';
  // Secrets never reach an error message.
  const shown = path === 'password' ? '(hidden)' : typeof got === 'string' ? redactUrl(got) : got;
  return new RedisCacheConfigError(invalidOptionMessage(path, expected, shown));
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let value: unknown = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(value ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).sendCommand === 'function' &&
    typeof (value as Redis).status === 'string'
  );
}
