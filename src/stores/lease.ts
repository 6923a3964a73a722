import type { CacheStore } from './cache-store.interface';

/**
 * Keeps a lease `owner` holds (`CacheStore.holdLease`) while long work runs, renewing it every
 * third of its time; returns what stops the renewals. A failed renewal is left to the next one.
 */
export function keepLease(
  store: Pick<CacheStore, 'holdLease'>,
  key: string,
  owner: string,
  ttlMs: number,
): () => void {
  const timer = setInterval(() => {
    store.holdLease(key, owner, ttlMs).catch(() => undefined);
  }, ttlMs / 3);
  timer.unref();
  return () => clearInterval(timer);
}
