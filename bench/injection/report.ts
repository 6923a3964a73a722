// docs/benchmarks-core.md: the HTTP injection benchmark (bench/injection) and the timeout-bounding
// microbenchmark (bench/timeouts). Each run replaces its own section of benchmarks-core.json.
import { httpColumns } from '../support/http';
import type { RunSettings } from '../support/report';
import {
  describeVariants,
  runBlock,
  formatLoad,
  ratioRange,
  readReport,
  rerender,
  sumOf,
  table,
  valueRange,
  writeReport,
} from '../support/report';
import { formatInt, formatRatio } from '../support/stats';
import type { measureTimeouts } from '../timeouts/run';
import type { measureInjection } from './run';

export type InjectionSection = Awaited<ReturnType<typeof measureInjection>>;
export type TimeoutsSection = Awaited<ReturnType<typeof measureTimeouts>>;
type Section = InjectionSection | TimeoutsSection;
export type InjectionRow = InjectionSection['rows'][number];
type TimeoutRow = TimeoutsSection['rows'][number];

export interface CoreReport {
  about: string;
  injection?: InjectionSection;
  timeouts?: TimeoutsSection;
}

const REPORT = 'benchmarks-core';

/** Targets from the issues (request isolation, #12): Fastify and Express, Node 20, 22 and 24. */
export const INJECTION_TARGETS: Record<string, number> = {
  'current-cache-decorator': 0.95,
  'constructor-injected': 0.95,
};

const ADAPTER_TITLES: Record<string, string> = { fastify: 'Fastify', express: 'Express' };

/** Rows by Node version (and adapter), in the order first met. */
function groups<R extends { nodeMajor: string; adapter?: string }>(rows: readonly R[]): R[][] {
  const keys = [...new Set(rows.map((row) => `${row.nodeMajor}/${row.adapter ?? ''}`))];
  return keys.map((key) => rows.filter((row) => `${row.nodeMajor}/${row.adapter ?? ''}` === key));
}

const runLines = (section: Section) => [
  '**Variants.**',
  '',
  ...describeVariants(section.descriptions),
  '',
  ...runBlock(section.environment, 'the measured processes', section.settings),
  '',
];

export function renderInjection(section: InjectionSection): string {
  const { settings, rows, baseline } = section;
  const others = [...new Set(rows.map((row) => row.variant))].filter((v) => v !== baseline);
  const title = (group: InjectionRow[]) =>
    `${ADAPTER_TITLES[group[0].adapter] ?? group[0].adapter}, ${group[0].nodeVersion}`;
  return [
    '## 1. HTTP injection benchmark (`npm run bench:injection`)',
    '',
    `Each variant is its own Nest app process (logger off) on 127.0.0.1; autocannon runs in the orchestrating process with ${settings.connections} connections against \`GET ${settings.path}\`, whose handler reads one pre-set ${settings.valueBytes}-byte value from Redis and returns it as a string. ` +
      `${settings.rounds} round(s); in each, for each Node version and adapter, every variant's app is started fresh, checked (the body must be the cached value) and warmed up for ${settings.warmupS} s, then the apps are loaded in turn in ${settings.sliceS} s slices, the order rotating every cycle, until each has had ${settings.durationS} s: drift in the machine's speed hits all variants alike. ` +
      'req/s counts 2xx responses over the measured seconds; p50/p99 are medians over the slices. "vs baseline" is the median over rounds of (variant req/s ÷ baseline req/s in the same round, same adapter and Node); the range shows the lowest and highest round. "app CPU µs/req" is the app process\'s CPU time per response: the cost of the variant on one core, steadier than req/s; "CPU/req vs baseline" is its per-round ratio to the baseline\'s (median). "app cores" near 1.00 means the app was the bottleneck, not the load generator.',
    '',
    'Targets, on Fastify and Express alike: `@CurrentCache()` and constructor injection each ≥ 0.95x baseline.',
    '',
    '### Summary (ratio to baseline, median of per-round ratios)',
    '',
    table(groups(rows), [
      ['Adapter, Node', title],
      [
        `${baseline} req/s`,
        (g) => formatInt(g.find((r) => r.variant === baseline)?.summary.reqPerSecMedian ?? NaN),
      ],
      ...others.map(
        (variant) =>
          [
            variant,
            (g: InjectionRow[]) => {
              const row = g.find((r) => r.variant === variant);
              return row ? formatRatio(row.summary.ratioMedian) : '';
            },
          ] as const,
      ),
    ]),
    '',
    ...groups(rows).flatMap((group) => [
      `### ${ADAPTER_TITLES[group[0].adapter] ?? group[0].adapter}, Node ${group[0].nodeVersion}`,
      '',
      table(group, httpColumns<InjectionRow>(baseline, 'baseline', INJECTION_TARGETS)),
      '',
    ]),
    ...runLines(section),
  ].join('\n');
}

