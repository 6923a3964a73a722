// A closed loop, as the library and timeout workers run their variants: `concurrency` async loops,
// each issuing the next operation as the previous one settles. Each run is a slice of its own,
// counted (and, when `timed`, its operations' latency recorded) only within its window.
import { createHistogram } from 'node:perf_hooks';
import type { RecordableHistogram } from 'node:perf_hooks';
import { sleep } from './stats';

/** What a closed loop counted over some time: one slice, or several added up. */
export interface Tally {
  ops: number;
  unexpected: number;
  errors: number;
  cpuUs: number;
  seconds: number;
  /** Latency of each counted operation, in ns (timed loops only). */
  latency: RecordableHistogram;
}

export const emptyTally = (): Tally => ({
  ops: 0,
  unexpected: 0,
  errors: 0,
  cpuUs: 0,
  seconds: 0,
  latency: createHistogram(),
});

export function addTally(into: Tally, slice: Tally): void {
  into.ops += slice.ops;
  into.unexpected += slice.unexpected;
  into.errors += slice.errors;
  into.cpuUs += slice.cpuUs;
  into.seconds += slice.seconds;
  into.latency.add(slice.latency);
}

export class ClosedLoop {
  private counting = false;
  private active = false;

  constructor(
    private readonly operation: () => Promise<unknown>,
    private readonly isExpected: (result: unknown) => boolean,
    private readonly concurrency: number,
    // Reading the clock twice per operation costs CPU: only where latency is reported.
    private readonly timed: boolean,
  ) {}

  /** Runs for `ms`, counting what completes in that window. */
  async run(ms: number): Promise<Tally> {
    const slice = emptyTally();
    this.active = true;
    this.counting = true;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const loops = Array.from({ length: this.concurrency }, () => this.loop(slice));
    await sleep(ms);
    this.counting = false;
    slice.seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    slice.cpuUs = cpu.user + cpu.system;
    this.active = false;
    await Promise.all(loops);
    return slice;
  }

  private async loop(slice: Tally): Promise<void> {
    while (this.active) {
      const started = this.timed ? performance.now() : 0;
      try {
        const result = await this.operation();
        if (!this.counting) continue;
        if (this.timed) {
          slice.latency.record(Math.max(1, Math.round((performance.now() - started) * 1e6)));
        }
        slice.ops++;
        if (!this.isExpected(result)) slice.unexpected++;
      } catch {
        if (this.counting) {
          slice.ops++;
          slice.errors++;
        }
      }
    }
  }
}
