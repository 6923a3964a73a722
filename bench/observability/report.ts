// What the observability benchmark records (benchmarks-observability.json) and renders (.md).
import { httpColumns } from '../support/http';
import type { HttpRound } from '../support/http';
import {
  describeVariants,
  environmentLines,
  ratioRange,
  rerender,
  table,
  writeReport,
} from '../support/report';
import { formatInt, formatMs, formatRatio, max } from '../support/stats';
import type { SinkCounts } from './otlp-sink';
import type { measureObservability } from './run';

export interface ObservabilityRound extends HttpRound {
  pid: number;
  /** Every response the app gave in the round: checks, warm-up, measured slices. */
  requestsServed: number;
  /**
   * The render route's requests by cache outcome over the app's life, from its own /metrics
   * (metrics variants only): misses other than the first request mean the entry expired or was
   * removed and was rendered again.
   */
  renderOutcomes?: { hit: number; miss: number };
  /** What a tracing variant's OTLP sink received over the app's whole life. */
  otlp?: SinkCounts;
}

/** What measureObservability records: settings, environment and one row per variant. */
export type ObservabilityReport = Awaited<ReturnType<typeof measureObservability>>;
export type ObservabilityRow = ObservabilityReport['rows'][number];

const REPORT = 'benchmarks-observability';
export const BENCH_COMMAND =
  'npx tsc -p bench/tsconfig.json && node bench/dist/bench/observability/run.js';

const pct = (ratio: number) =>
  Number.isFinite(ratio) ? `${(Math.abs(1 - ratio) * 100).toFixed(0)} %` : 'n/a';

const kib = (bytes: number) => (Number.isFinite(bytes) ? `${formatInt(bytes / 1024)} KiB` : 'n/a');

/** The generated reading of the figures (the hand-written analysis block comes after it). */
function whatItShows(report: ObservabilityReport): string[] {
  const row = (variant: string) => report.rows.find((r) => r.variant === variant);
  const base = row(report.baseline);
  if (!base) return ['## What it shows', ''];
  const vsOff = (r: ObservabilityRow) =>
    `app CPU per request ${formatMs(r.summary.cpuUsPerRequestMedian)} µs, ${formatRatio(r.summary.cpu.ratioMedian)} of \`off\`'s (${ratioRange(r.summary.cpu)})`;
  const out = [
    '## What it shows',
    '',
    `Generated from this run's figures. \`off\` served ${formatInt(base.summary.reqPerSecMedian)} req/s (median over rounds) at ${formatMs(base.summary.cpuUsPerRequestMedian)} µs of app CPU per request; the ratios below are medians of per-round ratios, each variant against \`off\` in the same round, with the lowest and highest round in brackets.`,
    '',
  ];
  const metrics = row('metrics');
  if (metrics) {
    const { ratioMedian } = metrics.summary;
    out.push(
      `- **Metrics on, tracing off (\`metrics\`): ${formatRatio(ratioMedian)} of \`off\`'s throughput (${ratioRange(metrics.summary)}), ${pct(ratioMedian)} ${ratioMedian <= 1 ? 'less' : 'more'}; target at most 10 % less (≥ ${formatRatio(report.targetRatio)}): ${ratioMedian >= report.targetRatio ? 'met' : 'MISSED'}.** ${vsOff(metrics).replace(/^a/, 'A')}.`,
    );
  }
  for (const r of ['metrics+tracing', 'tracing-sdk-only'].flatMap((v) => row(v) ?? [])) {
    const otlp = r.summary.otlp;
    out.push(
      `- \`${r.variant}\`: ${formatRatio(r.summary.ratioMedian)} of \`off\`'s throughput (${ratioRange(r.summary)}); ${vsOff(r)}` +
        (otlp
          ? `; the sink received ${otlp.spansPerRequestMedian.toFixed(2)} spans and ${formatInt(otlp.bytesPerRequestMedian)} bytes of OTLP JSON per request served (${kib(otlp.tracesBytesMedian)} per round, median).`
          : '.'),
    );
  }
  const failures = report.rows.reduce((sum, r) => sum + r.summary.failures, 0);
  out.push(
    `- Errors and non-2xx responses over all variants and rounds: ${failures}${failures === 0 ? '' : ' (the figures are suspect)'}.`,
    '',
  );
  return out;
}

