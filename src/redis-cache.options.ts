import { metrics as openTelemetryMetrics } from '@opentelemetry/api';
import type { MeterProvider } from '@opentelemetry/api';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { register } from 'prom-client';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { invalidOptionMessage, redactUrl, urlClashMessage } from './errors/messages';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import type { CacheTracingSettings } from './tracing/cache-tracer';
import type {
  CacheRouteParams,
  CacheStoreKind,
  RedisCacheModuleOptions,
  RedisNodeAddress,
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
  namespaceIndex: false,
  routeParams: { app: 'appId', device: 'deviceId' },
  metricsPrefix: 'matrx_cache_',
  keyCountIntervalMs: 30_000,
  keyCountSamples: 'auto' as const,
  // Above Pixlet's largest values (HTTP bodies up to 20 MB), far below Redis's 512 MB: a bound
  // against an accidental huge write that would block Redis and every client behind it.
  maxValueBytes: 32 * 1024 * 1024,
  maxKeyBytes: 1024,
  stampede: {
    lock: false,
    lockTtlMs: 5_000,
    lockWaitMs: 2_000,
    earlyRefresh: false,
    earlyRefreshBeta: 1,
  },
};

/** Stampede settings after defaults. */
export type ResolvedStampedeOptions = typeof REDIS_CACHE_DEFAULTS.stampede;

/** Metrics settings after defaults. */
export interface ResolvedCacheMetricsOptions {
  enabled: boolean;
  prefix: string;
  registry: Registry;
  /** App ids with their own `app` label value. */
  apps: ReadonlySet<string>;
  /** 0: no background key counts. */
  keyCountIntervalMs: number;
  /** 0: exact counts (SCAN); N: estimates from N random keys; 'auto': by the database's size. */
  keyCountSamples: number | 'auto';
  /** Where operations are also recorded through OpenTelemetry; undefined: not at all. */
  meterProvider: MeterProvider | undefined;
}

export interface RedisNode {
  host: string;
  port: number;
}

/** What every client the module creates is given, whatever the topology. */
export interface RedisClientSettings {
  username?: string;
  password?: string;
  db?: number;
  tls?: ConnectionOptions;
  redisOptions: RedisOptions;
}

/** How the Redis store reaches its server(s). */
export type RedisConnection =
  | { kind: 'client'; client: Redis | Cluster }
  | ({
      kind: 'create';
      /** A URL, or host and port; the rest completes or overrides it. */
      url?: string;
      host: string;
      port: number;
    } & RedisClientSettings)
  | ({ kind: 'cluster'; nodes: RedisNode[]; clusterOptions: ClusterOptions } & RedisClientSettings)
  | ({
      kind: 'sentinel';
      sentinels: RedisNode[];
      name: string;
      sentinelPassword?: string;
    } & RedisClientSettings);

/** The connections for which the module creates (and so owns) the client. */
export type CreatedRedisConnection = Exclude<RedisConnection, { kind: 'client' }>;

/** Options after defaults and validation: what the providers receive. */
export interface ResolvedRedisCacheOptions {
  store: CacheStoreKind;
  connection: RedisConnection;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  operationTimeoutMs: number;
  startupWaitMs: number;
  failOpen: boolean;
  maxValueBytes: number;
  maxKeyBytes: number;
  stampede: ResolvedStampedeOptions;
  namespaceIndex: boolean;
  routeParams: CacheRouteParams;
  metrics: ResolvedCacheMetricsOptions;
  tracing: CacheTracingSettings;
}

const positiveInt = (max = Number.MAX_SAFE_INTEGER) => z.number().int().min(1).max(max).optional();

