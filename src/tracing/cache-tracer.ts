import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import type { ObservedOperation } from '../metrics/cache-observer';
import type { CacheStoreKind } from '../redis-cache.interfaces';
import { classifyStoreError } from '../stores/store-errors';

export interface CacheTracingSettings {
  /** Make spans at all. */
  readonly enabled: boolean;
  /** Put the device id on spans (`cache.device_id`); it may identify a person's device. */
  readonly recordDeviceId: boolean;
  /** Put the cache key on spans (`cache.key`); keys may carry user input. */
  readonly recordKey: boolean;
}

/** What a span may say of the operation's scope (a `ScopedCache`). */
export interface TracedScope {
  readonly appId: string;
  readonly deviceId: string;
}

const SPAN_NAMES: Record<ObservedOperation, string> = {
  get: 'cache.get',
  set: 'cache.set',
  delete: 'cache.delete',
  flush_app: 'cache.flush_app',
  flush_device: 'cache.flush_device',
  stats: 'cache.stats',
};

// INTERNAL, without db.* attributes: the database CLIENT span is the Redis client's own (the
// ioredis instrumentation's), one per command. A second CLIENT span with db.* attributes around it
// would count every cache read twice in tools that derive database metrics from spans.
const INTERNAL_SPAN = { kind: SpanKind.INTERNAL } as const;

const tracer = trace.getTracer('nestjs-redis-app-cache');

/**
 * An INTERNAL span per cache operation (`cache.get`, `cache.set`, ...), child of the active span
 * (the request's), parent of the Redis client's own CLIENT spans. Never the value; the device id and the key
 * only when the settings allow. Without an OpenTelemetry SDK the API hands out non-recording spans
 * and the operation runs as it would without tracing.
 */
export class CacheTracer {
  private readonly base: Attributes;

  constructor(
    private readonly settings: CacheTracingSettings,
    store: CacheStoreKind,
  ) {
    this.base = { 'cache.store': store };
  }

  /**
   * Runs `run` inside the operation's span (`key` is the caller's key, for keyed operations);
   * `describe` adds attributes from its result. Attributes are built only for a span that records:
   * this runs on every cache operation, SDK or not.
   */
  trace<T>(
    operation: ObservedOperation,
    scope: TracedScope,
    key: string | undefined,
    run: () => Promise<T>,
    describe?: (result: T) => Attributes,
  ): Promise<T> {
    if (!this.settings.enabled) return run();
    const span = tracer.startSpan(SPAN_NAMES[operation], INTERNAL_SPAN);
    if (!span.isRecording()) {
      span.end();
      return run();
    }
    span.setAttributes(this.attributes(operation, scope, key));
    return context.with(trace.setSpan(context.active(), span), () => traced(span, run, describe));
  }

  private attributes(
    operation: ObservedOperation,
    scope: TracedScope,
    key: string | undefined,
  ): Attributes {
    const attributes: Attributes = {
      ...this.base,
      'cache.operation': operation,
      'cache.app_id': scope.appId,
    };
    if (this.settings.recordDeviceId) attributes['cache.device_id'] = scope.deviceId;
    if (this.settings.recordKey && key !== undefined) attributes['cache.key'] = key;
    return attributes;
  }
}

async function traced<T>(
  span: Span,
  run: () => Promise<T>,
  describe?: (result: T) => Attributes,
): Promise<T> {
  try {
    const result = await run();
    if (describe) span.setAttributes(describe(result));
    return result;
  } catch (error) {
    // The kind and the error's own message: never a value (store errors carry none).
    span.setAttribute('error.type', classifyStoreError(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

/** Tracing off: the operation runs as it is. */
export const NO_TRACING = new CacheTracer(
  { enabled: false, recordDeviceId: false, recordKey: false },
  'memory',
);
