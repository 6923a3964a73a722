import type { CacheFailureHandler } from './cache-failure.handler';
import type { CacheLimits } from './cache-limits';
import type { TtlPolicy } from './cache-ttl';
import { CACHE_MISS, ContextualCache } from './contextual-cache';
import type { CacheLoader } from './contextual-cache';
import { InvalidCacheValueError } from './errors/redis-cache.errors';
import { assertValidContextId, normalizeKey } from './keys/cache-key';
import { namespacePrefix } from './keys/cache-namespace';
import type { CacheLookup, NamespaceOperationOptions } from './redis-cache.interfaces';
import type { CacheObserver, ObservedOperation } from './metrics/cache-observer';
import { classifyStoreError } from './stores/store-errors';
import type { StampedeGuard } from './stampede/stampede-guard';
import type { CacheTracer } from './tracing/cache-tracer';
import type { CacheStore, KeysSoFar } from './stores/cache-store.interface';

/** What every scoped cache of one `RedisCache` shares. */
export interface CacheRuntime {
  readonly store: CacheStore;
  readonly ttl: TtlPolicy;
  readonly limits: CacheLimits;
  readonly failures: CacheFailureHandler;
  readonly stampede: StampedeGuard;
  readonly observer: CacheObserver;
  readonly tracer: CacheTracer;
}

/** What a request's reads found, for the request metrics. */
export type ReadOutcome = 'none' | 'hit' | 'miss';

/** A cache that tells what its reads found. */
export interface ReadOutcomeSource {
  readonly readOutcome: ReadOutcome;
}

/** The span attribute of a get's result. */
const describeLookup = (value: Buffer | null) => ({ 'cache.hit': value !== null });

/** Seconds since `started` (a `performance.now()` reading). */
const secondsSince = (started: number) => (performance.now() - started) / 1000;

/** The caller's progress callback, kept from breaking the operation it watches. */
function progressOf(options: NamespaceOperationOptions | undefined): KeysSoFar | undefined {
  const onProgress = options?.onProgress;
  if (!onProgress) return undefined;
  return (keys) => {
    try {
      onProgress(keys);
    } catch {
      // Documented: a progress listener's error is ignored.
    }
  };
}

/** `ContextualCache` bound to one app and device; cheap to create (a string and two references). */
export class ScopedCache extends ContextualCache implements ReadOutcomeSource {
  private readonly prefix: string;
  private reads: ReadOutcome = 'none';

  constructor(
    private readonly runtime: CacheRuntime,
    readonly appId: string,
    readonly deviceId: string,
  ) {
    super();
    assertValidContextId('appId', appId);
    assertValidContextId('deviceId', deviceId);
    this.prefix = namespacePrefix(appId, deviceId);
  }

  /** What this cache's reads found: `miss` once any read missed (or failed), `none` before any. */
  get readOutcome(): ReadOutcome {
    return this.reads;
  }

  keyFor(key: string): string {
    const normalized = normalizeKey(key);
    this.runtime.limits.assertKeySize(normalized);
    return this.prefix + normalized;
  }

  get(key: string): Promise<CacheLookup> {
    let redisKey: string;
    try {
      redisKey = this.keyFor(key);
    } catch (error) {
      // A rejection, not a throw, as from any async method; no async frame on the hot path.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.lookup(key, redisKey);
  }

  /** `get` of a key already validated and mapped (getOrSet maps it once for both steps). */
  private async lookup(key: string, redisKey: string): Promise<CacheLookup> {
    const started = performance.now();
    try {
      const value = await this.runtime.tracer.trace(
        'get',
        this,
        key,
        () => this.runtime.store.get(redisKey),
        describeLookup,
      );
      const result = value === null ? 'miss' : 'hit';
      this.runtime.observer.operation('get', result, secondsSince(started));
      if (this.reads !== 'miss') this.reads = result;
      return value === null ? CACHE_MISS : { found: true, value };
    } catch (error) {
      this.observeFailure('get', error, started);
      this.reads = 'miss';
      return this.runtime.failures.recover('get', error, CACHE_MISS);
    }
  }

  async set(key: string, value: string | Buffer, ttlSeconds?: number): Promise<void> {
    const redisKey = this.keyFor(key);
    const ttl = this.runtime.ttl.resolve(ttlSeconds);
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
      throw new InvalidCacheValueError(
        `set(${JSON.stringify(key)}): the value must be a string or a Buffer, got ${value === null ? 'null' : typeof value}.`,
      );
    }
    this.runtime.limits.assertValueSize(key, value);
    const started = performance.now();
    try {
      await this.runtime.tracer.trace('set', this, key, () =>
        this.runtime.store.set(redisKey, value, ttl),
      );
      this.runtime.observer.operation('set', 'ok', secondsSince(started));
    } catch (error) {
      this.observeFailure('set', error, started);
      this.runtime.failures.recover('set', error, undefined);
    }
  }

