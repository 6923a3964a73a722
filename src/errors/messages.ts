// The messages the cache shows at run time, and the shape of configuration errors; what each option
// expects is written beside its schema (options/option-schema.ts).
import type { CacheOperation } from '../redis-cache.interfaces';

export const invalidCacheContextMessage = (field: string, rule: string): string =>
  `Invalid ${field}: ${rule}. The ${field} must be a non-empty string of at most 256 bytes ` +
  `with no "/" and no control characters.`;

export const invalidCacheKeyMessage = (rule: string): string =>
  `Invalid cache key: ${rule}. A key must be a non-empty, well-formed string ` +
  `within the maxKeyBytes limit.`;

export const invalidTtlMessage = (ttl: unknown): string =>
  `Invalid TTL ${describe(ttl)}: ttlSeconds must be a whole number of seconds >= 0 ` +
  `(0 or omitted means the default TTL).`;

export const valueTooLargeMessage = (key: string, bytes: number, limit: number): string =>
  `set(${JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}...` : key)}): the value is ` +
  `${bytes} bytes, over the ${limit}-byte limit (maxValueBytes); nothing was written. ` +
  `Store less, or raise maxValueBytes (CACHE_MAX_VALUE_BYTES).`;

export const cacheUnavailableMessage = (
  operation: CacheOperation,
  kind: string,
  detail: string,
): string => `Cache ${operation} failed (${kind}): ${detail}`;

export const missingRouteParamMessage = (param: string, field: string): string =>
  `The route has no :${param} parameter, which ContextualCache needs for its ${field}. ` +
  `Add :${param} to the route path, or set the routeParams option of RedisCacheModule ` +
  `to the parameter names your routes use.`;

export const outsideRequestContextMessage = (): string =>
  'The injected ContextualCache was used outside an HTTP request (at start-up, in a job or a ' +
  'callback that no request started), or in an app where nothing injects it at start-up (it is ' +
  'looked up at run time). Outside requests use RedisCache.withContext(appId, deviceId); for ' +
  'run-time lookups set asyncLocalStorage: "always" in RedisCacheModule.forRoot().';

export const urlClashMessage = (group: string, url: string, other: string, what: string) =>
  `${group} ${url} and ${other} both set the ${what}, and the URL's would win: set it in one place only.`;

export const invalidOptionMessage = (option: string, expected: string, got: unknown): string =>
  `RedisCacheModule option "${option}": expected ${expected}, got ${describe(got)}.`;

export const invalidEnvMessage = (variable: string, expected: string, got: string): string =>
  `Environment variable ${variable}: expected ${expected}, got ${JSON.stringify(got)}.`;

export function describe(value: unknown): string {
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
