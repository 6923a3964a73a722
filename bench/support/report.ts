import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { EnvironmentInfo } from './environment';
import { repoRoot } from './paths';
import { formatInt, formatMs, formatRatio, markdownTable, max, median, min } from './stats';

// ---------------------------------------------------------------------------------------------
// What the JSON holds. Every figure is per round; medians and ratios are derived from them.
// ---------------------------------------------------------------------------------------------

export interface RunSettings {
  mode: 'default' | 'quick';
  rounds: number;
  durationS: number;
  warmupS: number;
  command: string;
  /** A measurement starts once other work uses less than this many cores… */
  quietCores: number;
  /** …and is measured again (up to `retries` times) if other work used more than this. */
  maxForeignCores: number;
  retries: number;
  /** How the processes were placed on the 2 cores. */
  pinning: string;
}

/** What one autocannon run reports, as the benchmarks keep it. */
export interface AutocannonFigures {
  reqPerSec: number;
  requests2xx: number;
  durationS: number;
  latencyAvgMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** The figures of an autocannon result (req/s counts 2xx responses only). */
export function autocannonFigures(result: {
  '2xx': number;
  non2xx: number;
  duration: number;
  errors: number;
  timeouts: number;
  latency: { average: number; p50: number; p99: number };
}): AutocannonFigures {
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
  };
}

/**
 * Several slices of load as one: req/s over their total time, mean latency weighted by responses,
 * p50/p99 as the median of the slices' own.
 */
export function combineSlices(slices: readonly AutocannonFigures[]): AutocannonFigures {
  const sum = (pick: (s: AutocannonFigures) => number) => slices.reduce((t, s) => t + pick(s), 0);
  const durationS = sum((s) => s.durationS);
  const responses = sum((s) => s.requests2xx + s.non2xx);
  return {
    reqPerSec: sum((s) => s.requests2xx) / durationS,
    requests2xx: sum((s) => s.requests2xx),
    durationS,
    latencyAvgMs: sum((s) => s.latencyAvgMs * (s.requests2xx + s.non2xx)) / responses,
    latencyP50Ms: median(slices.map((s) => s.latencyP50Ms)),
    latencyP99Ms: median(slices.map((s) => s.latencyP99Ms)),
    non2xx: sum((s) => s.non2xx),
    errors: sum((s) => s.errors),
    timeouts: sum((s) => s.timeouts),
  };
}

/** One autocannon run against one app. */
export interface InjectionSlice extends AutocannonFigures {
  appCpuMs: number;
  /** CPU the app process used while measured, in cores (≈ 1 when it is the bottleneck). */
  appCores: number;
  /** The app's CPU time per response, in µs: its cost, steadier than req/s. */
  appCpuUsPerRequest: number;
  /** CPU used by other work than the benchmark's processes while measuring, in cores. */
  foreignCores: number;
}

/** A variant's figures in one round: its slices added up (latency percentiles: slice medians). */
export interface InjectionRound extends Omit<InjectionSlice, 'appCpuMs'> {
  round: number;
  /** Position of this variant in its round's starting order (the order rotates). */
  position: number;
  /** 1 + the number of slices measured again because other work took CPU meanwhile. */
  attempts: number;
  slices: InjectionSlice[];
}

export interface RatioSummary {
  /** Median of the per-round ratios to the baseline measured in the same round. */
  ratioMedian: number;
  ratioMin: number;
  ratioMax: number;
}

export interface InjectionRow {
  nodeMajor: string;
  nodeVersion: string;
  adapter: string;
  variant: string;
  rounds: InjectionRound[];
  summary: {
    reqPerSecMedian: number;
    p99MsMedian: number;
    cpuUsPerRequestMedian: number;
    /** Median of per-round (app CPU per request ÷ the baseline's in the same round). */
    cpuRatioMedian: number;
  } & RatioSummary;
}

export interface InjectionSection {
  settings: RunSettings & {
    sliceS: number;
    connections: number;
    valueBytes: number;
    path: string;
  };
  environment: EnvironmentInfo;
  baseline: string;
  descriptions: Record<string, string>;
  rows: InjectionRow[];
}

