import { CacheValueTooLargeError, InvalidCacheKeyError } from './errors/redis-cache.errors';

// A UTF-16 code unit is at most 3 UTF-8 bytes: strings this short need no byte count.
const MAX_UTF8_BYTES_PER_UNIT = 3;

/** Size limits on keys and values, checked before anything is sent. */
export class CacheLimits {
  constructor(
    readonly maxKeyBytes: number,
    readonly maxValueBytes: number,
  ) {}

  /** Throws `InvalidCacheKeyError` when the key (without the ids) is too long. */
  assertKeySize(key: string): void {
    if (key.length * MAX_UTF8_BYTES_PER_UNIT <= this.maxKeyBytes) return;
    const bytes = Buffer.byteLength(key, 'utf8');
    if (bytes > this.maxKeyBytes) {
      throw new InvalidCacheKeyError(
        `it is ${bytes} bytes long, over the ${this.maxKeyBytes}-byte limit (maxKeyBytes)`,
      );
    }
  }

  /** Throws `CacheValueTooLargeError` when the value is over `maxValueBytes`. */
  assertValueSize(key: string, value: string | Buffer): void {
    if (value.length * MAX_UTF8_BYTES_PER_UNIT <= this.maxValueBytes) return;
    const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    if (bytes > this.maxValueBytes) {
      throw new CacheValueTooLargeError(key, bytes, this.maxValueBytes);
    }
  }
}
