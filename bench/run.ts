// The benchmark suite: npm run bench [-- --quick] [--sections library,http,bulk,memory] [--out DIR]
// Runs bench/library, bench/injection (in its own process tree), bench/bulk and bench/memory on
// one machine, in one run, against one Redis it starts (or REDIS_URL). Writes docs/benchmarks.md,
// benchmarks.svg and the raw figures in benchmarks.json (git-ignored); --quick (a smoke run for CI)
// writes to bench/results/. --render-only rewrites the Markdown and SVG from the JSON there.
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
type Section = (typeof SECTIONS)[number];

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
type TargetLine = Record<'section' | 'what' | 'target' | 'measured', string> & { met?: boolean };

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
  const suiteRedis = (redis = await acquireBenchRedis());
  /** A chosen section, run under its console banner (undefined, and left out, when not chosen). */
  const run = async <S>(name: Section, banner: string, measure: () => Promise<S>) => {
    if (!sections.includes(name)) return undefined;
    console.log(`== ${banner}`);
    return measure();
  };
  const quickOr = (full: string[]) => (quick ? ['--quick'] : full);
  // Both Node versions in a full library run; the smoke run keeps to the machine's own.
  report.library = await run('library', '1. library throughput', () =>
    runLibraryBenchmark(libraryArgs(quickOr(['--nodes', '20,24'])), suiteRedis, command),
  );
  report.http = await run('http', '2. HTTP injection paths (bench/injection, own processes)', () =>
    runInjection(quick, suiteRedis.url),
  );
  report.bulk = await run('bulk', '3. bulk flush and count', () =>
    runBulkBenchmark(bulkArgs(quickOr([])), suiteRedis, command),
  );
  report.memory = await run('memory', '4. memory over a long run', () =>
    runMemoryBenchmark(memoryArgs(quickOr([])), suiteRedis, command),
  );
  await writeReport(outDir, 'benchmarks', report, renderSuite);
  console.log(`Wrote ${writeChart(outDir, report)}\n`);
  for (const { section, what, target, measured, met } of targetLines(report)) {
    console.log(
      `${section}: ${what}: ${measured} (target ${target}) ${verdict(met)}`.replace(/\*/g, ''),
    );
  }
}

/**
 * The HTTP section is bench/injection's own run (each variant its own app process, autocannon in
 * another): run as a child into a scratch dir, its section read back from the JSON it writes.
 */
async function runInjection(quick: boolean, redisUrl: string): Promise<InjectionSection> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-http-'));
  // The child finds the suite's Redis through REDIS_URL (and so neither starts nor stops one).
  process.env.REDIS_URL = redisUrl;
  // The smoke run keeps to the machine's Node and production's.
  const options = [...(quick ? ['--quick', '--nodes', '20,24'] : []), '--out', scratch];
  try {
    await runChild(process.execPath, [benchScript('injection/run.js'), ...options], 60 * 60_000);
    const written = readReport<CoreReport>(scratch, 'benchmarks-core');
    if (!written?.injection) throw new Error('bench/injection wrote no injection section');
    return written.injection;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const count = (value: number) => value.toLocaleString('en-US');

function targetLines({ library, http, bulk, memory }: SuiteReport): TargetLine[] {
  const flush = bulk?.rows.find((row) => row.variant === 'flushDevice')?.summary;
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
            measured: formatRatio(flush?.ratio?.ratioMedian ?? NaN),
            met: bulkMet?.flushRatio,
          },
          {
            section: '3. bulk',
            what: 'GET p99 while `flushDevice()` runs',
            target: `< ${bulk.targets.getP99MsMax} ms`,
            measured: `${(flush?.getP99MsMedian ?? NaN).toFixed(1)} ms`,
            met: bulkMet?.getP99,
          },
        ]
      : []),
    ...(memory?.rows ?? [])
      .filter((row) => row.variant === 'contextual-cache')
      .map(({ growth }) => ({
        section: '4. memory',
        what: `heap and RSS growth from ${count(growth.fromOps)} to ${count(growth.toOps)} operations`,
        target: 'flat',
        measured: `heap ${growth.heapUsedMiB.toFixed(2)} MiB, RSS ${growth.rssMiB.toFixed(2)} MiB`,
        met: growth.flat,
      })),
  ];
}

const verdict = (met: boolean | undefined) =>
  met === undefined ? 'n/a' : met ? 'met' : '**missed**';

/** Writes benchmarks.svg: one panel per measured section (memory has no bar to draw). */
function writeChart(outDir: string, { library, http, bulk }: SuiteReport): string {
  const panels: ChartPanel[] = [
    library && {
      title: '1. Library GET (hit), 64 in flight',
      unit: 'ops/s',
      bars: libraryChartBars(library).map((bar) => ({
        ...bar,
        highlight: bar.label.startsWith('ContextualCache'),
      })),
    },
    http && {
      title: `2. HTTP cached read, req/s as a ratio of the raw-ioredis singleton controller`,
      unit: 'x',
      bars: http.rows
        .filter((row) => row.variant !== http.baseline)
        .map((row) => ({
          label: `${row.variant}, ${row.adapter}, Node ${row.nodeMajor}`,
          value: row.summary.ratioMedian,
          highlight: ['current-cache-decorator', 'constructor-injected'].includes(row.variant),
        })),
      marker: { value: 1, label: 'baseline' },
    },
    bulk && {
      title: `3. Bulk on ${count(bulk.settings.totalKeys)} keys (${count(bulk.settings.matching)} matching)`,
      unit: 'ms',
      bars: bulkChartBars(bulk).map((bar) => ({ ...bar, highlight: bar.label.endsWith('()') })),
    },
  ].filter((panel) => panel !== undefined);
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
    report.library && retitle(renderLibrary(report.library), '1. Library: throughput and latency'),
    report.http && retitle(renderInjection(report.http), '2. HTTP: injection paths'),
    report.bulk && renderBulk(report.bulk),
    report.memory && renderMemory(report.memory),
  ]
    .filter((part) => part !== undefined)
    .join('\n');
}

runBenchmark(main, async () => {
  await redis?.release();
  redis = undefined;
});