export interface TimeoutRound {
  round: number;
  position: number;
  opsPerSec: number;
  ops: number;
  seconds: number;
  misses: number;
  errors: number;
  /** The worker's CPU time per GET while measured, in µs. */
  cpuUsPerOp: number;
  /** CPU the worker used while measured, in cores. */
  workerCores: number;
  /** ops/s of each slice of this variant in the round, in order. */
  slicesOpsPerSec: number[];
  /** CPU used by other work during the round (all variants), in cores. */
  foreignCores: number;
  attempts: number;
}

export interface TimeoutRow {
  nodeMajor: string;
  nodeVersion: string;
  variant: string;
  rounds: TimeoutRound[];
  summary: {
    opsPerSecMedian: number;
    cpuUsPerOpMedian: number;
    /** Median over rounds of (CPU µs per GET − the baseline's in the same round). */
    cpuUsPerOpOverBaseline: number;
  } & RatioSummary;
}

export interface TimeoutsSection {
  settings: RunSettings & {
    sliceS: number;
    concurrency: number;
    timeoutMs: number;
    valueBytes: number;
  };
  environment: EnvironmentInfo;
  baseline: string;
  descriptions: Record<string, string>;
  rows: TimeoutRow[];
}

export interface ReportFile {
  about: string;
  injection?: InjectionSection;
  timeouts?: TimeoutsSection;
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

/** Per-round ratios of `rounds` to the baseline's rounds with the same round number. */
export function ratioSummary<R extends { round: number }>(
  rounds: readonly R[],
  baseline: readonly R[],
  value: (round: R) => number,
): RatioSummary {
  const ratios = rounds.flatMap((round) => {
    const base = baseline.find((b) => b.round === round.round);
    return base && value(base) > 0 ? [value(round) / value(base)] : [];
  });
  return { ratioMedian: median(ratios), ratioMin: min(ratios), ratioMax: max(ratios) };
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

const ANALYSIS_START = '<!-- analysis:start (kept when the benchmarks rewrite this file) -->';
const ANALYSIS_END = '<!-- analysis:end -->';

/** Targets from the issues (request isolation, #12): Fastify and Express, Node 20, 22 and 24. */
export const INJECTION_TARGETS: Record<string, number> = {
  'current-cache-decorator': 0.95,
  'constructor-injected': 0.95,
};

const ADAPTER_TITLES: Record<string, string> = { fastify: 'Fastify', express: 'Express' };

function range(values: readonly number[]): string {
  return `${formatInt(min(values))}–${formatInt(max(values))}`;
}

function ratioCell(summary: RatioSummary, isBaseline: boolean): string {
  if (isBaseline) return '1.00x (baseline)';
  return formatRatio(summary.ratioMedian);
}

function ratioRange(summary: RatioSummary, isBaseline: boolean): string {
  if (isBaseline || !Number.isFinite(summary.ratioMin)) return '';
  return `${formatRatio(summary.ratioMin)}–${formatRatio(summary.ratioMax)}`;
}

function signed(value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}` : 'n/a';
}

/** The most CPU other work took during any round, and how many rounds were measured again. */
function formatLoad(rounds: readonly { foreignCores: number; attempts: number }[]): string {
  const worst = max(rounds.map((r) => r.foreignCores));
  const redone = rounds.filter((r) => r.attempts > 1).length;
  return `${worst.toFixed(2)}${redone > 0 ? ` (${redone} redone)` : ''}`;
}

function environmentLines(env: EnvironmentInfo): string[] {
  const packages = Object.entries(env.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(' and ')} for the measured processes (orchestrator on ${env.orchestratorNode})`,
    `- Redis: ${env.redis.version} on loopback${env.redis.owned ? ', started by the benchmark' : ' (REDIS_URL)'}`,
    `- Packages: ${packages}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
  ];
}

function groupsOf<T extends { nodeMajor: string }>(rows: readonly T[]): string[] {
  return [...new Set(rows.map((row) => row.nodeMajor))];
}

export function renderInjection(section: InjectionSection): string {
  const { settings, rows, baseline } = section;
  const out: string[] = [];
  out.push('## 1. HTTP injection benchmark (`npm run bench:injection`)', '');
  out.push(
    `Each variant is its own Nest app process (logger off) on 127.0.0.1; autocannon runs in the orchestrating process with ${settings.connections} connections against \`GET ${settings.path}\`, whose handler reads one pre-set ${settings.valueBytes}-byte value from Redis and returns it as a string. ` +
      `${settings.rounds} round(s); in each, for each Node version and adapter, every variant's app is started fresh, checked (the body must be the cached value) and warmed up for ${settings.warmupS} s, then the apps are loaded in turn in ${settings.sliceS} s slices, the order rotating every cycle, until each has had ${settings.durationS} s: drift in the machine's speed hits all variants alike. ` +
      'req/s counts 2xx responses over the measured seconds; p50/p99 are medians over the slices. "vs baseline" is the median over rounds of (variant req/s ÷ baseline req/s in the same round, same adapter and Node); the range shows the lowest and highest round. "app CPU µs/req" is the app process\'s CPU time per response: the cost of the variant on one core, steadier than req/s; "CPU/req vs baseline" is its per-round ratio to the baseline\'s (median). "app cores" near 1.00 means the app was the bottleneck, not the load generator.',
    '',
  );
  out.push(
    'Targets, on Fastify and Express alike: `@CurrentCache()` and constructor injection each ≥ 0.95x baseline.',
    '',
  );

