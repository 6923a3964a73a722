// The variants of the observability benchmark: one renderer process (`node main.js` of a fresh
// build of src/) each, differing only in the environment they start with.

export const OBSERVABILITY_VARIANTS = [
  'off',
  'metrics',
  'metrics+tracing',
  'tracing-sdk-only',
] as const;
export type ObservabilityVariant = (typeof OBSERVABILITY_VARIANTS)[number];

export const BASELINE_VARIANT: ObservabilityVariant = 'off';

/** The route measured: the banner app's cached PNG (`X-Cache: HIT` after the first request). */
export const MEASURED_PATH = '/apps/banner/devices/bench-device/render?text=hi';

/** The target from the brief: metrics on, tracing off, at most 10 % below `off`. */
export const METRICS_TARGET_RATIO = 0.9;

/** How often the SDK's batch span processor exports (OTEL_BSP_SCHEDULE_DELAY, ms). */
export const BSP_SCHEDULE_DELAY_MS = 1000;

export interface VariantSpec {
  /** CACHE_METRICS: the module's Prometheus metrics, request latency included. */
  metrics: boolean;
  /** CACHE_TRACING: the module's own CLIENT span per cache operation. */
  cacheTracing: boolean;
  /** OTEL_EXPORTER_OTLP_ENDPOINT set (to this benchmark's sink): the OpenTelemetry SDK starts. */
  otlp: boolean;
}

export const VARIANT_SPECS: Record<ObservabilityVariant, VariantSpec> = {
  off: { metrics: false, cacheTracing: false, otlp: false },
  metrics: { metrics: true, cacheTracing: false, otlp: false },
  'metrics+tracing': { metrics: true, cacheTracing: true, otlp: true },
  'tracing-sdk-only': { metrics: false, cacheTracing: true, otlp: true },
};

export const VARIANT_DESCRIPTIONS: Record<ObservabilityVariant, string> = {
  off: '`CACHE_METRICS=false`, `CACHE_TRACING=false`, no OTLP endpoint: no Prometheus metrics, no OpenTelemetry SDK (the baseline).',
  metrics:
    "`CACHE_METRICS=true` (the default), `CACHE_TRACING=false`, no OTLP endpoint: the module's Prometheus metrics (`request_duration_seconds{route,cache}` per request that uses the cache, recorded by the module's response hook (a Fastify `onResponse` hook) since the request-isolation rebuild, by a route binding before it (since commit 471d41e) and by a global `CacheMetricsInterceptor` before that; the cache operation counters and histogram; the key-count refresher, every 30 s by default; prom-client's default metrics); tracing off.",
  'metrics+tracing': `\`CACHE_METRICS=true\`, \`CACHE_TRACING=true\`, \`OTEL_EXPORTER_OTLP_ENDPOINT\` set to the benchmark's loopback OTLP/HTTP sink, \`OTEL_BSP_SCHEDULE_DELAY=${BSP_SCHEDULE_DELAY_MS}\`: everything on (the SDK with the HTTP, Nest and ioredis instrumentations, the module's cache spans, OTLP/HTTP JSON export).`,
  'tracing-sdk-only': `\`CACHE_METRICS=false\`, \`CACHE_TRACING=true\`, OTLP endpoint set as above, \`OTEL_BSP_SCHEDULE_DELAY=${BSP_SCHEDULE_DELAY_MS}\`: tracing alone, without the Prometheus metrics.`,
};

/** The environment a variant's process starts with, on top of the cleaned parent environment. */
export function variantEnv(
  variant: ObservabilityVariant,
  settings: { port: number; redisUrl: string; otlpEndpoint?: string },
): Record<string, string> {
  const spec = VARIANT_SPECS[variant];
  const env: Record<string, string> = {
    PORT: String(settings.port),
    HOST: '127.0.0.1',
    REDIS_URL: settings.redisUrl,
    LOG_LEVEL: 'error',
    CACHE_METRICS: String(spec.metrics),
    CACHE_TRACING: String(spec.cacheTracing),
  };
  if (spec.otlp) {
    if (!settings.otlpEndpoint) throw new Error(`${variant}: needs an OTLP endpoint`);
    env.OTEL_EXPORTER_OTLP_ENDPOINT = settings.otlpEndpoint;
    env.OTEL_BSP_SCHEDULE_DELAY = String(BSP_SCHEDULE_DELAY_MS);
  }
  return env;
}
