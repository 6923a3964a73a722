// What the observability benchmark records (JSON) and how it renders it (Markdown).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { EnvironmentInfo } from '../support/environment';
import { repoRoot } from '../support/paths';
import { ratioSummary } from '../support/report';
import type { AutocannonFigures, RatioSummary } from '../support/report';
import {
  formatInt,
  formatMs,
  formatRatio,
  markdownTable,
  max,
  median,
  min,
} from '../support/stats';
import type { SinkCounts } from './otlp-sink';

/** One autocannon run against one app, and the app's CPU time meanwhile. */
export interface ObservabilitySlice extends AutocannonFigures {
  /** The app's CPU time from the start of the load to the end of the settle pause after it. */
  appCpuMs: number;
  /** The app's CPU time while autocannon ran. */
  appCpuMsUnderLoad: number;
  /** CPU the app used while loaded, in cores (≈ 1 when it is the bottleneck). */
  appCores: number;
  /** appCpuMs per response, in µs: includes span exports that trail the load by up to a second. */
  appCpuUsPerRequest: number;
  /** CPU used by other work than the benchmark's processes (and Redis), in cores. */
  foreignCores: number;
}

/** What a tracing variant's OTLP sink received during one round (apps' whole life). */
export interface OtlpRound {
  counts: SinkCounts;
  /** Every response the app gave in the round: checks, warm-up, measured slices. */
  requestsServed: number;
  tracesBytes: number;
  spans: number;
  bytesPerRequest: number;
  spansPerRequest: number;
}

export interface ObservabilityRound extends Omit<
  ObservabilitySlice,
  'appCpuMs' | 'appCpuMsUnderLoad'
> {
  round: number;
  /** Position of this variant in the round's starting order (the order rotates per round). */
  position: number;
  pid: number;
  /** 1 + the slices measured again because other work took CPU meanwhile. */
  attempts: number;
  requestsServed: number;
  /**
   * The render route's requests by cache outcome over the app's life, from its own /metrics
   * (metrics variants only): misses other than the first request mean the entry expired or was
   * removed and was rendered again.
   */
  renderOutcomes?: { hit: number; miss: number };
  slices: ObservabilitySlice[];
  otlp?: OtlpRound;
}

export interface ObservabilityRow {
  variant: string;
  rounds: ObservabilityRound[];
  summary: {
    reqPerSecMedian: number;
    p50MsMedian: number;
    p99MsMedian: number;
    cpuUsPerRequestMedian: number;
    appCoresMedian: number;
    failures: number;
    /** Per-round ratio of app CPU per request to the baseline's (median, min, max). */
    cpu: RatioSummary;
    otlp?: {
      bytesPerRequestMedian: number;
      spansPerRequestMedian: number;
      tracesBytesMedian: number;
      postsMedian: number;
      spansPerRequestByScope: Record<string, number>;
      otherPaths: Record<string, { requests: number; bytes: number }>;
    };
  } & RatioSummary;
}

export interface ObservabilitySettings {
  mode: 'default' | 'quick';
  rounds: number;
  durationS: number;
  sliceS: number;
  warmupS: number;
  settleMs: number;
  connections: number;
  path: string;
  /** Size of the cached PNG the route returns. */
  pngBytes: number;
  quietCores: number;
  maxForeignCores: number;
  retries: number;
  pinning: string;
  redisUrl: string;
  nodeArgs: string[];
  bspScheduleDelayMs: number;
  command: string;
}

export interface ObservabilityReport {
  about: string;
  settings: ObservabilitySettings;
  environment: EnvironmentInfo & { observabilityPackages: Record<string, string> };
  baseline: string;
  targetRatio: number;
  descriptions: Record<string, string>;
  rows: ObservabilityRow[];
}

const ANALYSIS_START = '<!-- analysis:start (kept when the benchmark rewrites this file) -->';
const ANALYSIS_END = '<!-- analysis:end -->';
export const REPORT_BASENAME = 'benchmarks-observability';
export const BENCH_COMMAND =
  'npx tsc -p bench/tsconfig.json && node bench/dist/bench/observability/run.js';

const pct = (ratio: number) =>
  Number.isFinite(ratio) ? `${(Math.abs(1 - ratio) * 100).toFixed(0)} %` : 'n/a';

