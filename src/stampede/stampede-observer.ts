/** How a `getOrSet` under the Redis lock got its value. */
export type LockOutcome =
  /** Took the lock and loaded. */
  | 'acquired'
  /** Found it taken and got the holder's value. */
  | 'waited'
  /** Found it taken, waited `lockWaitMs`, then loaded without it. */
  | 'timed_out'
  /** Redis did not answer: loaded without the lock. */
  | 'unavailable';

/** Told what `getOrSet`'s stampede protection did (metrics). */
export interface StampedeObserver {
  /** The loader ran (once per flight), and how it ended. */
  load(result: 'ok' | 'error'): void;
  lock(outcome: LockOutcome): void;
  /** A hit started a background refresh (XFetch). */
  earlyRefresh(): void;
  /** A caller joined a load of the same key already running in this process. */
  joined(): void;
}

/** Observes nothing: metrics off. */
export const NO_STAMPEDE_OBSERVER: StampedeObserver = {
  load: () => undefined,
  lock: () => undefined,
  earlyRefresh: () => undefined,
  joined: () => undefined,
};
