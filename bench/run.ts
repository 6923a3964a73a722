// The benchmark suite: npm run bench [-- --quick] [--sections library,http,bulk,memory]
//
// Runs, on one machine in one run and against one Redis it starts (or REDIS_URL): library
// throughput (bench/library), HTTP injection paths (bench/injection, in its own process tree),
// bulk flush and count on a large database (bench/bulk) and memory over a long run (bench/memory).
// Writes docs/benchmarks.md (medians, targets, analysis), docs/benchmarks.svg and the raw figures
// in docs/benchmarks.json (git-ignored); --quick (a smoke run for CI) writes to bench/results/.
// --render-only rewrites the Markdown and SVG from the JSON already there (after editing the
// analysis block, or the renderers).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderBulk, bulkChartBars, bulkTargets } from './bulk/report';
import type { BulkSection } from './bulk/report';
import { bulkArgs, runBulkBenchmark } from './bulk/run';
import { INJECTION_TARGETS, renderInjection } from './injection/report';
import type { CoreReport, InjectionSection } from './injection/report';
import { libraryChartBars, renderLibrary } from './library/report';
import type { LibrarySection } from './library/report';
import { libraryArgs, runLibraryBenchmark } from './library/run';
import { renderMemory } from './memory/report';
import type { MemorySection } from './memory/report';
import { memoryArgs, runMemoryBenchmark } from './memory/run';
import { Args } from './support/args';
import { runChild } from './support/child';
import { benchScript } from './support/paths';
import { acquireBenchRedis } from './support/redis';
import type { BenchRedis } from './support/redis';
import { defaultOutDir, readReport, rerender, table, writeReport } from './support/report';
import { benchCommand, runBenchmark } from './support/run-control';
import { formatRatio } from './support/stats';
import { renderBarChart } from './support/svg-chart';
import type { ChartPanel } from './support/svg-chart';

const SECTIONS = ['library', 'http', 'bulk', 'memory'] as const;

interface SuiteReport {
  about: string;
  date: string;
  mode: 'quick' | 'default';
  command: string;
  library?: LibrarySection;
  http?: InjectionSection;
  bulk?: BulkSection;
  memory?: MemorySection;
}