function ratioRange(summary: RatioSummary): string {
  return Number.isFinite(summary.ratioMin)
    ? `${formatRatio(summary.ratioMin)}–${formatRatio(summary.ratioMax)}`
    : '';
}

function kib(bytes: number): string {
  return Number.isFinite(bytes) ? `${formatInt(bytes / 1024)} KiB` : 'n/a';
}

/** The generated reading of the figures (the hand-written analysis block comes after it). */
function whatItShows(report: ObservabilityReport): string[] {
  const row = (variant: string) => report.rows.find((r) => r.variant === variant);
  const base = row(report.baseline);
  const out: string[] = ['## What it shows', ''];
  if (!base) return out;
  out.push(
    `Generated from this run's figures. \`off\` served ${formatInt(base.summary.reqPerSecMedian)} req/s (median over rounds) at ${formatMs(base.summary.cpuUsPerRequestMedian)} µs of app CPU per request; the ratios below are medians of per-round ratios, each variant against \`off\` in the same round, with the lowest and highest round in brackets.`,
    '',
  );
  const metrics = row('metrics');
  if (metrics) {
    const { ratioMedian } = metrics.summary;
    const met = ratioMedian >= report.targetRatio;
    out.push(
      `- **Metrics on, tracing off (\`metrics\`): ${formatRatio(ratioMedian)} of \`off\`'s throughput (${ratioRange(metrics.summary)}), ${ratioMedian <= 1 ? `${pct(ratioMedian)} less` : `${pct(ratioMedian)} more`}; target at most 10 % less (≥ ${formatRatio(report.targetRatio)}): ${met ? 'met' : 'MISSED'}.** App CPU per request ${formatMs(metrics.summary.cpuUsPerRequestMedian)} µs, ${formatRatio(metrics.summary.cpu.ratioMedian)} of \`off\`'s (${ratioRange(metrics.summary.cpu)}).`,
    );
  }
  for (const variant of ['metrics+tracing', 'tracing-sdk-only']) {
    const r = row(variant);
    if (!r) continue;
    const otlp = r.summary.otlp;
    out.push(
      `- \`${variant}\`: ${formatRatio(r.summary.ratioMedian)} of \`off\`'s throughput (${ratioRange(r.summary)}); app CPU per request ${formatMs(r.summary.cpuUsPerRequestMedian)} µs, ${formatRatio(r.summary.cpu.ratioMedian)} of \`off\`'s (${ratioRange(r.summary.cpu)})` +
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

export function renderReport(report: ObservabilityReport, analysis: string): string {
  const { settings, baseline, rows } = report;
  const out: string[] = ['# Benchmarks: what observability costs the cached render route', ''];
  out.push(
    `Generated by \`bench/observability/run.ts\`: \`${BENCH_COMMAND}\` (\`--quick\` for a 1-round, 2 s smoke run written to \`bench/results/\`). The run rewrites this file and \`${REPORT_BASENAME}.json\` (raw per-round and per-slice figures); the analysis block is kept.`,
    '',
  );
  out.push(...whatItShows(report));
  out.push(
    ANALYSIS_START,
    analysis.trim() === '' ? '' : `\n${analysis.trim()}\n`,
    ANALYSIS_END,
    '',
  );

  out.push('## Results', '');
  out.push(
    `\`GET ${settings.path}\` on the renderer service (Fastify), every response a cache hit (\`X-Cache: HIT\`, a ${settings.pngBytes}-byte PNG read from Redis). ${settings.rounds} round(s) × ${settings.durationS} s per variant in ${settings.sliceS} s slices, ${settings.connections} connections.`,
    '',
  );
  const table = rows.map((row) => {
    const isBaseline = row.variant === baseline;
    const s = row.summary;
    let verdict = '';
    if (row.variant === 'metrics' && Number.isFinite(s.ratioMedian)) {
      verdict = `≥ ${formatRatio(report.targetRatio)}: ${s.ratioMedian >= report.targetRatio ? 'met' : 'MISSED'}`;
    }
    return [
      `\`${row.variant}\``,
      formatInt(s.reqPerSecMedian),
      `${formatInt(min(row.rounds.map((r) => r.reqPerSec)))}–${formatInt(max(row.rounds.map((r) => r.reqPerSec)))}`,
      isBaseline ? '1.00x (baseline)' : formatRatio(s.ratioMedian),
      isBaseline ? '' : ratioRange(s),
      verdict,
      formatMs(s.cpuUsPerRequestMedian),
      isBaseline ? '' : formatRatio(s.cpu.ratioMedian),
      isBaseline ? '' : ratioRange(s.cpu),
      formatMs(s.p50MsMedian),
      formatMs(s.p99MsMedian),
      s.appCoresMedian.toFixed(2),
      String(s.failures),
      formatLoad(row.rounds),
    ];
  });
  out.push(
    markdownTable(
      [
        'Variant',
        'req/s (median)',
        'req/s per round',
        'vs off',
        'ratio per round',
        'target',
        'app CPU µs/req',
        'CPU/req vs off',
        'CPU ratio per round',
        'p50 ms',
        'p99 ms',
        'app cores',
        'errors + non-2xx',
        'other load',
      ],
      table,
    ),
    '',
  );

  const traced = rows.filter((r) => r.summary.otlp);
  if (traced.length > 0) {
    out.push('### What the OTLP sink received (tracing variants)', '');
    out.push(
      "Per round, over each app process's whole life (start-up checks, warm-up, measured slices, the flush at shutdown), divided by every response that app gave in the round (as counted by autocannon and the checks: the up to 50 requests in flight when a load stops are answered but not counted, under 0.5 %); medians over rounds. Bytes are the request bodies as the exporter sent them (OTLP/HTTP JSON, uncompressed). Spans by instrumentation scope, per request:",
      '',
    );
    const scopes = [
      ...new Set(traced.flatMap((r) => Object.keys(r.summary.otlp!.spansPerRequestByScope))),
    ].sort();
    out.push(
      markdownTable(
        [
          'Variant',
          'spans/request',
          'bytes/request',
          'trace bytes per round',
          'POSTs /v1/traces per round',
          ...scopes.map((scope) => `\`${scope}\``),
          'other OTLP paths (per round, median)',
        ],
        traced.map((r) => {
          const o = r.summary.otlp!;
          const others = Object.entries(o.otherPaths)
            .map(([path, c]) => `${path}: ${formatInt(c.requests)} POSTs, ${kib(c.bytes)}`)
            .join('; ');
          return [
            `\`${r.variant}\``,
            o.spansPerRequestMedian.toFixed(2),
            formatInt(o.bytesPerRequestMedian),
            kib(o.tracesBytesMedian),
            formatInt(o.postsMedian),
            ...scopes.map((scope) => (o.spansPerRequestByScope[scope] ?? 0).toFixed(2)),
            others || 'none',
          ];
        }),
      ),
      '',
    );
  }

  out.push('### Per round', '');
  const perRound: string[][] = [];
  const roundCount = max(rows.map((r) => r.rounds.length));
  const base = rows.find((r) => r.variant === baseline);
  for (let i = 0; i < roundCount; i++) {
    for (const row of rows) {
      const r = row.rounds[i];
      if (!r) continue;
      const b = base?.rounds.find((x) => x.round === r.round);
      perRound.push([
        String(r.round),
        `\`${row.variant}\``,
        String(r.position),
        formatInt(r.reqPerSec),
        b ? formatRatio(r.reqPerSec / b.reqPerSec) : '',
        formatMs(r.appCpuUsPerRequest),
        b ? formatRatio(r.appCpuUsPerRequest / b.appCpuUsPerRequest) : '',
        formatMs(r.latencyP99Ms),
        r.renderOutcomes
          ? `${formatInt(r.renderOutcomes.hit)} / ${formatInt(r.renderOutcomes.miss)}`
          : '',
        r.slices.map((s) => formatInt(s.reqPerSec)).join(', '),
        String(r.attempts - 1),
      ]);
    }
  }
  out.push(
    markdownTable(
      [
        'Round',
        'Variant',
        'start order',
        'req/s',
        'vs off',
        'CPU µs/req',
        'CPU vs off',
        'p99 ms',
        'render hits / misses (own /metrics)',
        'req/s per slice',
        'slices redone',
      ],
      perRound,
    ),
    '',
  );

  out.push('## Variants', '');
  for (const [variant, description] of Object.entries(report.descriptions)) {
    out.push(`- \`${variant}\`: ${description}`);
  }
  out.push('');

  out.push('## Method', '');
  out.push(
    `- The service is built once per run from \`src/\` with \`tsc -p tsconfig.build.json\` into a temporary directory under \`node_modules/.cache/\` (never \`dist/\`) and started as \`node main.js\` per variant, with \`HOST=127.0.0.1\`, a free \`PORT\`, \`LOG_LEVEL=error\`, \`REDIS_URL=${settings.redisUrl}\` and the variant's variables (any \`OTEL_*\`, \`CACHE_*\`, \`REDIS_*\` of the parent environment removed). An app counts as started when \`GET /health/live\` answers.`,
    `- Each round starts all variants' processes fresh (in a starting order that rotates per round), sends one request to each to put the PNG in the cache, checks that three more answer 200 with \`X-Cache: HIT\` and a PNG body, and warms each up for ${settings.warmupS} s with autocannon. Then autocannon (in the orchestrating process, ${settings.connections} connections, keep-alive) loads the apps in turn in ${settings.sliceS} s slices, the order rotating every cycle, until each has had ${settings.durationS} s; drift in the machine's speed hits all variants alike. After the slices every app is checked again (200, \`X-Cache: HIT\`; one MISS first is tolerated and reported, since the entry's TTL is 5 minutes and a run takes longer), and the metrics variants' own \`/metrics\` give the render route's hits and misses over the process's life.`,
    `- After each slice the orchestrator pauses ${(settings.settleMs / 1000).toFixed(1)} s (all variants alike) so the tracing variants' batch span processor (\`OTEL_BSP_SCHEDULE_DELAY=${settings.bspScheduleDelayMs}\`) exports what the slice produced before the next app is loaded: that export runs on the same core and would otherwise slow the next variant. The app's CPU time (user + system, from \`/proc/PID/stat\`) is read from the start of the load to the end of the pause, so "app CPU µs/req" includes those trailing exports; "app cores" is the CPU used while loaded ÷ the load's wall time.`,
    `- req/s counts 2xx responses over the measured seconds; p50/p99 are medians over the slices. "vs off" is the median over rounds of (variant req/s ÷ \`off\` req/s in the same round); the range shows the lowest and highest round. "CPU/req vs off" is the same for app CPU per request, which is steadier than req/s on this machine.`,
    `- Placement: ${settings.pinning}. The machine has 2 cores: the apps (one measured at a time, the others idle) share cpu 0; the load generator, the OTLP sink and redis-server share cpu 1.`,
    `- Other work on the machine is detected: before each slice the benchmark waits until other processes use under ${settings.quietCores} cores (host CPU time from \`/proc/stat\` minus that of its own processes and redis-server), and a slice during which they took more than ${settings.maxForeignCores} cores is measured again (up to ${settings.retries} times). "other load" is the highest such figure kept, in cores; "(n redone)" counts rounds with a slice measured again.`,
    '- The machine is a VM whose speed drifts: absolute req/s moves 10-30 % between rounds and runs. Read the ratios, which compare variants measured in the same round in interleaved slices, and allow about ±5 % on them.',
    '',
  );

  const env = report.environment;
  const packages = Object.entries({ ...env.packages, ...env.observabilityPackages })
    .filter(([, version]) => version !== 'not installed')
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  out.push('## Run', '');
  out.push(
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(', ')} for the apps (orchestrator on ${env.orchestratorNode})`,
    `- Redis: ${env.redis.version} at ${settings.redisUrl} (shared; only the service's own keys are written, nothing is flushed)`,
    `- Packages: ${packages}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
    `- Settings: ${settings.mode}, ${settings.rounds} round(s), ${settings.warmupS} s warm-up, ${settings.durationS} s per variant in ${settings.sliceS} s slices, ${(settings.settleMs / 1000).toFixed(1)} s pause after each slice${settings.nodeArgs.length > 0 ? `, app node args \`${settings.nodeArgs.join(' ')}\`` : ''}`,
    `- Command: \`${settings.command}\``,
    '',
  );
  return out.join('\n');
}

/** The most CPU other work took during any round, and how many rounds were measured again. */
function formatLoad(rounds: readonly { foreignCores: number; attempts: number }[]): string {
  const worst = max(rounds.map((r) => r.foreignCores));
  const redone = rounds.filter((r) => r.attempts > 1).length;
  return `${worst.toFixed(2)}${redone > 0 ? ` (${redone} redone)` : ''}`;
}

function existingAnalysis(markdownPath: string): string {
  if (!existsSync(markdownPath)) return '';
  const text = readFileSync(markdownPath, 'utf8');
  const start = text.indexOf(ANALYSIS_START);
  const end = text.indexOf(ANALYSIS_END);
  return start >= 0 && end > start ? text.slice(start + ANALYSIS_START.length, end) : '';
}

/** Writes the JSON and the Markdown (keeping its analysis block), formatted with Prettier. */
export async function writeReport(
  outDir: string,
  report: ObservabilityReport,
): Promise<{ json: string; markdown: string }> {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `${REPORT_BASENAME}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const markdownPath = await rerender(outDir);
  return { json: relative(repoRoot, jsonPath), markdown: markdownPath };
}

/** Renders the Markdown from the JSON in `outDir` (after editing the analysis block, say). */
export async function rerender(outDir: string): Promise<string> {
  const jsonPath = join(outDir, `${REPORT_BASENAME}.json`);
  const markdownPath = join(outDir, `${REPORT_BASENAME}.md`);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as ObservabilityReport;
  const markdown = renderReport(report, existingAnalysis(markdownPath));
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  return relative(repoRoot, markdownPath);
}

/** Fills in every row's summary from its rounds. */
export function summarise(rows: ObservabilityRow[], baseline: string): void {
  const ratio = ratioSummary<ObservabilityRound>;
  const base = rows.find((r) => r.variant === baseline)!;
  for (const row of rows) {
    const otlpRounds = row.rounds.flatMap((r) => (r.otlp ? [r.otlp] : []));
    const scopes = [
      ...new Set(
        otlpRounds.flatMap((o) => Object.keys(o.counts.paths['/v1/traces']?.byScope ?? {})),
      ),
    ];
    const otherPathNames = [
      ...new Set(otlpRounds.flatMap((o) => Object.keys(o.counts.paths))),
    ].filter((p) => p !== '/v1/traces');
    row.summary = {
      reqPerSecMedian: median(row.rounds.map((r) => r.reqPerSec)),
      p50MsMedian: median(row.rounds.map((r) => r.latencyP50Ms)),
      p99MsMedian: median(row.rounds.map((r) => r.latencyP99Ms)),
      cpuUsPerRequestMedian: median(row.rounds.map((r) => r.appCpuUsPerRequest)),
      appCoresMedian: median(row.rounds.map((r) => r.appCores)),
      failures: row.rounds.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
      cpu: ratio(row.rounds, base.rounds, (r) => r.appCpuUsPerRequest),
      ...ratio(row.rounds, base.rounds, (r) => r.reqPerSec),
      ...(otlpRounds.length > 0
        ? {
            otlp: {
              bytesPerRequestMedian: median(otlpRounds.map((o) => o.bytesPerRequest)),
              spansPerRequestMedian: median(otlpRounds.map((o) => o.spansPerRequest)),
              tracesBytesMedian: median(otlpRounds.map((o) => o.tracesBytes)),
              postsMedian: median(
                otlpRounds.map((o) => o.counts.paths['/v1/traces']?.requests ?? 0),
              ),
              spansPerRequestByScope: Object.fromEntries(
                scopes.map((scope) => [
                  scope,
                  median(
                    otlpRounds.map(
                      (o) => (o.counts.paths['/v1/traces']?.byScope[scope] ?? 0) / o.requestsServed,
                    ),
                  ),
                ]),
              ),
              otherPaths: Object.fromEntries(
                otherPathNames.map((path) => [
                  path,
                  {
                    requests: median(otlpRounds.map((o) => o.counts.paths[path]?.requests ?? 0)),
                    bytes: median(otlpRounds.map((o) => o.counts.paths[path]?.bytes ?? 0)),
                  },
                ]),
              ),
            },
          }
        : {}),
    };
  }
}
