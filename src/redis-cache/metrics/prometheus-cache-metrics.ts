import { Counter, Histogram } from 'prom-client';
import type { Metric, Registry } from 'prom-client';
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
const KINDS: readonly CacheFailureKind[] = ['timeout', 'connection', 'other'];

type Child = { inc(): void };
type TimerChild = { observe(value: number): void };

/**
 * `{prefix}operations_total{operation,result}`, `{prefix}operation_duration_seconds{operation}` and
 * `{prefix}errors_total{operation,kind}` in a registry. Every label combination is exported from
 * the start at zero (so dashboards see zeros, not gaps), and bound once.
 */
export class PrometheusCacheMetrics implements CacheObserver {
  // Nested records, not string keys: no string is built per operation.
  private readonly counts = {} as Record<
    ObservedOperation,
    Partial<Record<OperationResult, Child>>
  >;
  private readonly durations = {} as Record<ObservedOperation, TimerChild>;
  private readonly errors = {} as Record<CacheOperation, Partial<Record<CacheFailureKind, Child>>>;

  constructor(registry: Registry, prefix: string) {
    const operations = registered(
      registry,
      `${prefix}operations_total`,
      Counter,
      (name) =>
        new Counter({
          name,
          help: 'Cache operations by operation and result (hit, miss, ok, error).',
          labelNames: ['operation', 'result'],
          registers: [registry],
        }),
    );
    const durations = registered(
      registry,
      `${prefix}operation_duration_seconds`,
      Histogram,
      (name) =>
        new Histogram({
          name,
          help: 'Time a cache operation took, including a fail-open timeout.',
          labelNames: ['operation'],
          buckets: OPERATION_BUCKETS_SECONDS,
          registers: [registry],
        }),
    );
    const errors = registered(
      registry,
      `${prefix}errors_total`,
      Counter,
      (name) =>
        new Counter({
          name,
          help: 'Cache backend failures by operation and kind (timeout, connection, other).',
          labelNames: ['operation', 'kind'],
          registers: [registry],
        }),
    );
    for (const operation of OPERATIONS) {
      // Exported from the start at zero: a rate over a series that does not exist yet shows nothing.
      durations.zero({ operation });
      this.durations[operation] = durations.labels(operation);
      this.counts[operation] = {};
      for (const result of RESULTS[operation]) {
        const count = operations.labels(operation, result);
        count.inc(0);
        this.counts[operation][result] = count;
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
    this.counts[operation][result]?.inc();
    this.durations[operation].observe(seconds);
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
  if (existing instanceof type) return existing;
  throw new Error(
    `The registry already has a metric named ${name} of another type; choose another metrics prefix.`,
  );
}
