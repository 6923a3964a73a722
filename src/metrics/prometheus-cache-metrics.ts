import { Counter } from 'prom-client';
import type { Metric, Registry } from 'prom-client';
import { BatchedCounter, BatchedHistogram, registeredBatched } from './batched-metrics';
import { isMetricOfType } from './metric-type';
import type { CacheFailureKind } from '../errors/redis-cache.errors';
import type { CacheOperation } from '../redis-cache.interfaces';
import type { CacheObserver, ObservedOperation, OperationResult } from './cache-observer';

/** From 0.1 ms (a Redis GET on loopback) to 1 s (a flush of many keys). */
export const OPERATION_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

const OPERATIONS: readonly ObservedOperation[] = [
  'get',
  'set',
  'delete',
  'flush_app',
  'flush_device',
  'stats',
];
const RESULTS: Record<ObservedOperation, readonly OperationResult[]> = {
  get: ['hit', 'miss', 'error'],
  set: ['ok', 'error'],
  delete: ['ok', 'error'],
  flush_app: ['ok', 'error'],
  flush_device: ['ok', 'error'],
  stats: ['ok', 'error'],
};
const KINDS: readonly CacheFailureKind[] = ['timeout', 'overload', 'connection', 'other'];

type Child = { inc(): void };

/**
 * `{prefix}operations_total{operation,result}`, `{prefix}operation_duration_seconds{operation}` and
 * `{prefix}errors_total{operation,kind}` in a registry. Every label combination is exported from
 * the start at zero (so dashboards see zeros, not gaps). The two that every operation updates are
 * batched metrics (plain arithmetic per operation, prom-client values at scrape time); failures are
 * rare and go to a prom-client counter.
 */
export class PrometheusCacheMetrics implements CacheObserver {
  private readonly operations: BatchedCounter<string>;
  private readonly durations: BatchedHistogram<string>;
  // Nested records, not string keys: no string is built per operation.
  private readonly countSlots = {} as Record<
    ObservedOperation,
    Partial<Record<OperationResult, number>>
  >;
  private readonly durationSlots = {} as Record<ObservedOperation, number>;
  private readonly errors = {} as Record<CacheOperation, Partial<Record<CacheFailureKind, Child>>>;

  constructor(registry: Registry, prefix: string) {
    this.operations = registeredBatched(
      registry,
      `${prefix}operations_total`,
      BatchedCounter,
      () =>
        new BatchedCounter(
          `${prefix}operations_total`,
          'Cache operations by operation and result (hit, miss, ok, error).',
          OPERATIONS.flatMap((operation) =>
            RESULTS[operation].map((result) => ({ operation, result })),
          ),
        ),
    );
    this.durations = registeredBatched(
      registry,
      `${prefix}operation_duration_seconds`,
      BatchedHistogram,
      () =>
        new BatchedHistogram(
          `${prefix}operation_duration_seconds`,
          'Time a cache operation took, including a fail-open timeout.',
          OPERATIONS.map((operation) => ({ operation })),
          OPERATION_BUCKETS_SECONDS,
        ),
    );
    const errors = registered(
      registry,
      `${prefix}errors_total`,
      Counter,
      (name) =>
        new Counter({
          name,
          help: 'Cache backend failures by operation and kind (timeout, overload: this process too busy to hear Redis in time, connection, other).',
          labelNames: ['operation', 'kind'],
          registers: [registry],
        }),
    );
    for (const operation of OPERATIONS) {
      this.durationSlots[operation] = this.durations.slotOf({ operation });
      this.countSlots[operation] = {};
      for (const result of RESULTS[operation]) {
        this.countSlots[operation][result] = this.operations.slotOf({ operation, result });
      }
      this.errors[operation] = {};
      for (const kind of KINDS) {
        const failures = errors.labels(operation, kind);
        failures.inc(0);
        this.errors[operation][kind] = failures;
      }
    }
  }

  operation(operation: ObservedOperation, result: OperationResult, seconds: number): void {
    const slot = this.countSlots[operation][result];
    if (slot !== undefined) this.operations.inc(slot);
    this.durations.observe(this.durationSlots[operation], seconds);
  }

  failure(operation: CacheOperation, kind: CacheFailureKind): void {
    this.errors[operation]?.[kind]?.inc();
  }
}

/**
 * The metric of that name in the registry, created on first use: registering the module twice (in
 * tests, or two apps in one process) shares it instead of throwing "already registered".
 */
export function registered<T extends Metric>(
  registry: Registry,
  name: string,
  type: abstract new (...args: never[]) => T,
  create: (name: string) => T,
): T {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create(name);
  if (isMetricOfType(existing, type)) return existing;
  throw new Error(
    `The registry already has a metric named ${name} of another type; choose another metrics prefix.`,
  );
}
