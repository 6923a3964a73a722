// The variants of the observability benchmark: one renderer process (`node main.js` of a fresh
// build of src/) each, differing only in the environment they start with.

/** The route measured: the banner app's cached PNG (`X-Cache: HIT` after the first request). */
export const MEASURED_PATH = '/apps/banner/devices/bench-device/render?text=hi';

/** The target from the brief: metrics on, tracing off, at most 10 % below `off`. */
export const METRICS_TARGET_RATIO = 0.9;

/** How often the SDK's batch span processor exports (OTEL_BSP_SCHEDULE_DELAY, ms). */
export const BSP_SCHEDULE_DELAY_MS = 1000;

interface VariantSpec {
  /** CACHE_METRICS: the module's Prometheus metrics, request latency included. */
  metrics: boolean;
  /** CACHE_TRACING: the module's own CLIENT span per cache operation. */
  cacheTracing: boolean;
  /** OTEL_EXPORTER_OTLP_ENDPOINT set (to this benchmark's sink): the OpenTelemetry SDK starts. */
  otlp: boolean;
  description: string;
}

export const VARIANTS = {
  off: {
    metrics: false,
    cacheTracing: false,
    otlp: false,
    description:
      '`CACHE_METRICS=false`, `CACHE_TRACING=false`, no OTLP endpoint: no Prometheus metrics, no OpenTelemetry SDK (the baseline).',
  },
  metrics: {
    metrics: true,
    cacheTracing: false,
    otlp: false,
    description:
      "`CACHE_METRICS=true` (the default), `CACHE_TRACING=false`, no OTLP endpoint: the module's Prometheus metrics (`request_duration_seconds{route,cache}` per request that uses the cache, recorded by the module's response hook (a Fastify `onResponse` hook) since the request-isolation rebuild, by a route binding before it (since commit 471d41e) and by a global `CacheMetricsInterceptor` before that; the cache operation counters and histogram; the key-count refresher, every 30 s by default; prom-client's default metrics); tracing off.",
  },
  'metrics+tracing': {
    metrics: true,
    cacheTracing: true,
    otlp: true,
    description: `\`CACHE_METRICS=true\`, \`CACHE_TRACING=true\`, \`OTEL_EXPORTER_OTLP_ENDPOINT\` set to the benchmark's loopback OTLP/HTTP sink, \`OTEL_BSP_SCHEDULE_DELAY=${BSP_SCHEDULE_DELAY_MS}\`: everything on (the SDK with the HTTP, Nest and ioredis instrumentations, the module's cache spans, OTLP/HTTP JSON export).`,
  },
  'tracing-sdk-only': {
    metrics: false,
    cacheTracing: true,
    otlp: true,
    description: `\`CACHE_METRICS=false\`, \`CACHE_TRACING=true\`, OTLP endpoint set as above, \`OTEL_BSP_SCHEDULE_DELAY=${BSP_SCHEDULE_DELAY_MS}\`: tracing alone, without the Prometheus metrics.`,
  },
} satisfies Record<string, VariantSpec>;

export type ObservabilityVariant = keyof typeof VARIANTS;
export const OBSERVABILITY_VARIANTS = Object.keys(VARIANTS) as ObservabilityVariant[];
export const BASELINE_VARIANT: ObservabilityVariant = 'off';

/** The environment a variant's process starts with (startRenderer adds HOST and PORT). */
export function variantEnv(
  variant: ObservabilityVariant,
  redisUrl: string,
  otlpEndpoint: string | undefined,
): Record<string, string> {
  const spec: VariantSpec = VARIANTS[variant];
  if (spec.otlp && !otlpEndpoint) throw new Error(`${variant}: needs an OTLP endpoint`);
  return {
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'error',
    CACHE_METRICS: String(spec.metrics),
    CACHE_TRACING: String(spec.cacheTracing),
    ...(spec.otlp && {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint!,
      OTEL_BSP_SCHEDULE_DELAY: String(BSP_SCHEDULE_DELAY_MS),
    }),
  };
}
