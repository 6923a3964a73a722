// What the HTTP benchmarks (bench/injection, bench/observability) share. Each variant is an app
// process pinned to cpu 0; autocannon, in this process on cpu 1, warms each up, then loads them in
// turn in slices, the order rotating every cycle, so drift in the machine's speed hits all alike.
import autocannon from 'autocannon';
import { cpuWindow, measureQuietly, processCpuMs } from './cpu';
import type { Column, RatioSummary } from './report';
import { formatLoad, medianOf, ratioRange, ratioSummary, sumOf, valueRange } from './report';
import type { LoadControl } from './run-control';
import { formatInt, formatMs, formatRatio, max, median, rotate, sleep } from './stats';

/** One slice of load on one app (what autocannon reported), and the app's CPU meanwhile. */
export interface HttpSlice {
  reqPerSec: number;
  requests2xx: number;
  durationS: number;
  latencyAvgMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The app's CPU time from the start of the load to the end of the settle pause after it. */
  appCpuMs: number;
  appCpuMsUnderLoad: number;
  /** CPU the app used while loaded, in cores (≈ 1 when it, not the load generator, is the limit). */
  appCores: number;
  /** appCpuMs per response, in µs: the variant's cost, steadier than req/s. */
  appCpuUsPerRequest: number;
  /** CPU used by other work than the benchmark's processes meanwhile, in cores. */
  foreignCores: number;
  /** 1 + the times this slice was measured again because other work took CPU meanwhile. */
  attempts: number;
}

/** A variant's slices in one round, added up (latency percentiles: medians of the slices'). */
export interface HttpRound extends Omit<HttpSlice, 'appCpuMs' | 'appCpuMsUnderLoad'> {
  round: number;
  /** Position in the round's starting order (the order rotates per round). */
  position: number;
  slices: HttpSlice[];
}

export interface HttpSummary extends RatioSummary {
  reqPerSecMedian: number;
  p50MsMedian: number;
  p99MsMedian: number;
  cpuUsPerRequestMedian: number;
  appCoresMedian: number;
  failures: number;
  /** Per-round ratio of app CPU per request to the baseline's. */
  cpu: RatioSummary;
}

export interface HttpApp {
  variant: string;
  pid: number;
  url: string;
  slices: HttpSlice[];
  /** Every response the app gave (checks, warm-up, slices). */
  served: number;
}

export interface HttpLoad extends LoadControl {
  durationS: number;
  sliceS: number;
  warmupS: number;
  connections: number;
  /** Pause after each slice, so work the load left (span exports) does not slow the next app. */
  settleMs: number;
}

const load = (url: string, connections: number, duration: number) =>
  autocannon({ url, connections, duration });

/**
 * One round: every variant's app started fresh (the order rotating per round), loaded in slices,
 * then checked by `after`, and stopped whatever happened. Returns the apps in starting order.
 */
export async function runHttpRound<A extends HttpApp>(
  variants: readonly string[],
  round: number,
  settings: HttpLoad,
  redisPid: number | undefined,
  {
    start,
    after,
    stop,
  }: {
    start: (variant: string) => Promise<A>;
    after: (app: A) => Promise<void>;
    stop: (app: A) => Promise<void>;
  },
): Promise<A[]> {
  const apps: A[] = [];
  try {
    for (const variant of rotate(variants, round - 1)) apps.push(await start(variant));
    await loadInSlices(apps, settings, [redisPid, ...apps.map((app) => app.pid)]);
    for (const app of apps) await after(app);
  } finally {
    for (const app of apps) await stop(app);
  }
  return apps;
}

/** Warms every app up, then loads them in turn until each has had `durationS`. */
async function loadInSlices(
  apps: readonly HttpApp[],
  settings: HttpLoad,
  ownPids: readonly (number | undefined)[],
): Promise<void> {
  for (const app of apps) {
    const warm = await load(app.url, settings.connections, settings.warmupS);
    app.served += warm['2xx'] + warm.non2xx;
    if (warm.non2xx + warm.errors > 0) {
      throw new Error(`${app.variant}: ${warm.non2xx} non-2xx, ${warm.errors} errors in warm-up`);
    }
  }
  const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const app of rotate(apps, cycle)) {
      app.slices.push(
        await measureQuietly(settings, ownPids, app.variant, () => slice(app, settings, ownPids)),
      );
    }
  }
}

async function slice(app: HttpApp, settings: HttpLoad, ownPids: readonly (number | undefined)[]) {
  const cpu = cpuWindow(ownPids);
  const cpuBefore = processCpuMs(app.pid) ?? NaN;
  const started = performance.now();
  const result = await load(app.url, settings.connections, settings.sliceS);
  const appCpuMsUnderLoad = (processCpuMs(app.pid) ?? NaN) - cpuBefore;
  const wallMs = performance.now() - started;
  const foreignCores = cpu.foreignCores();
  let appCpuMs = appCpuMsUnderLoad;
  if (settings.settleMs > 0) {
    await sleep(settings.settleMs);
    appCpuMs = (processCpuMs(app.pid) ?? NaN) - cpuBefore;
  }
  const responses = result['2xx'] + result.non2xx;
  app.served += responses;
  if (result['2xx'] === 0) throw new Error(`${app.variant}: no 2xx response under load`);
  return {
    reqPerSec: result['2xx'] / result.duration,
    requests2xx: result['2xx'],
    durationS: result.duration,
    latencyAvgMs: result.latency.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    appCpuMs,
    appCpuMsUnderLoad,
    appCores: appCpuMsUnderLoad / wallMs,
    appCpuUsPerRequest: responses > 0 ? (appCpuMs * 1000) / responses : NaN,
    foreignCores,
  };
}