function signed(value: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}` : 'n/a';
}

export function renderTimeouts(section: TimeoutsSection): string {
  const { settings, baseline } = section;
  const unlessBase = (cell: (row: TimeoutRow) => string) => (row: TimeoutRow) =>
    row.variant === baseline ? '' : cell(row);
  return [
    '## 2. Timeout-bounding microbenchmark (`npm run bench:timeouts`)',
    '',
    `Library level, no HTTP, on the library benchmark's harness: ${settings.concurrency} GETs in flight at all times (a closed loop: each completion issues the next), a ${settings.valueBytes}-byte value, every read a hit; timeouts are ${settings.timeoutMs} ms (none fires). ` +
      `Each variant is a worker process of its own (pinned to one core, one ioredis connection), started fresh each round and warmed up for ${settings.warmupS} s; then the variants take turns in ${settings.sliceS} s slices (order rotating every cycle) until each has run ${settings.durationS} s, so drift in the machine's speed hits all of them alike. ${settings.rounds} round(s); medians over rounds. ` +
      '"vs unbounded" is the median of per-round ratios of ops/s. "CPU µs/op" is the worker\'s CPU time (user + system) per GET while measured, median over rounds; "vs unbounded" beside it is the median over rounds of the difference to `unbounded` in the same round: what the variant adds to each GET on the client. The worker is CPU-bound ("worker cores" ≈ 1), so ops/s and CPU per op are two views of the same cost.',
    '',
    ...groups(section.rows).flatMap((group) => [
      `### Node ${group[0].nodeVersion}`,
      '',
      table(group, [
        ['Variant', (row) => `\`${row.variant}\``],
        ['ops/s (median)', (row) => formatInt(row.summary.opsPerSecMedian)],
        ['ops/s per round', (row) => valueRange(row.rounds.map((r) => r.opsPerSec))],
        [
          'vs unbounded',
          (row) =>
            row.variant === baseline ? '1.00x (baseline)' : formatRatio(row.summary.ratioMedian),
        ],
        ['ratio per round', unlessBase((row) => ratioRange(row.summary))],
        ['CPU µs/op', (row) => row.summary.cpuUsPerOpMedian.toFixed(2)],
        ['CPU µs/op vs unbounded', unlessBase((row) => signed(row.summary.cpuUsPerOpOverBaseline))],
        ['worker cores', (row) => row.summary.workerCoresMedian.toFixed(2)],
        ['misses+errors', (row) => String(sumOf(row.rounds, (r) => r.unexpected + r.errors))],
        ['other load', (row) => formatLoad(row.rounds)],
      ]),
      '',
    ]),
    ...runLines(section),
  ].join('\n');
}

function noiseNote(settings: RunSettings | undefined): string[] {
  return [
    '## Method and noise',
    '',
    '- The machine has 2 cores. The measured process (an app, or the microbenchmark worker) is pinned to cpu 0 and has it to itself; the orchestrator (autocannon for the HTTP benchmark) and redis-server are pinned to cpu 1 (taskset; `--no-pin` turns it off). So req/s and ops/s are what one core of the measured process delivers, and "app cores" / "worker cores" ≈ 1.00 confirms it was the bottleneck.',
    '- This is a VM whose speed drifts from second to second: with nothing else running, one process doing the same GET loop measured anywhere from about 46k to 97k ops/s in consecutive 1.5 s windows. Absolute figures therefore move by 10-20 % between rounds and runs; only ratios between variants measured in the same round mean much. To make those ratios fair, each round starts fresh processes for every variant and then measures the variants in short interleaved slices (the order rotating every cycle), so drift hits all of them alike; the tables give medians over rounds and the per-round range of the ratio. Differences of about 5 % or less are within the noise.',
    '- CPU time per request (HTTP) or per GET (microbenchmark) is measured from the process itself. The measured process is CPU-bound, so it carries the same information as the throughput, per unit of work.',
    `- Other work on the machine (a test run in another session, say) is detected: before each slice the benchmark waits until other work uses under ${settings?.quietCores ?? 0.2} cores, and it records the host CPU time not used by its own processes while measuring; a slice during which other work took more than ${settings?.maxForeignCores ?? 0.3} cores is measured again (up to ${settings?.retries ?? 2} times). "other load" is the highest such figure kept, in cores; "(n redone)" counts the measurements taken again.`,
    '- Raw figures (per round, and per slice for HTTP: req/s, p50/p99, errors, CPU; ops/s and CPU per GET) are in `benchmarks-core.json`, written next to this file by the run (not committed).',
    '- `--quick` (1 round, short slices) is a smoke test for CI, not a measurement; it writes to `bench/results/` (git-ignored) instead of `docs/`.',
    '',
  ];
}

export function renderCoreReport(report: CoreReport, analysis: string): string {
  return [
    '# Benchmarks: injection paths and timeout bounding',
    '',
    'Generated by `npm run bench:injection` and `npm run bench:timeouts` (see `bench/`). Each run rewrites its own section below and the JSON; the analysis block is kept.',
    '',
    analysis,
    ...(report.injection ? [renderInjection(report.injection)] : []),
    ...(report.timeouts ? [renderTimeouts(report.timeouts)] : []),
    ...noiseNote(report.injection?.settings ?? report.timeouts?.settings),
  ].join('\n');
}

/** Replaces one section of benchmarks-core.json in `outDir` and rewrites the Markdown. */
export function writeCoreReport(
  outDir: string,
  update: Pick<CoreReport, 'injection' | 'timeouts'>,
) {
  const report: CoreReport = {
    ...readReport<CoreReport>(outDir, REPORT),
    about:
      'Raw per-round figures of bench/injection and bench/timeouts; docs/benchmarks-core.md is rendered from them.',
    ...update,
  };
  return writeReport(outDir, REPORT, report, renderCoreReport);
}

export const rerenderCoreReport = (outDir: string) => rerender(outDir, REPORT, renderCoreReport);
