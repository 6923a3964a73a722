import type { CacheFailureKind } from '../errors/redis-cache.errors';
import type { CacheOperation } from '../redis-cache.interfaces';

/** The operations that metrics count (not `ping`: health checks would drown the figures). */
export type ObservedOperation = Exclude<CacheOperation, 'ping'>;

/** How an operation ended: a get hits or misses, the others are ok; any of them may fail. */
export type OperationResult = 'hit' | 'miss' | 'ok' | 'error';

/** Told about every cache operation as it ends (metrics, and later traces). */
export interface CacheObserver {
  operation(operation: ObservedOperation, result: OperationResult, seconds: number): void;
  failure(operation: CacheOperation, kind: CacheFailureKind): void;
}

/** Observes nothing: the cache when metrics are off. */
export const NO_OBSERVER: CacheObserver = {
  operation: () => undefined,
  failure: () => undefined,
};