/**
 * An app's slices as one round: req/s over their total time, mean latency weighted by responses,
 * p50/p99 the median of the slices' own, CPU per response over all of them.
 */
export function roundOf(app: HttpApp, round: number, position: number): HttpRound {
  const { slices } = app;
  const total = (pick: (s: HttpSlice) => number) => sumOf(slices, pick);
  const durationS = total((s) => s.durationS);
  const responses = total((s) => s.requests2xx + s.non2xx);
  return {
    round,
    position,
    reqPerSec: total((s) => s.requests2xx) / durationS,
    requests2xx: total((s) => s.requests2xx),
    durationS,
    latencyAvgMs: total((s) => s.latencyAvgMs * (s.requests2xx + s.non2xx)) / responses,
    latencyP50Ms: median(slices.map((s) => s.latencyP50Ms)),
    latencyP99Ms: median(slices.map((s) => s.latencyP99Ms)),
    non2xx: total((s) => s.non2xx),
    errors: total((s) => s.errors),
    timeouts: total((s) => s.timeouts),
    appCores: total((s) => s.appCpuMsUnderLoad) / 1000 / durationS,
    appCpuUsPerRequest: (total((s) => s.appCpuMs) * 1000) / responses,
    foreignCores: max(slices.map((s) => s.foreignCores)),
    attempts: 1 + total((s) => s.attempts - 1),
    slices,
  };
}

/** Medians over rounds, and per-round ratios to the baseline measured in the same round. */
export function summarise(
  rounds: readonly HttpRound[],
  baseline: readonly HttpRound[],
): HttpSummary {
  return {
    reqPerSecMedian: medianOf(rounds, (r) => r.reqPerSec),
    p50MsMedian: medianOf(rounds, (r) => r.latencyP50Ms),
    p99MsMedian: medianOf(rounds, (r) => r.latencyP99Ms),
    cpuUsPerRequestMedian: medianOf(rounds, (r) => r.appCpuUsPerRequest),
    appCoresMedian: medianOf(rounds, (r) => r.appCores),
    failures: sumOf(rounds, (r) => r.non2xx + r.errors + r.timeouts),
    cpu: ratioSummary(rounds, baseline, (r) => r.appCpuUsPerRequest),
    ...ratioSummary(rounds, baseline, (r) => r.reqPerSec),
  };
}

/** The one-line console report of a round. */
export function describeRound(variant: string, r: HttpRound): string {
  const failures = r.non2xx + r.errors + r.timeouts;
  return (
    `${variant.padEnd(24)} ${formatInt(r.reqPerSec).padStart(7)} req/s  p99 ${formatMs(r.latencyP99Ms)} ms` +
    `  app ${r.appCores.toFixed(2)} cores, ${formatMs(r.appCpuUsPerRequest)} µs CPU/req` +
    `  other load ${r.foreignCores.toFixed(2)}` +
    (failures > 0 ? `  (${failures} errors/non-2xx/timeouts)` : '')
  );
}

/** The columns of an HTTP results table, ratios against the variant called `baseline`. */
export function httpColumns<
  R extends { variant: string; rounds: HttpRound[]; summary: HttpSummary },
>(baseline: string, label: string, targets: Record<string, number>): Column<R>[] {
  const unlessBase = (cell: (row: R) => string) => (row: R) =>
    row.variant === baseline ? '' : cell(row);
  return [
    ['Variant', (row) => `\`${row.variant}\``],
    ['req/s (median)', (row) => formatInt(row.summary.reqPerSecMedian)],
    ['req/s per round', (row) => valueRange(row.rounds.map((r) => r.reqPerSec))],
    [
      `vs ${label}`,
      (row) =>
        row.variant === baseline ? '1.00x (baseline)' : formatRatio(row.summary.ratioMedian),
    ],
    ['ratio per round', unlessBase((row) => ratioRange(row.summary))],
    [
      'target',
      (row) => {
        const target = targets[row.variant];
        if (target === undefined || !Number.isFinite(row.summary.ratioMedian)) return '';
        return `≥ ${formatRatio(target)}: ${row.summary.ratioMedian >= target ? 'met' : 'MISSED'}`;
      },
    ],
    ['p50 ms', (row) => formatMs(row.summary.p50MsMedian)],
    ['p99 ms', (row) => formatMs(row.summary.p99MsMedian)],
    ['app CPU µs/req', (row) => formatMs(row.summary.cpuUsPerRequestMedian)],
    [`CPU/req vs ${label}`, unlessBase((row) => formatRatio(row.summary.cpu.ratioMedian))],
    ['CPU ratio per round', unlessBase((row) => ratioRange(row.summary.cpu))],
    ['app cores', (row) => row.summary.appCoresMedian.toFixed(2)],
    ['errors + non-2xx', (row) => String(row.summary.failures)],
    ['other load', (row) => formatLoad(row.rounds)],
  ];
}
