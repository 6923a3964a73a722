// The fault suite's measurements: from the load worker's outcomes, the renderer's /metrics samples
// and the times a fault started and ended, the figures the suite asserts and reports.
import type { RequestOutcome } from './load-protocol';
import type { ServiceSample } from './renderer-process';

/** Requests started in one window of time. */
export interface WindowFigures {
  readonly requests: number;
  /** Not a 200 with the expected PNG, or not answered, or not sent (too many unanswered). */
  readonly failed: number;
  readonly hits: number;
  readonly misses: number;
  /** Latency from when each request was due; `null` without requests. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface MemoryFigures {
  /** Resident set size (MiB) at the last scrape before the fault. */
  readonly rssBeforeMiB: number;
  /** Highest resident set size (MiB) from the fault's start to the end of the recovery. */
  readonly rssPeakMiB: number;
  /** Resident set size (MiB) at the last scrape, after hits were steady again. */
  readonly rssAfterMiB: number;
  readonly heapUsedBeforeMiB: number;
  readonly heapUsedPeakMiB: number;
  readonly heapUsedAfterMiB: number;
  /** Scrapes of /metrics from the fault's start to the end (the peaks come from these). */
  readonly scrapesSinceFault: number;
}

export interface CacheErrorCounts {
  readonly timeout: number;
  readonly connection: number;
  readonly other: number;
}

/** Everything measured for one fault. */
export interface FaultFigures {
  readonly id: string;
  readonly title: string;
  /** Whether the renderer reached Redis directly or through the test's TCP proxy. */
  readonly via: 'direct' | 'proxy';
  /** Requests over the whole run: warm-up, fault and recovery. */
  readonly requests: number;
  readonly failed: number;
  /** Up to five failures, as the worker described them. */
  readonly failureExamples: readonly string[];
  /** From injecting the fault until it was over (Redis answering again, proxy forwarding). */
  readonly faultDurationMs: number;
  /** From the time hits were steady until just before the fault. */
  readonly before: WindowFigures;
  /** Requests started while the fault lasted. */
  readonly during: WindowFigures;
  /** Requests started after the fault ended, until hits were steady again. */
  readonly recovery: WindowFigures;
  /** From the fault's end until the first HIT answer to a request sent after it. */
  readonly timeToFirstHitMs: number | null;
  /** From the fault's end until the first request of the final run of HITs only. */
  readonly timeToSteadyHitsMs: number | null;
  /** The renderer's `matrx_cache_errors_total` gained from the fault's start to the end. */
  readonly cacheErrors: CacheErrorCounts;
  readonly memory: MemoryFigures;
  /** What the proxy did during the fault (proxied faults only). */
  readonly proxy?: {
    readonly cuts: number;
    readonly midReplyCuts: number;
    readonly midCommandCuts: number;
    readonly delayedChunks: number;
  };
}

const MiB = 1024 * 1024;

/** Nearest-rank percentile of `values` (0 < p <= 100); `null` when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const failed = (outcome: RequestOutcome) => outcome.error !== null;

/** Figures of the requests started in `[from, to)`. */
export function windowFigures(
  outcomes: readonly RequestOutcome[],
  from: number,
  to: number,
): WindowFigures {
  const inWindow = outcomes.filter(({ startedAt }) => startedAt >= from && startedAt < to);
  const latencies = inWindow.map(({ latencyMs }) => latencyMs);
  const round = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);
  return {
    requests: inWindow.length,
    failed: inWindow.filter(failed).length,
    hits: inWindow.filter((o) => !failed(o) && o.cache === 'HIT').length,
    misses: inWindow.filter((o) => !failed(o) && o.cache === 'MISS').length,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(percentile(latencies, 100)),
  };
}

/**
 * When hits became steady after `since`: the due time of the first request of the final run of
 * HIT answers (requests started after `since`, in the order they were due), provided that run
 * spans at least `runMs`. `undefined` while no such run exists yet.
 */
export function steadyHitsAt(
  outcomes: readonly RequestOutcome[],
  since: number,
  runMs: number,
): number | undefined {
  const after = outcomes
    .filter(({ startedAt }) => startedAt >= since)
    .sort((a, b) => a.startedAt - b.startedAt);
  let runStart = 0;
  after.forEach((outcome, index) => {
    if (failed(outcome) || outcome.cache !== 'HIT') runStart = index + 1;
  });
  if (runStart >= after.length) return undefined;
  const start = after[runStart].startedAt;
  return after[after.length - 1].startedAt - start >= runMs ? start : undefined;
}

/** From `since` until the first HIT answer arrived to a request started after `since`. */
export function timeToFirstHit(outcomes: readonly RequestOutcome[], since: number): number | null {
  let first: number | null = null;
  for (const outcome of outcomes) {
    if (outcome.startedAt < since || failed(outcome) || outcome.cache !== 'HIT') continue;
    const answeredAt = outcome.startedAt + outcome.latencyMs;
    if (first === null || answeredAt < first) first = answeredAt;
  }
  return first === null ? null : Math.round(first - since);
}

/** Memory before, at its peak during and after a fault, from the renderer's /metrics. */
export function memoryFigures(
  samples: readonly ServiceSample[],
  faultStart: number,
): MemoryFigures {
  if (samples.length === 0) throw new Error('no /metrics sample of the renderer');
  const before = samples.filter(({ at }) => at < faultStart).at(-1) ?? samples[0];
  const since = samples.filter(({ at }) => at >= faultStart);
  const peak = (pick: (sample: ServiceSample) => number) =>
    Math.max(...(since.length > 0 ? since : samples).map(pick));
  const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
  const after = samples[samples.length - 1];
  return {
    rssBeforeMiB: mib(before.rssBytes),
    rssPeakMiB: mib(peak(({ rssBytes }) => rssBytes)),
    rssAfterMiB: mib(after.rssBytes),
    heapUsedBeforeMiB: mib(before.heapUsedBytes),
    heapUsedPeakMiB: mib(peak(({ heapUsedBytes }) => heapUsedBytes)),
    heapUsedAfterMiB: mib(after.heapUsedBytes),
    scrapesSinceFault: since.length,
  };
}

/** How much each error count grew between two samples. */
export function cacheErrorsBetween(first: ServiceSample, last: ServiceSample): CacheErrorCounts {
  return {
    timeout: last.cacheErrors.timeout - first.cacheErrors.timeout,
    connection: last.cacheErrors.connection - first.cacheErrors.connection,
    other: last.cacheErrors.other - first.cacheErrors.other,
  };
}
