import type { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { CacheFailureHandler } from '../cache-failure.handler';
import type { ContextualCache } from '../contextual-cache';
import { describeValue, RedisCacheError } from '../errors/redis-cache.errors';
import { RateLimitedLogger } from '../logging/rate-limited-logger';
import type { CacheStore } from '../stores/cache-store.interface';
import { classifyStoreError } from '../stores/store-errors';

/** The namespace operations a job runs: `ContextualCache`'s methods of those names. */
export const CACHE_JOB_OPERATIONS = ['stats', 'flushApp', 'flushDevice'] as const;
export type CacheJobOperation = (typeof CACHE_JOB_OPERATIONS)[number];

/**
 * `running`; `done` (then `keys` is the result); `failed` (`error` says why); `abandoned`: the
 * instance running it stopped (shut down, or has not reported for `abandonedAfterMs`, by the
 * store's clock), so the operation may have done part of its work.
 */
export type CacheJobState = 'running' | 'done' | 'failed' | 'abandoned';

/** Where a job stands, as any instance on the same Redis sees it. */
export interface CacheJobStatus {
  readonly id: string;
  readonly operation: CacheJobOperation;
  readonly state: CacheJobState;
  /** Keys counted (`stats`) or deleted (flushes) so far; the result once `done`. */
  readonly keys: number;
  /** ISO 8601 times. */
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Why it failed or was abandoned; never a key, a value or an id. */
  readonly error?: string;
}

export interface CacheJobRunOptions {
  /**
   * How long `run` waits for the operation before it answers with the running job (then follow it
   * with `status(id)`); 0 answers at once. @default 1000
   */
  waitMs?: number;
}

/**
 * How often a running job's record is rewritten, and when a silent one counts as abandoned (by
 * what is left of the record's TTL in the store, not by the instances' clocks).
 */
export interface CacheJobTiming {
  heartbeatMs: number;
  abandonedAfterMs: number;
  /** How long a finished job's record is kept. */
  keepSeconds: number;
}

export const CACHE_JOB_TIMING: CacheJobTiming = {
  heartbeatMs: 2000,
  abandonedAfterMs: 30_000,
  keepSeconds: 3600,
};

/** Outside the `/{app}/{device}/{key}` shape: no count or flush sees the records. */
export const CACHE_JOB_KEY_PREFIX = 'cache-jobs:';
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const statusSchema = z.object({
  id: z.string(),
  operation: z.enum(CACHE_JOB_OPERATIONS),
  state: z.enum(['running', 'done', 'failed', 'abandoned']),
  keys: z.number().int().min(0),
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  error: z.string().optional(),
});

/** The longest `waitMs` a timer can hold (about 24.8 days). */
const MAX_WAIT_MS = 2_147_483_647;

/**
 * Flushes and counts that answer in bounded time however large the namespace: `run` waits up to
 * `waitMs` for the operation and otherwise answers with a running job, which goes on in this
 * process. Every job's status is kept in the store (Redis: `cache-jobs:{id}`, for an hour after it
 * ends), so every instance behind a load balancer can report it. A second `run` of the same
 * operation on the same namespace while one runs in this process joins it.
 */
export class CacheJobs {
  /** This process's jobs, until their last status is stored. */
  private readonly jobs = new Map<string, RunningJob>();
  /** Running jobs by operation and namespace, for `run` to join. */
  private readonly byTarget = new Map<string, RunningJob>();
  private readonly closing = new AbortController();
  private readonly warnings: RateLimitedLogger;

  constructor(
    private readonly store: CacheStore,
    private readonly failures: CacheFailureHandler,
    logger: Logger,
    private readonly timing: CacheJobTiming = CACHE_JOB_TIMING,
  ) {
    this.warnings = new RateLimitedLogger(logger);
  }

  /**
   * Runs `cache.flushApp()`, `cache.flushDevice()` or `cache.stats()`. Resolves with the job
   * `done` when it ends within `waitMs`, else `running`; rejects as the operation does when it
   * fails within `waitMs` (a `CacheUnavailableError` on Redis trouble).
   */
  async run(
    cache: ContextualCache,
    operation: CacheJobOperation,
    { waitMs = 1000 }: CacheJobRunOptions = {},
  ): Promise<CacheJobStatus> {
    if (!CACHE_JOB_OPERATIONS.includes(operation)) {
      throw new TypeError(
        `CacheJobs.run: operation must be one of ${CACHE_JOB_OPERATIONS.join(', ')}, got ${describeValue(operation)}.`,
      );
    }
    if (typeof waitMs !== 'number' || !(waitMs >= 0 && waitMs <= MAX_WAIT_MS)) {
      throw new TypeError(
        `CacheJobs.run: waitMs must be a number of milliseconds from 0 to ${MAX_WAIT_MS}, got ${describeValue(waitMs)}.`,
      );
    }
    if (this.closing.signal.aborted) {
      throw new RedisCacheError('CacheJobs.run: the cache is closed (the app is shutting down).');
    }
    const pinned = cache.pin();
    const target =
      operation === 'flushDevice'
        ? `${operation} ${pinned.deviceId}`
        : `${operation} ${pinned.appId} ${pinned.deviceId}`;
    const job = this.byTarget.get(target) ?? this.start(pinned, operation, target);
    const waited = new AbortController();
    await Promise.race([
      job.ended,
      waitMs > 0 && sleep(waitMs, undefined, { signal: waited.signal }).catch(() => undefined),
    ]);
    waited.abort();
    if (job.state === 'failed') throw job.failure;
    return job.status();
  }

  /** A running job's record is stored for this long at each report. */
  private get runningTtlSeconds(): number {
    return this.timing.keepSeconds * 2;
  }

  /** A job's status, from this instance or any other on the same store; `undefined` when unknown. */
  async status(id: string): Promise<CacheJobStatus | undefined> {
    if (typeof id !== 'string' || !JOB_ID.test(id)) return undefined;
    const local = this.jobs.get(id);
    if (local) return local.status();
    try {
      const status = await this.stored(id);
      if (status?.state !== 'running') return status;
      // Each report stores the record for runningTtlSeconds again: what is left of that, by the
      // store's clock, says how long ago the last one was (no instance's clock is compared).
      const leftMs = await this.store.remainingTtlMs(CACHE_JOB_KEY_PREFIX + id);
      const silentMs = this.runningTtlSeconds * 1000 - leftMs;
      if (leftMs !== -2 && silentMs <= this.timing.abandonedAfterMs) return status;
      // Its end may have been stored between the two reads: read it again.
      const again = await this.stored(id);
      if (again?.state !== 'running') return again;
      return {
        ...again,
        state: 'abandoned',
        error: `The instance running it has not reported for ${Math.round(silentMs / 1000)} s.`,
      };
    } catch (error) {
      return this.failures.reject('job_status', error);
    }
  }

  private async stored(id: string): Promise<CacheJobStatus | undefined> {
    const stored = await this.store.get(CACHE_JOB_KEY_PREFIX + id);
    const parsed = stored && statusSchema.safeParse(parseJson(stored));
    return parsed && parsed.success ? parsed.data : undefined;
  }

  /**
   * Refuses new jobs, stops the heartbeats and records the jobs still running as abandoned (this
   * instance is shutting down); call before the store closes. An operation under way is not
   * interrupted: it stops when the store closes (or runs on, on a client passed in).
   */
  async close(): Promise<void> {
    this.closing.abort();
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    this.byTarget.clear();
    await Promise.all(
      jobs.map((job) => {
        clearInterval(job.heartbeat);
        job.finish('abandoned', job.keys, 'The instance running it shut down.');
        return this.record(job);
      }),
    );
  }

  /** Starts the operation, publishes the job and keeps its record current until it ends. */
  private start(cache: ContextualCache, operation: CacheJobOperation, target: string): RunningJob {
    const job = new RunningJob(randomUUID(), operation);
    job.ended = cache[operation]({ onProgress: (keys) => (job.keys = keys) }).then(
      (keys) => job.finish('done', keys),
      (error: unknown) => job.finish('failed', job.keys, messageOf(error), error),
    );
    this.jobs.set(job.id, job);
    this.byTarget.set(target, job);
    void this.record(job);
    job.heartbeat = setInterval(() => void this.record(job), this.timing.heartbeatMs);
    job.heartbeat.unref();
    void job.ended.then(async () => {
      clearInterval(job.heartbeat);
      if (this.byTarget.get(target) === job) this.byTarget.delete(target);
      if (this.closing.signal.aborted) return; // close() recorded it
      await this.recordEnd(job);
      this.jobs.delete(job.id);
    });
    return job;
  }

  /** A job often fails because Redis did: its end is stored once Redis answers again. */
  private async recordEnd(job: RunningJob): Promise<void> {
    for (let tries = this.timing.abandonedAfterMs / this.timing.heartbeatMs; tries > 0; tries--) {
      if (await this.record(job)) return;
      const retry = { ref: false, signal: this.closing.signal };
      if (!(await sleep(this.timing.heartbeatMs, true, retry).catch(() => false))) return;
    }
  }

  /** Stores the job's status after the writes before it; resolves whether it was stored. */
  private record(job: RunningJob): Promise<boolean> {
    const written = job.writes.then(() => this.write(job));
    job.writes = written;
    return written;
  }

  private async write(job: RunningJob): Promise<boolean> {
    const status = job.status();
    const key = CACHE_JOB_KEY_PREFIX + job.id;
    const ttl = status.state === 'running' ? this.runningTtlSeconds : this.timing.keepSeconds;
    try {
      await this.store.set(key, JSON.stringify(status), ttl);
      return true;
    } catch (error) {
      this.warnings.warn(
        'job-record',
        `Could not store the status of cache job ${job.id} (${status.operation}, ${status.state}); other instances may not see it (${classifyStoreError(error)}).`,
      );
      return false;
    }
  }
}

/** One job in this process; `status()` stamps the time it is asked. */
class RunningJob {
  keys = 0;
  state: CacheJobState = 'running';
  /** What the operation rejected with, when it failed. */
  failure: unknown;
  ended: Promise<void> = Promise.resolve();
  heartbeat: NodeJS.Timeout | undefined;
  /** The record's writes, one after the other. */
  writes: Promise<unknown> = Promise.resolve();
  private readonly startedAt = new Date().toISOString();
  private finishedAt: string | undefined;
  private error: string | undefined;

  constructor(
    readonly id: string,
    readonly operation: CacheJobOperation,
  ) {}

  finish(state: CacheJobState, keys: number, error?: string, failure?: unknown): void {
    if (this.state !== 'running') return;
    this.state = state;
    this.keys = keys;
    this.error = error;
    this.failure = failure;
    this.finishedAt = new Date().toISOString();
  }

  status(): CacheJobStatus {
    const { id, operation, state, keys, startedAt, finishedAt, error } = this;
    const updatedAt = finishedAt ?? new Date().toISOString();
    return {
      id,
      operation,
      state,
      keys,
      startedAt,
      updatedAt,
      ...(finishedAt && { finishedAt }),
      ...(error && { error }),
    };
  }
}

/** The module's own errors say nothing of keys or ids; anything else is not repeated. */
function messageOf(error: unknown): string {
  return error instanceof RedisCacheError ? error.message : 'The operation failed unexpectedly.';
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}