  // Headline: one line per adapter and Node, ratios side by side.
  const variants = [...new Set(rows.map((row) => row.variant))];
  const adapters = [...new Set(rows.map((row) => row.adapter))];
  const headline: string[][] = [];
  for (const major of groupsOf(rows)) {
    for (const adapter of adapters) {
      const group = rows.filter((r) => r.nodeMajor === major && r.adapter === adapter);
      if (group.length === 0) continue;
      const base = group.find((r) => r.variant === baseline);
      headline.push([
        `${ADAPTER_TITLES[adapter] ?? adapter}, ${group[0].nodeVersion}`,
        base ? formatInt(base.summary.reqPerSecMedian) : 'n/a',
        ...variants
          .filter((v) => v !== baseline)
          .map((variant) => {
            const row = group.find((r) => r.variant === variant);
            return row ? formatRatio(row.summary.ratioMedian) : '';
          }),
      ]);
    }
  }
  out.push('### Summary (ratio to baseline, median of per-round ratios)', '');
  out.push(
    markdownTable(
      ['Adapter, Node', `${baseline} req/s`, ...variants.filter((v) => v !== baseline)],
      headline,
    ),
    '',
  );

  for (const major of groupsOf(rows)) {
    for (const adapter of adapters) {
      const group = rows.filter((r) => r.nodeMajor === major && r.adapter === adapter);
      if (group.length === 0) continue;
      out.push(`### ${ADAPTER_TITLES[adapter] ?? adapter}, Node ${group[0].nodeVersion}`, '');
      const table = group.map((row) => {
        const isBaseline = row.variant === baseline;
        const target = INJECTION_TARGETS[row.variant];
        const failures = row.rounds.reduce((sum, r) => sum + r.non2xx + r.errors, 0);
        let verdict = '';
        if (target !== undefined && Number.isFinite(row.summary.ratioMedian)) {
          verdict = `≥ ${target.toFixed(2)}x: ${row.summary.ratioMedian >= target ? 'met' : 'MISSED'}`;
        }
        return [
          `\`${row.variant}\``,
          formatInt(row.summary.reqPerSecMedian),
          range(row.rounds.map((r) => r.reqPerSec)),
          ratioCell(row.summary, isBaseline),
          ratioRange(row.summary, isBaseline),
          verdict,
          formatMs(median(row.rounds.map((r) => r.latencyP50Ms))),
          formatMs(row.summary.p99MsMedian),
          formatMs(row.summary.cpuUsPerRequestMedian),
          isBaseline ? '' : formatRatio(row.summary.cpuRatioMedian),
          median(row.rounds.map((r) => r.appCores)).toFixed(2),
          String(failures),
          formatLoad(row.rounds),
        ];
      });
      out.push(
        markdownTable(
          [
            'Variant',
            'req/s (median)',
            'req/s per round',
            'vs baseline',
            'ratio per round',
            'target',
            'p50 ms',
            'p99 ms',
            'app CPU µs/req',
            'CPU/req vs baseline',
            'app cores',
            'errors',
            'other load',
          ],
          table,
        ),
        '',
      );
    }
  }
  out.push('**Variants.**', '');
  for (const [variant, description] of Object.entries(section.descriptions ?? {})) {
    out.push(`- \`${variant}\`: ${description}`);
  }
  out.push('');
  out.push('**Run.**', '');
  out.push(
    ...environmentLines(section.environment),
    `- Placement: ${settings.pinning}`,
    `- Command: \`${settings.command}\``,
    '',
  );
  return out.join('\n');
}

