import { metrics as openTelemetryMetrics } from '@opentelemetry/api';
import type { MeterProvider } from '@opentelemetry/api';
import { register } from 'prom-client';
import type { Registry } from 'prom-client';
import { RedisCacheConfigError } from './errors/redis-cache.errors';
import {
  invalidOptionError,
  OPTION_NAMES,
  describedAt,
  optionsSchema,
  valueAt,
} from './options/option-schema';
import { resolveConnection } from './options/redis-connection';
import type { RedisConnection } from './options/redis-connection';
import type { CacheTracingSettings } from './tracing/cache-tracer';
import type {
  CacheRouteParams,
  CacheStoreKind,
  RedisCacheModuleOptions,
} from './redis-cache.interfaces';

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

/** Validates module options once, at the edge, and fills in the defaults. */
export function resolveRedisCacheOptions(
  options: RedisCacheModuleOptions = {},
): ResolvedRedisCacheOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys' && issue.path.length > 0) {
      throw new RedisCacheConfigError(
        `RedisCacheModule option "${issue.path.join('.')}" has no key "${issue.keys.join('", "')}"; expected ${describedAt(issue.path.join('.'))?.info.expected}.`,
      );
    }
    if (issue.code === 'unrecognized_keys') {
      throw new RedisCacheConfigError(
        `RedisCacheModule has no option "${issue.keys.join('", "')}". Known options: ${OPTION_NAMES.join(', ')}.`,
      );
    }
    throw invalidOptionError(issue.path.join('.'), valueAt(options, issue.path));
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