/** One line of the targets table. */
interface TargetLine {
  section: string;
  what: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

let redis: BenchRedis | undefined;

async function main(): Promise<void> {
  const args = new Args(['quick', 'render-only'], ['sections', 'out']);
  const quick = args.flag('quick');
  const sections = args.list('sections', SECTIONS, SECTIONS);
  const outDir = args.string('out') ?? defaultOutDir(quick);
  if (args.flag('render-only')) {
    await rerender(outDir, 'benchmarks', renderSuite);
    writeChart(outDir, readReport<SuiteReport>(outDir, 'benchmarks')!);
    return;
  }
  const command = benchCommand('bench');
  const report: SuiteReport = {
    about:
      'Raw figures of npm run bench (per round and per slice); docs/benchmarks.md and benchmarks.svg are rendered from them.',
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'default',
    command,
  };
  redis = await acquireBenchRedis();
  if (sections.includes('library')) {
    console.log('== 1. library throughput');
    // Both Node versions in a full run; the smoke run keeps to the machine's own.
    report.library = await runLibraryBenchmark(
      libraryArgs(quick ? ['--quick'] : ['--nodes', '20,24']),
      redis,
      command,
    );
  }
  if (sections.includes('http')) {
    console.log('== 2. HTTP injection paths (bench/injection, own processes)');
    report.http = await runInjection(quick, redis.url);
  }
  if (sections.includes('bulk')) {
    console.log('== 3. bulk flush and count');
    report.bulk = await runBulkBenchmark(bulkArgs(quick ? ['--quick'] : []), redis, command);
  }
  if (sections.includes('memory')) {
    console.log('== 4. memory over a long run');
    report.memory = await runMemoryBenchmark(memoryArgs(quick ? ['--quick'] : []), redis, command);
  }
  await writeReport(outDir, 'benchmarks', report, renderSuite);
  console.log(`Wrote ${writeChart(outDir, report)}`);
  console.log(`\n${targetLines(report).map(describeTarget).join('\n')}`);
}

/**
 * The HTTP section is bench/injection's own run (each variant its own app process, autocannon in
 * another): run as a child into a scratch dir, its section read back from the JSON it writes.
 */
async function runInjection(quick: boolean, redisUrl: string): Promise<InjectionSection> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-http-'));
  // The child finds the suite's Redis through REDIS_URL (and so neither starts nor stops one).
  process.env.REDIS_URL = redisUrl;
  try {
    await runChild(
      process.execPath,
      // The smoke run keeps to the machine's Node and production's.
      [
        benchScript('injection/run.js'),
        ...(quick ? ['--quick', '--nodes', '20,24'] : []),
        '--out',
        scratch,
      ],
      60 * 60_000,
    );
    const written = readReport<CoreReport>(scratch, 'benchmarks-core');
    if (!written?.injection) throw new Error('bench/injection wrote no injection section');
    return written.injection;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function targetLines(report: SuiteReport): TargetLine[] {
  const { library, http, bulk, memory } = report;
  const flush = bulk?.rows.find((row) => row.variant === 'flushDevice');
  const bulkMet = bulk && bulkTargets(bulk);
  return [
    ...(library?.targets ?? []).map((t) => ({
      section: '1. library',
      what: `\`${t.variant}\` vs \`${t.reference}\` (${t.nodeVersion})`,
      target: `≥ ${formatRatio(t.target)}`,
      measured: formatRatio(t.ratio.ratioMedian),
      met: t.met,
    })),
    ...(http?.rows ?? []).flatMap((row) => {
      const goal = INJECTION_TARGETS[row.variant];
      if (goal === undefined) return [];
      return {
        section: '2. HTTP',
        what: `\`${row.variant}\` vs \`${http!.baseline}\` (${row.adapter}, Node ${row.nodeMajor})`,
        target: `≥ ${formatRatio(goal)}`,
        measured: formatRatio(row.summary.ratioMedian),
        met: row.summary.ratioMedian >= goal,
      };
    }),
    ...(bulk
      ? [
          {
            section: '3. bulk',
            what: '`flushDevice()` time vs the SCAN + UNLINK loop',
            target: `≤ ${formatRatio(bulk.targets.flushRatioMax)}`,
            measured: formatRatio(flush?.summary.ratio?.ratioMedian ?? NaN),
            met: bulkMet?.flushRatio,
          },
          {
            section: '3. bulk',
            what: 'GET p99 while `flushDevice()` runs',
            target: `< ${bulk.targets.getP99MsMax} ms`,
            measured: `${(flush?.summary.getP99MsMedian ?? NaN).toFixed(1)} ms`,
            met: bulkMet?.getP99,
          },
        ]
      : []),
    ...(memory?.rows ?? [])
      .filter((row) => row.variant === 'contextual-cache')
      .map(({ growth }) => ({
        section: '4. memory',
        what: `heap and RSS growth from ${growth.fromOps.toLocaleString('en-US')} to ${growth.toOps.toLocaleString('en-US')} operations`,
        target: 'flat',
        measured: `heap ${growth.heapUsedMiB.toFixed(2)} MiB, RSS ${growth.rssMiB.toFixed(2)} MiB`,
        met: growth.flat,
      })),
  ];
}

const verdict = (met: boolean | undefined) =>
  met === undefined ? 'n/a' : met ? 'met' : '**missed**';

function describeTarget(line: TargetLine): string {
  return `${line.section}: ${line.what}: ${line.measured} (target ${line.target}) ${verdict(line.met).replace(/\*/g, '')}`;
}

/** Writes benchmarks.svg: one panel per measured section (memory has no bar to draw). */
function writeChart(outDir: string, report: SuiteReport): string {
  const panels: ChartPanel[] = [];
  if (report.library) {
    panels.push({
      title: '1. Library GET (hit), 64 in flight',
      unit: 'ops/s',
      bars: libraryChartBars(report.library).map((bar) => ({
        ...bar,
        highlight: bar.label.startsWith('ContextualCache'),
      })),
    });
  }
  if (report.http) {
    panels.push({
      title: `2. HTTP cached read, req/s as a ratio of the raw-ioredis singleton controller`,
      unit: 'x',
      bars: report.http.rows
        .filter((row) => row.variant !== report.http?.baseline)
        .map((row) => ({
          label: `${row.variant}, ${row.adapter}, Node ${row.nodeMajor}`,
          value: row.summary.ratioMedian,
          highlight:
            row.variant === 'current-cache-decorator' || row.variant === 'constructor-injected',
        })),
      marker: { value: 1, label: 'baseline' },
    });
  }
  if (report.bulk) {
    panels.push({
      title: `3. Bulk on ${report.bulk.settings.totalKeys.toLocaleString('en-US')} keys (${report.bulk.settings.matching.toLocaleString('en-US')} matching)`,
      unit: 'ms',
      bars: bulkChartBars(report.bulk).map((bar) => ({
        ...bar,
        highlight: bar.label.endsWith('()'),
      })),
    });
  }
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'benchmarks.svg');
  writeFileSync(path, renderBarChart('npm run bench: medians over rounds', panels));
  return path;
}

/** Each section renderer opens with its own `##` heading: numbered here as the issue numbers them. */
const retitle = (markdown: string, title: string) => markdown.replace(/^## .*$/m, `## ${title}`);

function renderSuite(report: SuiteReport, analysis: string): string {
  return [
    '# Benchmarks',
    '',
    `Generated by \`${report.command}\` on ${report.date.slice(0, 16).replace('T', ' ')} UTC (see \`bench/\`): every section in one run, on one machine, against one Redis. Ratios are taken within a round; absolute figures move 10-20 % between runs on this 2-core machine. Raw figures: \`benchmarks.json\`, written next to this file by the run (not committed).`,
    '',
    '![Benchmark medians](benchmarks.svg)',
    '',
    '## Targets',
    '',
    table(targetLines(report), [
      ['section', (line) => line.section],
      ['what', (line) => line.what],
      ['target', (line) => line.target],
      ['measured (median)', (line) => line.measured],
      ['verdict', (line) => verdict(line.met)],
    ]),
    '',
    analysis,
    ...(report.library
      ? [retitle(renderLibrary(report.library), '1. Library: throughput and latency')]
      : []),
    ...(report.http ? [retitle(renderInjection(report.http), '2. HTTP: injection paths')] : []),
    ...(report.bulk ? [renderBulk(report.bulk)] : []),
    ...(report.memory ? [renderMemory(report.memory)] : []),
  ].join('\n');
}

runBenchmark(main, async () => {
  await redis?.release();
  redis = undefined;
});
