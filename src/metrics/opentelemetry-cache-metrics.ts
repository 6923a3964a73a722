import { createNoopMeter } from '@opentelemetry/api';
import type { Attributes, Histogram, MeterProvider } from '@opentelemetry/api';
import type { CacheFailureKind } from '../errors/redis-cache.errors';
import { isClusterClient } from '../stores/redis-client.factory';
import type { RedisClient } from '../stores/redis-client.factory';
import type { CacheObserver, ObservedOperation, OperationResult } from './cache-observer';

/**
 * The conventions' advice for `db.client.operation.duration` (1 ms to 10 s), with finer buckets
 * below 1 ms, where cache reads on a nearby Redis land.
 */
export const OPERATION_DURATION_BOUNDARIES = [
  0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
];

const METER_NAME = 'nestjs-redis-app-cache';

/**
 * Records every cache operation in the OpenTelemetry semantic conventions' database client
 * histogram `db.client.operation.duration` (seconds): `db.system.name` (`redis`, or `memory` for the
 * embedded store), `db.operation.name` (the cache operation: get, set, delete, flush_app,
 * flush_device, stats), `db.namespace` (the database index) and, for one Redis server,
 * `server.address` and `server.port`; `cache.hit` on reads, `error.type` (timeout, overload,
 * connection, other) on failures. No key, device id or value.
 */
export class OpenTelemetryCacheMetrics implements CacheObserver {
  private readonly duration: Histogram;
  /** By operation, then by result (or failure kind), built once: nothing allocated per operation. */
  private readonly attributes: Partial<Record<string, Record<string, Attributes>>> = {};

  constructor(
    provider: MeterProvider,
    private readonly database: Attributes,
  ) {
    this.duration = provider.getMeter(METER_NAME).createHistogram('db.client.operation.duration', {
      description: 'Duration of database client operations (here: cache operations).',
      unit: 's',
      advice: { explicitBucketBoundaries: OPERATION_DURATION_BOUNDARIES },
    });
  }

  /** Whether `provider` is the API's no-op one: nothing would be recorded. */
  static recordsNothing(provider: MeterProvider): boolean {
    const meter = provider.getMeter(METER_NAME);
    return Object.getPrototypeOf(meter) === Object.getPrototypeOf(createNoopMeter());
  }

  operation(
    operation: ObservedOperation,
    result: OperationResult,
    seconds: number,
    kind?: CacheFailureKind,
  ): void {
    this.duration.record(seconds, this.attributesOf(operation, result, kind));
  }

  /** Failures are on the operation's measurement (`error.type`). */
  failure(): void {}

  private attributesOf(
    operation: ObservedOperation,
    result: OperationResult,
    kind: CacheFailureKind | undefined,
  ): Attributes {
    const byResult = (this.attributes[operation] ??= {});
    let attributes = byResult[kind ?? result];
    if (!attributes) {
      attributes = { ...this.database, 'db.operation.name': operation };
      if (result === 'hit' || result === 'miss') attributes['cache.hit'] = result === 'hit';
      if (result === 'error') attributes['error.type'] = kind ?? 'other';
      byResult[kind ?? result] = attributes;
    }
    return attributes;
  }
}

/** What every measurement says of the store: one server's address; a cluster or Sentinel has none. */
export function databaseAttributes(client: RedisClient | null): Attributes {
  if (!client) return { 'db.system.name': 'memory' };
  if (isClusterClient(client)) return { 'db.system.name': 'redis', 'db.namespace': '0' };
  const { host, port, path, db, sentinels } = client.options;
  const attributes: Attributes = { 'db.system.name': 'redis', 'db.namespace': String(db ?? 0) };
  if (path) {
    attributes['server.address'] = path;
  } else if (!sentinels?.length) {
    attributes['server.address'] = host ?? 'localhost';
    attributes['server.port'] = port ?? 6379;
  }
  return attributes;
}