export function renderTimeouts(section: TimeoutsSection): string {
  const { settings, rows, baseline } = section;
  const out: string[] = [];
  out.push('## 2. Timeout-bounding microbenchmark (`npm run bench:timeouts`)', '');
  out.push(
    `Library level, no HTTP: one ioredis connection to the benchmark's Redis, ${settings.concurrency} GETs in flight at all times (a pool of ${settings.concurrency} async loops), a ${settings.valueBytes}-byte value, every read a hit; timeouts are ${settings.timeoutMs} ms (none fires). ` +
      `Each round is a fresh worker process with one connection per variant; after ${settings.warmupS} s of warm-up each, the variants take turns in ${settings.sliceS} s slices (order rotating every cycle) until each has run ${settings.durationS} s, so drift in the machine's speed hits all of them alike. ${settings.rounds} round(s); medians over rounds. ` +
      '"vs unbounded" is the median of per-round ratios of ops/s. "CPU µs/op" is the worker process\'s CPU time (user + system) per GET while measured, median over rounds; "vs unbounded" beside it is the median over rounds of the difference to `unbounded` in the same round: what the variant adds to each GET on the client. The worker is CPU-bound ("worker cores" ≈ 1), so ops/s and CPU per op are two views of the same cost; both move with the speed of the shared host from second to second, which the interleaved slices spread over all variants.',
    '',
  );
  for (const major of groupsOf(rows)) {
    const group = rows.filter((r) => r.nodeMajor === major);
    out.push(`### Node ${group[0].nodeVersion}`, '');
    const table = group.map((row) => {
      const isBaseline = row.variant === baseline;
      const failures = row.rounds.reduce((sum, r) => sum + r.misses + r.errors, 0);
      return [
        `\`${row.variant}\``,
        formatInt(row.summary.opsPerSecMedian),
        range(row.rounds.map((r) => r.opsPerSec)),
        ratioCell(row.summary, isBaseline),
        ratioRange(row.summary, isBaseline),
        row.summary.cpuUsPerOpMedian.toFixed(2),
        isBaseline ? '' : signed(row.summary.cpuUsPerOpOverBaseline),
        median(row.rounds.map((r) => r.workerCores)).toFixed(2),
        String(failures),
        formatLoad(row.rounds),
      ];
    });
    out.push(
      markdownTable(
        [
          'Variant',
          'ops/s (median)',
          'ops/s per round',
          'vs unbounded',
          'ratio per round',
          'CPU µs/op',
          'CPU µs/op vs unbounded',
          'worker cores',
          'misses+errors',
          'other load',
        ],
        table,
      ),
      '',
    );
  }
  out.push('**Variants.**', '');
  for (const [variant, description] of Object.entries(section.descriptions)) {
    out.push(`- \`${variant}\`: ${description}`);
  }
  out.push('', '**Run.**', '');
  out.push(
    ...environmentLines(section.environment),
    `- Placement: ${settings.pinning}`,
    `- Command: \`${settings.command}\``,
    '',
  );
  return out.join('\n');
}

function noiseNote(settings: RunSettings | undefined): string {
  const quiet = settings?.quietCores ?? 0.2;
  const foreign = settings?.maxForeignCores ?? 0.3;
  const retries = settings?.retries ?? 2;
  return NOISE_NOTE.replace('{quiet}', String(quiet))
    .replace('{foreign}', String(foreign))
    .replace('{retries}', String(retries));
}

