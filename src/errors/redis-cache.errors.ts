import type { CacheOperation } from '../redis-cache.interfaces';
import {
  cacheUnavailableMessage,
  invalidCacheContextMessage,
  invalidCacheKeyMessage,
  invalidTtlMessage,
  valueTooLargeMessage,
} from './messages';

/** Base class of every error this module throws; `name` is the subclass name. */
export class RedisCacheError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Which part of the cache context was wrong. */
export type CacheContextField = 'appId' | 'deviceId';

/** An app or device id broke a rule (empty, too long, contains `/` or a control character). */
export class InvalidCacheContextError extends RedisCacheError {
  constructor(
    readonly field: CacheContextField,
    readonly rule: string,
  ) {
    super(invalidCacheContextMessage(field, rule));
  }
}

/** A cache key broke a rule (not a string, empty, not well-formed Unicode). */
export class InvalidCacheKeyError extends RedisCacheError {
  constructor(readonly rule: string) {
    super(invalidCacheKeyMessage(rule));
  }
}

/** A TTL was negative, fractional, NaN or infinite. */
export class InvalidTtlError extends RedisCacheError {
  constructor(readonly ttlSeconds: unknown) {
    super(invalidTtlMessage(ttlSeconds));
  }
}

/** A value could not be stored: not a string or Buffer, or not serializable as JSON. */
export class InvalidCacheValueError extends RedisCacheError {}

/** A value is larger than the `maxValueBytes` option allows; nothing was written. */
export class CacheValueTooLargeError extends InvalidCacheValueError {
  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly maxValueBytes: number,
  ) {
    super(valueTooLargeMessage(key, bytes, maxValueBytes));
  }
}

/**
 * Why the backend could not answer: `timeout` (Redis did not answer in time), `overload` (this
 * process was too busy to hear it in time), `connection`, `other`.
 */
export type CacheFailureKind = 'timeout' | 'overload' | 'connection' | 'other';

/**
 * The backend failed an operation. `get`/`set`/`delete` only reject with it when `failOpen` is
 * false; `flushApp`, `flushDevice`, `stats` and `ping` always do.
 */
export class CacheUnavailableError extends RedisCacheError {
  constructor(
    readonly operation: CacheOperation,
    readonly kind: CacheFailureKind,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(cacheUnavailableMessage(operation, kind, detail), options);
  }
}

/**
 * The injected `ContextualCache` was used where it has no scope: outside an HTTP request, or on a
 * route without the app or device param.
 */
export class MissingCacheContextError extends RedisCacheError {}

/** A module option or environment variable has a value the module cannot use. */
export class RedisCacheConfigError extends RedisCacheError {}