function otlpTable(rows: readonly ObservabilityRow[]): string[] {
  const traced = rows.filter((r) => r.summary.otlp);
  if (traced.length === 0) return [];
  const otlp = (r: ObservabilityRow) => r.summary.otlp!;
  const scopes = [
    ...new Set(traced.flatMap((r) => Object.keys(otlp(r).spansPerRequestByScope))),
  ].sort();
  return [
    '### What the OTLP sink received (tracing variants)',
    '',
    "Per round, over each app process's whole life (start-up checks, warm-up, measured slices, the flush at shutdown), divided by every response that app gave in the round (as counted by autocannon and the checks: the up to 50 requests in flight when a load stops are answered but not counted, under 0.5 %); medians over rounds. Bytes are the request bodies as the exporter sent them (OTLP/HTTP JSON, uncompressed). Spans by instrumentation scope, per request:",
    '',
    table(traced, [
      ['Variant', (r) => `\`${r.variant}\``],
      ['spans/request', (r) => otlp(r).spansPerRequestMedian.toFixed(2)],
      ['bytes/request', (r) => formatInt(otlp(r).bytesPerRequestMedian)],
      ['trace bytes per round', (r) => kib(otlp(r).tracesBytesMedian)],
      ['POSTs /v1/traces per round', (r) => formatInt(otlp(r).postsMedian)],
      ...scopes.map(
        (scope) =>
          [
            `\`${scope}\``,
            (r: ObservabilityRow) => (otlp(r).spansPerRequestByScope[scope] ?? 0).toFixed(2),
          ] as const,
      ),
      [
        'other OTLP paths (per round, median)',
        (r) =>
          Object.entries(otlp(r).otherPaths)
            .map(([path, c]) => `${path}: ${formatInt(c.requests)} POSTs, ${kib(c.bytes)}`)
            .join('; ') || 'none',
      ],
    ]),
    '',
  ];
}

function perRoundTable(rows: readonly ObservabilityRow[], baseline: string): string {
  const base = rows.find((r) => r.variant === baseline);
  const byRound = Array.from({ length: max(rows.map((r) => r.rounds.length)) }, (_, i) =>
    rows.flatMap((row) => (row.rounds[i] ? [{ variant: row.variant, r: row.rounds[i] }] : [])),
  ).flat();
  type Line = (typeof byRound)[number];
  const vsBase = (line: Line, pick: (r: ObservabilityRound) => number) => {
    const b = base?.rounds.find((x) => x.round === line.r.round);
    return b ? formatRatio(pick(line.r) / pick(b)) : '';
  };
  return table(byRound, [
    ['Round', ({ r }) => String(r.round)],
    ['Variant', ({ variant }) => `\`${variant}\``],
    ['start order', ({ r }) => String(r.position)],
    ['req/s', ({ r }) => formatInt(r.reqPerSec)],
    ['vs off', (line) => vsBase(line, (r) => r.reqPerSec)],
    ['CPU µs/req', ({ r }) => formatMs(r.appCpuUsPerRequest)],
    ['CPU vs off', (line) => vsBase(line, (r) => r.appCpuUsPerRequest)],
    ['p99 ms', ({ r }) => formatMs(r.latencyP99Ms)],
    [
      'render hits / misses (own /metrics)',
      ({ r }) =>
        r.renderOutcomes
          ? `${formatInt(r.renderOutcomes.hit)} / ${formatInt(r.renderOutcomes.miss)}`
          : '',
    ],
    ['req/s per slice', ({ r }) => r.slices.map((s) => formatInt(s.reqPerSec)).join(', ')],
    ['slices redone', ({ r }) => String(r.attempts - 1)],
  ]);
}

