// The orchestrator's side of the GET load: reads its BATCH lines and gives the latency of the GETs
// sent during a window of wall-clock time (an operation's, measured by another process).
import type { Child } from '../support/child';
import { sleep } from '../support/stats';
import type { GetBatch } from './get-load';

export interface GetLoadInfo {
  pid: number;
  baseEpochMs: number;
}

/** The GETs sent during one window. */
export interface GetLatency {
  gets: number;
  /** GETs that failed or did not return the value. */
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export class GetLatencyWindows {
  private sent: number[] = [];
  private latencyUs: number[] = [];
  private watermark = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly load: Child,
    private readonly info: GetLoadInfo,
  ) {}

  /**
   * Latency of the GETs sent from `startEpochMs` to `endEpochMs`, once every one of them has been
   * reported (a GET held up by the operation completes after it). Forgets everything before the
   * window's end: windows are asked for in order.
   */
  async window(startEpochMs: number, endEpochMs: number, timeoutMs = 10_000): Promise<GetLatency> {
    const start = startEpochMs - this.info.baseEpochMs;
    const end = endEpochMs - this.info.baseEpochMs;
    const deadline = performance.now() + timeoutMs;
    for (this.drain(); this.watermark < end; this.drain()) {
      if (!this.load.running) {
        throw new Error('The GET load process exited');
      }
      if (performance.now() > deadline) {
        throw new Error(`The GET load reported nothing past the window for ${timeoutMs} ms`);
      }
      await sleep(20);
    }
    const latencies: number[] = [];
    let failed = 0;
    const keptSent: number[] = [];
    const keptLatency: number[] = [];
    for (let i = 0; i < this.sent.length; i++) {
      const at = this.sent[i];
      if (at >= start && at < end) {
        if (this.latencyUs[i] < 0) failed++;
        else latencies.push(this.latencyUs[i] / 1000);
      }
      if (at >= end) {
        keptSent.push(at);
        keptLatency.push(this.latencyUs[i]);
      }
    }
    this.sent = keptSent;
    this.latencyUs = keptLatency;
    latencies.sort((a, b) => a - b);
    return {
      gets: latencies.length + failed,
      failed,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.length > 0 ? latencies[latencies.length - 1] : Number.NaN,
    };
  }

  private drain(): void {
    for (const line of this.load.lines.splice(0)) {
      if (!line.startsWith('BATCH ')) continue;
      const batch = JSON.parse(line.slice(6)) as GetBatch;
      for (let i = 0; i < batch.sent.length; i++) {
        this.sent.push(batch.sent[i]);
        this.latencyUs.push(batch.latencyUs[i]);
      }
      this.watermark = batch.watermark;
    }
  }
}
