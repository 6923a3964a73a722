import type { CacheOperation } from '../redis-cache.interfaces';

// Each error writes its own message, saying what was wrong and how to fix it; no value that may be
// a secret is shown (`redactUrl`, `describeValue`).

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
    super(
      `Invalid ${field}: ${rule}. The ${field} must be a non-empty string of at most 256 bytes ` +
        `with no "/" and no control characters.`,
    );
  }
}

/** A cache key broke a rule (not a string, empty, not well-formed Unicode). */
export class InvalidCacheKeyError extends RedisCacheError {
  constructor(readonly rule: string) {
    super(
      `Invalid cache key: ${rule}. A key must be a non-empty, well-formed string ` +
        `within the maxKeyBytes limit.`,
    );
  }
}

/** A TTL was negative, fractional, NaN or infinite. */
export class InvalidTtlError extends RedisCacheError {
  constructor(readonly ttlSeconds: unknown) {
    super(
      `Invalid TTL ${describeValue(ttlSeconds)}: ttlSeconds must be a whole number of seconds ` +
        `>= 0 (0 or omitted means the default TTL).`,
    );
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
    const shown = JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}...` : key);
    super(
      `set(${shown}): the value is ${bytes} bytes, over the ${maxValueBytes}-byte limit ` +
        `(maxValueBytes); nothing was written. Store less, or raise maxValueBytes ` +
        `(CACHE_MAX_VALUE_BYTES).`,
    );
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
    super(`Cache ${operation} failed (${kind}): ${detail}`, options);
  }
}

/**
 * The injected `ContextualCache` was used where it has no scope: outside an HTTP request, or on a
 * route without the app or device param.
 */
export class MissingCacheContextError extends RedisCacheError {
  static outsideRequest(): MissingCacheContextError {
    return new MissingCacheContextError(
      'The injected ContextualCache was used outside an HTTP request (at start-up, in a job or a ' +
        'callback that no request started), or in an app where nothing injects it at start-up (it ' +
        'is looked up at run time). Outside requests use RedisCache.withContext(appId, deviceId); ' +
        'for run-time lookups set asyncLocalStorage: "always" in RedisCacheModule.forRoot().',
    );
  }

  static missingRouteParam(param: string, field: CacheContextField): MissingCacheContextError {
    return new MissingCacheContextError(
      `The route has no :${param} parameter, which ContextualCache needs for its ${field}. ` +
        `Add :${param} to the route path, or set the routeParams option of RedisCacheModule ` +
        `to the parameter names your routes use.`,
    );
  }
}

/** A module option or environment variable has a value the module cannot use. */
export class RedisCacheConfigError extends RedisCacheError {
  /** A module option (or a `forRoot` setting) with a bad value. */
  static invalidOption(option: string, expected: string, got: unknown): RedisCacheConfigError {
    return new RedisCacheConfigError(
      `RedisCacheModule option "${option}": expected ${expected}, got ${describeValue(got)}.`,
    );
  }

  /** An environment variable with a bad value (`got` already redacted). */
  static invalidVariable(variable: string, expected: string, got: string): RedisCacheConfigError {
    return new RedisCacheConfigError(
      `Environment variable ${variable}: expected ${expected}, got ${JSON.stringify(got)}.`,
    );
  }

  /** A URL beside a setting it also holds (`what`), where ioredis would let the URL's win. */
  static urlClash(group: string, url: string, other: string, what: string): RedisCacheConfigError {
    return new RedisCacheConfigError(
      `${group} ${url} and ${other} both set the ${what}, and the URL's would win: set it in one place only.`,
    );
  }
}

/** A value as an error shows it: primitives as they are, anything else by its type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  return typeof value;
}

/**
 * Hides credentials in anything that may be a URL (`scheme://user:password@host`, or a malformed
 * variant) so they never reach an error or a log: everything before the last `@` is replaced, and
 * so is the query (ioredis takes `?password=` as a credential too). Where the two overlap (a `?` in
 * a password, an `@` in a query) all but the scheme is hidden.
 */
export function redactUrl(text: string): string {
  const scheme = /^\s*[a-z][\w+.-]*:\/*/i.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const query = rest.search(/[?#]/);
  if (at !== -1 && query !== -1 && query < at) return `${scheme}***`;
  const withoutQuery = query === -1 ? rest : `${rest.slice(0, query + 1)}***`;
  return scheme + (at === -1 ? withoutQuery : `***${withoutQuery.slice(at)}`);
}