export function renderObservability(report: ObservabilityReport, analysis: string): string {
  const { settings: s, baseline, rows } = report;
  const settle = (s.settleMs / 1000).toFixed(1);
  return [
    '# Benchmarks: what observability costs the cached render route',
    '',
    `Generated by \`bench/observability/run.ts\`: \`${BENCH_COMMAND}\` (\`--quick\` for a 1-round, 2 s smoke run written to \`bench/results/\`). The run rewrites this file and \`${REPORT}.json\` (raw per-round and per-slice figures, not committed); the analysis block is kept.`,
    '',
    ...whatItShows(report),
    analysis,
    '## Results',
    '',
    `\`GET ${s.path}\` on the renderer service (Fastify), every response a cache hit (\`X-Cache: HIT\`, a ${s.pngBytes}-byte PNG read from Redis). ${s.rounds} round(s) × ${s.durationS} s per variant in ${s.sliceS} s slices, ${s.connections} connections.`,
    '',
    table(rows, httpColumns<ObservabilityRow>(baseline, 'off', { metrics: report.targetRatio })),
    '',
    ...otlpTable(rows),
    '### Per round',
    '',
    perRoundTable(rows, baseline),
    '',
    '## Variants',
    '',
    ...describeVariants(report.descriptions),
    '',
    '## Method',
    '',
    `- The service is built once per run from \`src/\` with \`tsc -p tsconfig.build.json\` into a temporary directory under \`node_modules/.cache/\` (never \`dist/\`) and started as \`node main.js\` per variant, with \`HOST=127.0.0.1\`, a free \`PORT\`, \`LOG_LEVEL=error\`, \`REDIS_URL=${s.redisUrl}\` and the variant's variables (any \`OTEL_*\`, \`CACHE_*\`, \`REDIS_*\` of the parent environment removed). An app counts as started when \`GET /health/live\` answers.`,
    `- Each round starts all variants' processes fresh (in a starting order that rotates per round), sends one request to each to put the PNG in the cache, checks that three more answer 200 with \`X-Cache: HIT\` and a PNG body, and warms each up for ${s.warmupS} s with autocannon. Then autocannon (in the orchestrating process, ${s.connections} connections, keep-alive) loads the apps in turn in ${s.sliceS} s slices, the order rotating every cycle, until each has had ${s.durationS} s; drift in the machine's speed hits all variants alike. After the slices every app is checked again (200, \`X-Cache: HIT\`; one MISS first is tolerated and reported, since the entry's TTL is 5 minutes and a run takes longer), and the metrics variants' own \`/metrics\` give the render route's hits and misses over the process's life.`,
    `- After each slice the orchestrator pauses ${settle} s (all variants alike) so the tracing variants' batch span processor (\`OTEL_BSP_SCHEDULE_DELAY=${s.bspScheduleDelayMs}\`) exports what the slice produced before the next app is loaded: that export runs on the same core and would otherwise slow the next variant. The app's CPU time (user + system, from \`/proc/PID/stat\`) is read from the start of the load to the end of the pause, so "app CPU µs/req" includes those trailing exports; "app cores" is the CPU used while loaded ÷ the load's wall time.`,
    `- req/s counts 2xx responses over the measured seconds; p50/p99 are medians over the slices. "vs off" is the median over rounds of (variant req/s ÷ \`off\` req/s in the same round); the range shows the lowest and highest round. "CPU/req vs off" is the same for app CPU per request, which is steadier than req/s on this machine.`,
    `- Placement: ${s.pinning}. The machine has 2 cores: the apps (one measured at a time, the others idle) share cpu 0; the load generator, the OTLP sink and redis-server share cpu 1.`,
    `- Other work on the machine is detected: before each slice the benchmark waits until other processes use under ${s.quietCores} cores (host CPU time from \`/proc/stat\` minus that of its own processes and of redis-server when it runs on this machine), and a slice during which they took more than ${s.maxForeignCores} cores is measured again (up to ${s.retries} times). "other load" is the highest such figure kept, in cores; "(n redone)" counts the slices measured again.`,
    '- The machine is a VM whose speed drifts: absolute req/s moves 10-30 % between rounds and runs. Read the ratios, which compare variants measured in the same round in interleaved slices, and allow about ±5 % on them.',
    '',
    '## Run',
    '',
    ...environmentLines(
      report.environment,
      'the apps',
      report.environment.redis.owned
        ? undefined
        : `at ${s.redisUrl} (shared; only the service's own keys are written, nothing is flushed)`,
    ),
    `- Settings: ${s.mode}, ${s.rounds} round(s), ${s.warmupS} s warm-up, ${s.durationS} s per variant in ${s.sliceS} s slices, ${settle} s pause after each slice${s.nodeArgs.length > 0 ? `, app node args \`${s.nodeArgs.join(' ')}\`` : ''}`,
    `- Command: \`${s.command}\``,
    '',
  ].join('\n');
}

export const writeObservabilityReport = (outDir: string, report: ObservabilityReport) =>
  writeReport(outDir, REPORT, report, renderObservability);

export const rerenderObservability = (outDir: string) =>
  rerender(outDir, REPORT, renderObservability);
