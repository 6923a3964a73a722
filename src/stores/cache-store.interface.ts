import type { CacheNamespace } from '../keys/cache-namespace';
import type { CacheStoreKind } from '../redis-cache.interfaces';

/** Told the keys deleted or counted so far, after each step of a long operation. */
export type KeysSoFar = (keys: number) => void;

/**
 * Where cached bytes live. Keys reaching a store are full, validated keys (`/{app}/{device}/{key}`);
 * a store never sees a bad id. Failures reject (with `StoreUnavailableError`, `CommandTimeoutError`
 * or the client's own error); failing open is decided above the store.
 */
export interface CacheStore {
  readonly kind: CacheStoreKind;
  /** Where it stores, for logs (no credentials). */
  readonly description: string;
  /** Connected and answering, as far as the store knows now (no I/O: read on every scrape). */
  readonly available: boolean;
  get(key: string): Promise<Buffer | null>;
  set(key: string, value: string | Buffer, ttlSeconds: number): Promise<void>;
  /** Resolves whether a key was removed. */
  delete(key: string): Promise<boolean>;
  /** Stores `value` only if `key` is absent (Redis `SET NX PX`); resolves whether it did. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Removes `key` only while it still holds `value` (a lock released by its owner only). */
  deleteIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * Takes `key` for `owner` for `ttlMs` when it is free, or keeps it for `ttlMs` more when `owner`
   * already holds it (a lease among instances); resolves whether `owner` holds it now.
   */
  holdLease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Whether `key` exists. */
  exists(key: string): Promise<boolean>;
  /** Milliseconds until `key` expires: -2 when it is absent, -1 when it never expires. */
  remainingTtlMs(key: string): Promise<number>;
  /**
   * Removes every key of the namespace; resolves how many were removed. `onProgress` hears the
   * running total after each step.
   */
  deleteNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number>;
  /** Counts the keys of the namespace, each once; `onProgress` hears the running count. */
  countNamespace(namespace: CacheNamespace, onProgress?: KeysSoFar): Promise<number>;
  /**
   * Counts every cache key by app id (keys of another shape are not counted), in small steps so the
   * backend keeps serving; for the key-count metrics, never on a request path. On Redis a key may
   * be counted twice while the server resizes its table.
   */
  countKeysByApp(): Promise<Map<string, number>>;
  /**
   * Estimates the cache keys by app from about `samples` random keys (Redis `RANDOMKEY`, scaled by
   * each server's `DBSIZE`): constant work whatever the size of the database. The memory store
   * counts exactly.
   */
  sampleKeysByApp(samples: number): Promise<Map<string, number>>;
  /**
   * Where the store keeps a namespace index: checks a few random keys against it, and stops
   * trusting it when another writer writes keys without it (see `IndexedNamespaces.audit`).
   */
  auditIndex?(): Promise<void>;
  /** Every key of the database, cache or not (Redis `DBSIZE`). */
  databaseSize(): Promise<number>;
  /** Round trip to the backend; rejects when it cannot answer. */
  ping(): Promise<void>;
  /** Releases what the store owns (timers, a client it created). */
  close(): Promise<void>;
}