const NOISE_NOTE = [
  '## Method and noise',
  '',
  '- The machine has 2 cores. The measured process (an app, or the microbenchmark worker) is pinned to cpu 0 and has it to itself; the orchestrator (autocannon for the HTTP benchmark) and redis-server are pinned to cpu 1 (taskset; `--no-pin` turns it off). So req/s and ops/s are what one core of the measured process delivers, and "app cores" / "worker cores" ≈ 1.00 confirms it was the bottleneck.',
  '- This is a VM whose speed drifts from second to second: with nothing else running, one process doing the same GET loop measured anywhere from about 46k to 97k ops/s in consecutive 1.5 s windows. Absolute figures therefore move by 10-20 % between rounds and runs; only ratios between variants measured in the same round mean much. To make those ratios fair, each round starts fresh processes for every variant and then measures the variants in short interleaved slices (the order rotating every cycle), so drift hits all of them alike; the tables give medians over rounds and the per-round range of the ratio. Differences of about 5 % or less are within the noise.',
  '- CPU time per request (HTTP) or per GET (microbenchmark) is measured from the process itself. The measured process is CPU-bound, so it carries the same information as the throughput, per unit of work.',
  '- Other work on the machine (a test run in another session, say) is detected: before each slice (HTTP) or round (microbenchmark) the benchmark waits until other work uses under {quiet} cores, and it records the host CPU time not used by its own processes while measuring; a slice or round during which other work took more than {foreign} cores is measured again (up to {retries} times). "other load" is the highest such figure kept, in cores.',
  '- Raw figures (per round, and per slice for HTTP: req/s, p50/p99, errors, CPU; ops/s and CPU per GET) are in `benchmarks-core.json`, written next to this file by the run (not committed).',
  '- `--quick` (1 round, short slices) is a smoke test for CI, not a measurement; it writes to `bench/results/` (git-ignored) instead of `docs/`.',
  '',
].join('\n');

export function renderReport(report: ReportFile, analysis: string): string {
  const out: string[] = ['# Benchmarks: injection paths and timeout bounding', ''];
  out.push(
    'Generated by `npm run bench:injection` and `npm run bench:timeouts` (see `bench/`). Each run rewrites its own section below and the JSON; the analysis block is kept.',
    '',
  );
  out.push(
    ANALYSIS_START,
    analysis.trim() === '' ? '' : `\n${analysis.trim()}\n`,
    ANALYSIS_END,
    '',
  );
  if (report.injection) out.push(renderInjection(report.injection));
  if (report.timeouts) out.push(renderTimeouts(report.timeouts));
  out.push(noiseNote(report.injection?.settings ?? report.timeouts?.settings));
  return out.join('\n');
}

function existingAnalysis(markdownPath: string): string {
  if (!existsSync(markdownPath)) return '';
  const text = readFileSync(markdownPath, 'utf8');
  const start = text.indexOf(ANALYSIS_START);
  const end = text.indexOf(ANALYSIS_END);
  return start >= 0 && end > start ? text.slice(start + ANALYSIS_START.length, end) : '';
}

/**
 * Replaces one section of `benchmarks-core.json` in `outDir`, then rewrites the Markdown
 * (formatted with the repo's Prettier settings, so `npm run lint` stays clean).
 */
export async function writeReport(
  outDir: string,
  update: Pick<ReportFile, 'injection'> | Pick<ReportFile, 'timeouts'>,
): Promise<{ json: string; markdown: string }> {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'benchmarks-core.json');
  const markdownPath = join(outDir, 'benchmarks-core.md');
  const previous = existsSync(jsonPath)
    ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as ReportFile)
    : undefined;
  const report: ReportFile = {
    about:
      'Raw per-round figures of bench/injection and bench/timeouts; docs/benchmarks-core.md is rendered from them.',
    injection: previous?.injection,
    timeouts: previous?.timeouts,
    ...update,
  };
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeMarkdown(report, markdownPath);
  return { json: relative(repoRoot, jsonPath), markdown: relative(repoRoot, markdownPath) };
}

/** Rewrites `benchmarks-core.md` in `outDir` from its JSON (after editing the analysis block). */
export async function rerenderReport(outDir: string): Promise<string> {
  const jsonPath = join(outDir, 'benchmarks-core.json');
  const markdownPath = join(outDir, 'benchmarks-core.md');
  await writeMarkdown(JSON.parse(readFileSync(jsonPath, 'utf8')) as ReportFile, markdownPath);
  return relative(repoRoot, markdownPath);
}

/** Renders the report (keeping the file's analysis block), formatted with the repo's Prettier. */
async function writeMarkdown(report: ReportFile, markdownPath: string): Promise<void> {
  const markdown = renderReport(report, existingAnalysis(markdownPath));
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
}

export function defaultOutDir(quick: boolean): string {
  return join(repoRoot, quick ? 'bench/results' : 'docs');
}
