import { InvalidTtlError } from './errors/redis-cache.errors';

/** Pixlet's TTL rules: omitted or 0 means the default; longer than the maximum is clamped. */
export class TtlPolicy {
  constructor(
    readonly defaultTtlSeconds: number,
    readonly maxTtlSeconds: number,
  ) {}

  /** The expiry to write, in whole seconds (always >= 1: nothing is stored forever). */
  resolve(ttlSeconds?: number): number {
    if (ttlSeconds === undefined || ttlSeconds === 0) return this.defaultTtlSeconds;
    if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 0) {
      throw new InvalidTtlError(ttlSeconds);
    }
    return Math.min(ttlSeconds, this.maxTtlSeconds);
  }
}
