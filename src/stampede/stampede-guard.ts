import type { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { ResolvedStampedeOptions } from '../redis-cache.options';
import type { CacheStore } from '../stores/cache-store.interface';
import { SingleFlight } from './single-flight';
import { NO_STAMPEDE_OBSERVER } from './stampede-observer';
import type { StampedeObserver } from './stampede-observer';
import { shouldRefreshEarly } from './xfetch';

/**
 * Keys of the lock and of the measured recompute time sit beside the value's key. Their prefixes
 * keep them out of the `/{app}/{device}/{key}` shape, so stats, flushes and key counts never see
 * them; both expire on their own.
 */
export const LOCK_KEY_PREFIX = 'lock:';
export const RECOMPUTE_TIME_KEY_PREFIX = 'recompute-ms:';

/** Polls for another instance's value start quick and slow down: most loads are short. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

type OtherLoad = { value: Buffer } | 'released' | 'timed_out' | 'unavailable';

/**
 * What `getOrSet` uses to keep many callers from loading one value: a single flight per key in
 * this process, optionally a Redis lock across processes, and XFetch's early refresh.
 * Redis trouble never fails a load: without an answer, the caller loads the value itself.
 */
export class StampedeGuard {
  private readonly flights = new SingleFlight<Buffer>();
  private readonly warnings: RateLimitedLogger;

  constructor(
    private readonly store: CacheStore,
    readonly settings: ResolvedStampedeOptions,
    logger: Logger,
    private readonly observer: StampedeObserver = NO_STAMPEDE_OBSERVER,
  ) {
    this.warnings = new RateLimitedLogger(logger);
  }

  /** Runs `load` once per key in this process at a time; with `lock`, once across processes. */
  load(redisKey: string, load: () => Promise<Buffer>): Promise<Buffer> {
    if (this.flights.has(redisKey)) this.observer.joined();
    const counted = () => this.counted(load);
    return this.flights.run(redisKey, () =>
      this.settings.lock ? this.loadUnderLock(redisKey, counted) : counted(),
    );
  }

  /** Starts a refresh the caller does not wait for; a failure keeps the cached value. */
  refreshInBackground(redisKey: string, load: () => Promise<Buffer>): void {
    this.observer.earlyRefresh();
    this.load(redisKey, load).catch((error: unknown) => {
      // The loader's own message may carry anything; its name says enough here.
      const name = error instanceof Error ? error.name : typeof error;
      this.warnings.warn(
        'early-refresh',
        `An early refresh of a cached value failed (${name}); the cached value is served until it expires.`,
      );
    });
  }

  /** Whether XFetch says to recompute this hit now; false when anything is unknown. */
  async dueForEarlyRefresh(redisKey: string): Promise<boolean> {
    try {
      const [remainingMs, recomputeMs] = await Promise.all([
        this.store.remainingTtlMs(redisKey),
        this.store.get(RECOMPUTE_TIME_KEY_PREFIX + redisKey),
      ]);
      if (recomputeMs === null) return false;
      return shouldRefreshEarly(
        Number(recomputeMs.toString('latin1')),
        remainingMs,
        this.settings.earlyRefreshBeta,
      );
    } catch {
      return false;
    }
  }

  /** Remembers how long the value took to compute, for as long as the value lives. */
  async recordRecomputeTime(redisKey: string, ms: number, ttlSeconds: number): Promise<void> {
    await this.store
      .set(RECOMPUTE_TIME_KEY_PREFIX + redisKey, String(Math.max(1, Math.ceil(ms))), ttlSeconds)
      .catch(() => undefined);
  }

  private async counted(load: () => Promise<Buffer>): Promise<Buffer> {
    try {
      const value = await load();
      this.observer.load('ok');
      return value;
    } catch (error) {
      this.observer.load('error');
      throw error;
    }
  }

  private async loadUnderLock(redisKey: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const lockKey = LOCK_KEY_PREFIX + redisKey;
    const token = randomUUID();
    const deadline = performance.now() + this.settings.lockWaitMs;
    for (;;) {
      const locked = await this.store
        .setIfAbsent(lockKey, token, this.settings.lockTtlMs)
        .catch(() => undefined);
      // No answer from Redis: load without the lock rather than fail or wait.
      if (locked === undefined) {
        this.observer.lock('unavailable');
        return load();
      }
      if (locked) break;
      const other = await this.waitForOtherLoad(redisKey, lockKey, deadline);
      if (other === 'timed_out' || other === 'unavailable') {
        this.observer.lock(other);
        return load();
      }
      if (other !== 'released') {
        this.observer.lock('waited');
        return other.value;
      }
      // The holder let go without storing a value (its loader failed): take the lock ourselves.
    }
    this.observer.lock('acquired');
    try {
      return await load();
    } finally {
      await this.store.deleteIfEquals(lockKey, token).catch(() => undefined);
    }
  }

  private async waitForOtherLoad(
    redisKey: string,
    lockKey: string,
    deadline: number,
  ): Promise<OtherLoad> {
    let pollMs = FIRST_POLL_MS;
    while (performance.now() + pollMs <= deadline) {
      await sleep(pollMs);
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      try {
        const value = await this.store.get(redisKey);
        if (value !== null) return { value };
        if (!(await this.store.exists(lockKey))) return 'released';
      } catch {
        return 'unavailable';
      }
    }
    return 'timed_out';
  }
}
