import type { Logger } from '@nestjs/common';
import { CacheUnavailableError } from './errors/redis-cache.errors';
import type { CacheFailureKind } from './errors/redis-cache.errors';
import { RateLimitedLogger } from './logging/rate-limited-logger';
import { NO_OBSERVER } from './metrics/cache-observer';
import type { CacheObserver } from './metrics/cache-observer';
import type { CacheOperation } from './redis-cache.interfaces';
import { classifyStoreError, withoutCommandArguments } from './stores/store-errors';

export type CacheErrorCounts = Partial<
  Record<CacheOperation, Partial<Record<CacheFailureKind, number>>>
>;

/**
 * One place that decides what a backend failure becomes: logged (rate-limited, never a value or a
 * key) and counted, then either a fallback result (failing open) or a `CacheUnavailableError`.
 */
export class CacheFailureHandler {
  private readonly counts: CacheErrorCounts = {};
  private readonly warnings: RateLimitedLogger;

  constructor(
    readonly failOpen: boolean,
    logger: Logger,
    private readonly observer: CacheObserver = NO_OBSERVER,
  ) {
    this.warnings = new RateLimitedLogger(logger);
  }

  /** For get, set and delete: the fallback when failing open, else throws. */
  recover<T>(operation: CacheOperation, error: unknown, fallback: T): T {
    const failure = this.record(operation, error);
    if (this.failOpen) return fallback;
    throw failure;
  }

  /** For flush, stats and ping: always throws, so a failed flush is never reported as done. */
  reject(operation: CacheOperation, error: unknown): never {
    throw this.record(operation, error);
  }

  /** Failures so far by operation and kind. */
  errorCounts(): CacheErrorCounts {
    return structuredClone(this.counts);
  }

  private record(operation: CacheOperation, error: unknown): CacheUnavailableError {
    const kind = classifyStoreError(error);
    const byKind = (this.counts[operation] ??= {});
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    this.observer.failure(operation, kind);
    const detail = error instanceof Error ? error.message : String(error);
    const outcome = this.failOpen && isFailOpen(operation) ? 'failing open' : 'rejected';
    this.warnings.warn(
      `${operation}:${kind}`,
      `Cache ${operation} ${outcome} (${kind}): ${detail}`,
    );
    return new CacheUnavailableError(operation, kind, detail, {
      cause: withoutCommandArguments(error),
    });
  }
}

function isFailOpen(operation: CacheOperation): boolean {
  return operation === 'get' || operation === 'set' || operation === 'delete';
}
