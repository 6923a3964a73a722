import type { CacheFailureKind } from '../errors/redis-cache.errors';
import type { CacheOperation } from '../redis-cache.interfaces';

/** The operations that metrics count (not `ping`: health checks would drown the figures). */
export type ObservedOperation = Exclude<CacheOperation, 'ping' | 'job_status'>;

/** How an operation ended: a get hits or misses, the others are ok; any of them may fail. */
export type OperationResult = 'hit' | 'miss' | 'ok' | 'error';

/** Told about every cache operation as it ends (metrics, and later traces). */
export interface CacheObserver {
  /** `kind`: why it failed, with the result `error`. */
  operation(
    operation: ObservedOperation,
    result: OperationResult,
    seconds: number,
    kind?: CacheFailureKind,
  ): void;
  failure(operation: CacheOperation, kind: CacheFailureKind): void;
}

/** Observes nothing: the cache when metrics are off. */
export const NO_OBSERVER: CacheObserver = {
  operation: () => undefined,
  failure: () => undefined,
};

/** Tells each of `observers` (one of them: that one itself). */
export function observeWith(observers: readonly CacheObserver[]): CacheObserver {
  if (observers.length === 0) return NO_OBSERVER;
  if (observers.length === 1) return observers[0];
  return {
    operation: (...args) => observers.forEach((observer) => observer.operation(...args)),
    failure: (...args) => observers.forEach((observer) => observer.failure(...args)),
  };
}
