import { InvalidCacheContextError, InvalidCacheKeyError } from '../errors/redis-cache.errors';
import type { CacheContextField } from '../errors/redis-cache.errors';

/** Longest app or device id, in UTF-8 bytes. */
export const MAX_CONTEXT_ID_BYTES = 256;

// C0 controls, DEL and C1 controls: invisible in logs and key listings, so never part of an id.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

// The common id in one test: 1-85 UTF-16 units (at most 255 UTF-8 bytes) with no "/", no control
// character and no surrogate (so well-formed). It runs for every request, so anything else takes
// the slower checks below, which name the rule broken.
// eslint-disable-next-line no-control-regex
const PLAINLY_VALID_ID = /^[^/\u0000-\u001f\u007f-\u009f\ud800-\udfff]{1,85}$/;

/** Throws `InvalidCacheContextError` naming the field and the rule it broke. */
export function assertValidContextId(field: CacheContextField, id: unknown): asserts id is string {
  if (typeof id === 'string' && PLAINLY_VALID_ID.test(id)) return;
  if (typeof id !== 'string')
    throw new InvalidCacheContextError(field, `expected a string, got ${typeof id}`);
  if (id.length === 0) throw new InvalidCacheContextError(field, 'it is empty');
  if (id.includes('/')) throw new InvalidCacheContextError(field, 'it contains "/"');
  if (CONTROL_CHARACTER.test(id)) {
    throw new InvalidCacheContextError(field, 'it contains a control character');
  }
  // A lone surrogate encodes to U+FFFD, so two different ids would share one namespace.
  if (!id.isWellFormed()) {
    throw new InvalidCacheContextError(field, 'it is not well-formed Unicode (lone surrogate)');
  }
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_CONTEXT_ID_BYTES) {
    throw new InvalidCacheContextError(
      field,
      `it is ${bytes} bytes long, over ${MAX_CONTEXT_ID_BYTES}`,
    );
  }
}

/**
 * The key part of a Redis key: `/` becomes `_`, as in the Go service, so every cache key has exactly
 * three slashes and a namespace is recognisable by its shape.
 */
export function normalizeKey(key: unknown): string {
  if (typeof key !== 'string')
    throw new InvalidCacheKeyError(`expected a string, got ${typeof key}`);
  // An empty key is almost always a bug (an unset variable), and "/app/device/" reads as a prefix.
  if (key.length === 0) throw new InvalidCacheKeyError('it is empty');
  if (!key.isWellFormed()) {
    throw new InvalidCacheKeyError('it is not well-formed Unicode (lone surrogate)');
  }
  return key.includes('/') ? key.replaceAll('/', '_') : key;
}
