/**
 * One call of `work` per key at a time in this process: callers that arrive while it runs get the
 * same promise (and the same result or error).
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    let started: Promise<T>;
    try {
      started = work();
    } catch (error) {
      // Thrown before it started: nothing is in flight for later callers to join.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const flight = started.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, flight);
    return flight;
  }

  /** Whether a call for `key` is running now: a `run` would join it. */
  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Keys being worked on now (for tests and diagnostics). */
  get size(): number {
    return this.inFlight.size;
  }
}