// A node as "host:port" (checked by parseAddr after the schema) or { host, port }.
const nodeAddress = z.union([
  z.string(),
  z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65_535) }),
]);

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
  cluster: z
    .strictObject({
      nodes: z.array(nodeAddress).min(1),
      clusterOptions: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  sentinels: z.array(nodeAddress).min(1).optional(),
  name: z.string().min(1).optional(),
  sentinelPassword: z.string().optional(),
  client: z.custom<Redis | Cluster>((value) => isRedisClient(value)).optional(),
  redisOptions: z.record(z.string(), z.unknown()).optional(),
  store: z.enum(['redis', 'memory']).optional(),
  defaultTtlSeconds: positiveInt(),
  maxTtlSeconds: positiveInt(),
  operationTimeoutMs: positiveInt(60_000),
  startupWaitMs: z.number().int().min(0).max(60_000).optional(),
  failOpen: z.boolean().optional(),
  namespaceIndex: z.boolean().optional(),
  maxValueBytes: positiveInt(512 * 1024 * 1024),
  maxKeyBytes: positiveInt(64 * 1024),
  stampede: z
    .strictObject({
      lock: z.boolean().optional(),
      lockTtlMs: positiveInt(600_000),
      lockWaitMs: z.number().int().min(0).max(600_000).optional(),
      earlyRefresh: z.boolean().optional(),
      earlyRefreshBeta: z.number().positive().max(100).optional(),
    })
    .optional(),
  routeParams: z.strictObject({ app: paramName, device: paramName }).optional(),
  metrics: z
    .strictObject({
      enabled: z.boolean().optional(),
      prefix: z
        .string()
        .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/)
        .optional(),
      registry: z.custom<Registry>((value) => isRegistry(value)).optional(),
      apps: z.array(z.string().min(1)).optional(),
      keyCountIntervalMs: z.number().int().min(0).max(86_400_000).optional(),
      keyCountSamples: z
        .union([z.literal('auto'), z.number().int().min(0).max(1_000_000)])
        .optional(),
      openTelemetry: z
        .union([
          z.boolean(),
          z.strictObject({
            meterProvider: z.custom<MeterProvider>((value) => isMeterProvider(value)),
          }),
        ])
        .optional(),
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
  cluster: 'an object with "nodes" (a non-empty array) and optional "clusterOptions"',
  'cluster.nodes': 'a non-empty array of "host:port" strings or { host, port } objects',
  'cluster.clusterOptions': 'an object of ioredis Cluster options',
  sentinels: 'a non-empty array of "host:port" strings or { host, port } objects',
  name: 'the non-empty name of the master group the sentinels monitor',
  sentinelPassword: 'a string',
  client: 'an ioredis Redis or Cluster instance',
  redisOptions: 'an object of ioredis options',
  store: '"redis" or "memory"',
  defaultTtlSeconds: 'a whole number of seconds >= 1',
  maxTtlSeconds: 'a whole number of seconds >= 1',
  operationTimeoutMs: 'a whole number of milliseconds from 1 to 60000',
  startupWaitMs: 'a whole number of milliseconds from 0 to 60000',
  failOpen: 'a boolean',
  namespaceIndex: 'a boolean',
  maxValueBytes: 'a whole number of bytes from 1 to 536870912 (512 MiB, the most Redis stores)',
  maxKeyBytes: 'a whole number of bytes from 1 to 65536',
  stampede: 'an object with lock, lockTtlMs, lockWaitMs, earlyRefresh and earlyRefreshBeta',
  'stampede.lock': 'a boolean',
  'stampede.lockTtlMs': 'a whole number of milliseconds from 1 to 600000',
  'stampede.lockWaitMs': 'a whole number of milliseconds from 0 to 600000',
  'stampede.earlyRefresh': 'a boolean',
  'stampede.earlyRefreshBeta': 'a number above 0, at most 100',
  routeParams: 'an object with "app" and "device" route parameter names',
  'routeParams.app': 'a route parameter name (letters, digits, _ or $)',
  'routeParams.device': 'a route parameter name (letters, digits, _ or $)',
  metrics:
    'an object with enabled, prefix, registry, apps, keyCountIntervalMs, keyCountSamples and openTelemetry',
  'metrics.enabled': 'a boolean',
  'metrics.prefix':
    'a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit)',
  'metrics.registry': 'a prom-client Registry',
  'metrics.apps': 'an array of app ids',
  'metrics.keyCountIntervalMs': 'a whole number of milliseconds from 0 (off) to 86400000',
  'metrics.keyCountSamples':
    '"auto" or a whole number from 0 (count exactly) to 1000000 (random keys to sample)',
  'metrics.openTelemetry': 'true, false or { meterProvider } with an OpenTelemetry MeterProvider',
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
    ...withoutUndefined(options.routeParams),
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
    maxValueBytes: options.maxValueBytes ?? REDIS_CACHE_DEFAULTS.maxValueBytes,
    maxKeyBytes: options.maxKeyBytes ?? REDIS_CACHE_DEFAULTS.maxKeyBytes,
    stampede: { ...REDIS_CACHE_DEFAULTS.stampede, ...withoutUndefined(options.stampede) },
    namespaceIndex: options.namespaceIndex ?? REDIS_CACHE_DEFAULTS.namespaceIndex,
    routeParams,
    metrics: {
      enabled: options.metrics?.enabled ?? true,
      prefix: options.metrics?.prefix ?? REDIS_CACHE_DEFAULTS.metricsPrefix,
      registry: options.metrics?.registry ?? register,
      apps: new Set(options.metrics?.apps ?? []),
      keyCountIntervalMs:
        options.metrics?.keyCountIntervalMs ?? REDIS_CACHE_DEFAULTS.keyCountIntervalMs,
      keyCountSamples: options.metrics?.keyCountSamples ?? REDIS_CACHE_DEFAULTS.keyCountSamples,
      meterProvider: meterProviderOf(options.metrics?.openTelemetry),
    },
    tracing: {
      enabled: options.tracing?.enabled ?? true,
      recordDeviceId: options.tracing?.recordDeviceId ?? false,
      recordKey: options.tracing?.recordKey ?? false,
    },
  };
}

const LOCATION_OPTIONS = ['client', 'url', 'addr', 'host', 'cluster', 'sentinels'] as const;

function resolveConnection(options: RedisCacheModuleOptions): RedisConnection {
  const given: string[] = LOCATION_OPTIONS.filter((k) => options[k] !== undefined);
  // A port belongs with host; beside another location it would be silently ignored.
  if (options.port !== undefined && given.some((k) => k !== 'host')) given.push('port');
  if (given.length > 1) {
    throw new RedisCacheConfigError(
      `RedisCacheModule options ${given.map((k) => `"${k}"`).join(' and ')} both say where Redis is: set only one of client, url, addr, host/port, cluster or sentinels.`,
    );
  }
  if ((options.sentinels === undefined) !== (options.name === undefined)) {
    throw new RedisCacheConfigError(
      options.name === undefined
        ? 'RedisCacheModule option "sentinels" needs "name": the master group the sentinels monitor.'
        : 'RedisCacheModule option "name" is the master group of Sentinel: set "sentinels" too.',
    );
  }
  const clusterOptions = options.cluster?.clusterOptions;
  refuseKeyPrefix('client', options.client?.options);
  refuseKeyPrefix('redisOptions', options.redisOptions);
  refuseKeyPrefix('cluster.clusterOptions', clusterOptions);
  refuseKeyPrefix('cluster.clusterOptions.redisOptions', valueAt(clusterOptions, ['redisOptions']));
  if (options.client) return { kind: 'client', client: options.client };
  const tls = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
  const settings: RedisClientSettings = {
    username: options.username,
    password: options.password,
    db: options.db,
    tls,
    redisOptions: options.redisOptions ?? {},
  };
  if (options.cluster) {
    // A cluster has one database; a db option would be refused by every node at connect time.
    if (options.db !== undefined && options.db !== 0) {
      throw new RedisCacheConfigError(
        `RedisCacheModule option "db" (${options.db}) cannot be used with "cluster": a Redis Cluster has only database 0.`,
      );
    }
    return {
      kind: 'cluster',
      ...settings,
      db: undefined,
      nodes: options.cluster.nodes.map((node, i) => parseNode(node, `cluster.nodes.${i}`)),
      clusterOptions: options.cluster.clusterOptions ?? {},
    };
  }
  if (options.sentinels && options.name) {
    return {
      kind: 'sentinel',
      ...settings,
      sentinels: options.sentinels.map((node, i) => parseNode(node, `sentinels.${i}`)),
      name: options.name,
      sentinelPassword: options.sentinelPassword,
    };
  }
  if (options.url !== undefined) {
    assertUrlLeavesRoomFor(
      options.url,
      options,
      'RedisCacheModule options',
      (option) => `"${option}"`,
    );
  }
  const address = options.addr !== undefined ? parseAddr(options.addr, 'addr') : undefined;
  return {
    kind: 'create',
    url: options.url,
    host: address?.host ?? options.host ?? DEFAULT_REDIS_HOST,
    port: address?.port ?? options.port ?? DEFAULT_REDIS_PORT,
    ...settings,
  };
}

/**
 * ioredis's `keyPrefix` applies to its command methods, not to the commands the store builds, nor
 * to SCAN patterns: keys would be written without it and flushes would count other services' keys.
 */
function refuseKeyPrefix(where: string, options: unknown): void {
  const keyPrefix = valueAt(options, ['keyPrefix']);
  if (keyPrefix === undefined || keyPrefix === '') return;
  throw new RedisCacheConfigError(
    `RedisCacheModule option "${where}": keyPrefix is not supported. Every cache key is /{appId}/{deviceId}/{key} (the Go service's format, which flushes, counts and other clients rely on), and ioredis would not apply the prefix to it. Keep services apart with their own db or Redis instead.`,
  );
}

/** Settings a Redis URL may hold itself, in its user info, path or query (ioredis reads all three). */
const URL_SETTINGS = ['username', 'password', 'db'] as const;

/**
 * ioredis lets a URL's own user, password and database win over the settings beside it, so a
 * rotated password would be ignored without a word: refuses the pair instead. `group` and
 * `nameOf` name the settings as the user wrote them (options, or environment variables).
 */
export function assertUrlLeavesRoomFor(
  url: string,
  beside: Partial<Record<(typeof URL_SETTINGS)[number], unknown>>,
  group: string,
  nameOf: (setting: 'url' | (typeof URL_SETTINGS)[number]) => string,
): void {
  const parsed = new URL(url);
  const inUrl = {
    username: parsed.username !== '' || parsed.searchParams.has('username'),
    password: parsed.password !== '' || parsed.searchParams.has('password'),
    db: /^\/\d+/.test(parsed.pathname) || parsed.searchParams.has('db'),
  };
  for (const setting of URL_SETTINGS) {
    if (inUrl[setting] && beside[setting] !== undefined) {
      throw new RedisCacheConfigError(
        urlClashMessage(
          group,
          nameOf('url'),
          nameOf(setting),
          setting === 'db' ? 'database' : setting,
        ),
      );
    }
  }
}

function parseNode(node: RedisNodeAddress, source: string): RedisNode {
  return typeof node === 'string' ? parseAddr(node, source) : { host: node.host, port: node.port };
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

// Options whose values may hold a secret (a password, key material, a client with credentials),
// also when given by mistake in the wrong shape: an error names them, never shows them.
const MAY_HOLD_SECRETS =
  /^(password|sentinelPassword|tls|redisOptions|client|cluster\.clusterOptions)(\.|$)/;

function optionError(path: string, got: unknown): RedisCacheConfigError {
  const expected =
    EXPECTED[path] ??
    EXPECTED[path.replace(/\.\d+(\..*)?$/, '')] ??
    EXPECTED[path.split('.')[0]] ??
    'a valid value';
  // Secrets never reach an error message.
  const shown = MAY_HOLD_SECRETS.test(path)
    ? '(hidden)'
    : typeof got === 'string'
      ? redactUrl(got)
      : got;
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

/** The object without its undefined entries (no object: an empty one). */
export function withoutUndefined<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(value ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function meterProviderOf(
  option: NonNullable<RedisCacheModuleOptions['metrics']>['openTelemetry'],
): MeterProvider | undefined {
  if (!option) return undefined;
  return option === true ? openTelemetryMetrics.getMeterProvider() : option.meterProvider;
}

function isMeterProvider(value: unknown): value is MeterProvider {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as MeterProvider).getMeter === 'function'
  );
}

/** By shape, not `instanceof`: the application's registry may come from its own copy of prom-client. */
function isRegistry(value: unknown): value is Registry {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Registry).registerMetric === 'function' &&
    typeof (value as Registry).getSingleMetric === 'function' &&
    typeof (value as Registry).metrics === 'function'
  );
}

function isRedisClient(value: unknown): value is Redis | Cluster {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).sendCommand === 'function' &&
    typeof (value as Redis).status === 'string'
  );
}
