import { appOfKey, namespaceMatcher } from '../keys/cache-namespace';
import type { CacheNamespace } from '../keys/cache-namespace';
import type { CacheStore } from './cache-store.interface';

interface Entry {
  readonly value: Buffer;
  readonly expiresAt: number;
}

/**
 * The embedded store: the Redis store's semantics (scoping, expiry, flush, stats) in one process.
 * For development and single-instance use; nothing is shared between processes.
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory' as const;
  readonly description = 'in-memory store (this process only)';
  readonly available = true;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    sweepIntervalMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {
    // Expired entries are dropped when read, and by this sweep so unread ones do not accumulate.
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  get(key: string): Promise<Buffer | null> {
    const entry = this.live(key);
    // A copy, as Redis would return: the caller may change its Buffer without changing the cache.
    return Promise.resolve(entry ? Buffer.from(entry.value) : null);
  }

  set(key: string, value: string | Buffer, ttlSeconds: number): Promise<void> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    this.entries.set(key, { value: bytes, expiresAt: this.now() + ttlSeconds * 1000 });
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    return Promise.resolve(this.live(key) !== undefined && this.entries.delete(key));
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return Promise.resolve(false);
    this.entries.set(key, { value: Buffer.from(value, 'utf8'), expiresAt: this.now() + ttlMs });
    return Promise.resolve(true);
  }

  deleteIfEquals(key: string, value: string): Promise<boolean> {
    const entry = this.live(key);
    const owned = entry !== undefined && entry.value.equals(Buffer.from(value, 'utf8'));
    return Promise.resolve(owned && this.entries.delete(key));
  }

  holdLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const holder = this.live(key);
    if (holder && !holder.value.equals(Buffer.from(owner, 'utf8'))) return Promise.resolve(false);
    this.entries.set(key, { value: Buffer.from(owner, 'utf8'), expiresAt: this.now() + ttlMs });
    return Promise.resolve(true);
  }

  exists(key: string): Promise<boolean> {
    return Promise.resolve(this.live(key) !== undefined);
  }

  remainingTtlMs(key: string): Promise<number> {
    const entry = this.live(key);
    return Promise.resolve(entry ? Math.max(0, Math.round(entry.expiresAt - this.now())) : -2);
  }

  deleteNamespace(namespace: CacheNamespace): Promise<number> {
    let deleted = 0;
    for (const key of this.keysOf(namespace)) {
      this.entries.delete(key);
      deleted++;
    }
    return Promise.resolve(deleted);
  }

  countNamespace(namespace: CacheNamespace): Promise<number> {
    return Promise.resolve(this.keysOf(namespace).length);
  }

  countKeysByApp(): Promise<Map<string, number>> {
    this.sweep();
    const counts = new Map<string, number>();
    for (const key of this.entries.keys()) {
      const app = appOfKey(key);
      if (app !== undefined) counts.set(app, (counts.get(app) ?? 0) + 1);
    }
    return Promise.resolve(counts);
  }

  /** Exact: counting this process's map costs no more than sampling it. */
  sampleKeysByApp(): Promise<Map<string, number>> {
    return this.countKeysByApp();
  }

  databaseSize(): Promise<number> {
    return Promise.resolve(this.size);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
    return Promise.resolve();
  }

  /** Live entries stored now (for tests and diagnostics). */
  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  private keysOf(namespace: CacheNamespace): string[] {
    const inNamespace = namespaceMatcher(namespace);
    const keys: string[] = [];
    for (const key of this.entries.keys()) {
      if (inNamespace(key) && this.live(key)) keys.push(key);
    }
    return keys;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