  async delete(key: string): Promise<boolean> {
    const redisKey = this.keyFor(key);
    const started = performance.now();
    try {
      const deleted = await this.runtime.tracer.trace('delete', this, key, () =>
        this.runtime.store.delete(redisKey),
      );
      this.runtime.observer.operation('delete', 'ok', secondsSince(started));
      return deleted;
    } catch (error) {
      this.observeFailure('delete', error, started);
      return this.runtime.failures.recover('delete', error, false);
    }
  }

  async getOrSet(key: string, loader: CacheLoader, ttlSeconds?: number): Promise<Buffer> {
    const redisKey = this.keyFor(key);
    const ttl = this.runtime.ttl.resolve(ttlSeconds);
    const { stampede } = this.runtime;
    // Asked beside the GET, not after it: no extra round trip on a hit.
    const dueEarly = stampede.settings.earlyRefresh
      ? stampede.dueForEarlyRefresh(redisKey)
      : undefined;
    const lookup = await this.lookup(key, redisKey);
    const load = () => this.loadAndStore(key, redisKey, loader, ttl);
    if (!lookup.found) return stampede.load(redisKey, load);
    if (dueEarly && (await dueEarly)) stampede.refreshInBackground(redisKey, load);
    return lookup.value;
  }

  private async loadAndStore(
    key: string,
    redisKey: string,
    loader: CacheLoader,
    ttlSeconds: number,
  ): Promise<Buffer> {
    const started = performance.now();
    const loaded = await loader();
    const recomputeMs = performance.now() - started;
    if (typeof loaded !== 'string' && !Buffer.isBuffer(loaded)) {
      throw new InvalidCacheValueError(
        `getOrSet(${JSON.stringify(key)}): the loader must resolve a string or a Buffer, got ${loaded === null ? 'null' : typeof loaded}; nothing was cached.`,
      );
    }
    await this.set(key, loaded, ttlSeconds);
    if (this.runtime.stampede.settings.earlyRefresh) {
      await this.runtime.stampede.recordRecomputeTime(redisKey, recomputeMs, ttlSeconds);
    }
    return typeof loaded === 'string' ? Buffer.from(loaded, 'utf8') : loaded;
  }

  flushApp(options?: NamespaceOperationOptions): Promise<number> {
    const namespace = { appId: this.appId, deviceId: this.deviceId };
    return this.bulk('flush_app', () =>
      this.runtime.store.deleteNamespace(namespace, progressOf(options)),
    );
  }

  flushDevice(options?: NamespaceOperationOptions): Promise<number> {
    const namespace = { deviceId: this.deviceId };
    return this.bulk('flush_device', () =>
      this.runtime.store.deleteNamespace(namespace, progressOf(options)),
    );
  }

  stats(options?: NamespaceOperationOptions): Promise<number> {
    const namespace = { appId: this.appId, deviceId: this.deviceId };
    return this.bulk('stats', () =>
      this.runtime.store.countNamespace(namespace, progressOf(options)),
    );
  }

  private observeFailure(operation: ObservedOperation, error: unknown, started: number): void {
    this.runtime.observer.operation(
      operation,
      'error',
      secondsSince(started),
      classifyStoreError(error),
    );
  }

  /** Flushes and counts: observed like the others, and always rejected on a backend failure. */
  private async bulk(
    operation: 'flush_app' | 'flush_device' | 'stats',
    run: () => Promise<number>,
  ): Promise<number> {
    const started = performance.now();
    try {
      const count = await this.runtime.tracer.trace(operation, this, undefined, run);
      this.runtime.observer.operation(operation, 'ok', secondsSince(started));
      return count;
    } catch (error) {
      this.observeFailure(operation, error, started);
      return this.runtime.failures.reject(operation, error);
    }
  }
}
