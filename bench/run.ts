// The benchmark suite: npm run bench [-- --quick] [--sections library,http,bulk,memory]
//
// Runs, on one machine in one run and against one Redis it starts (or REDIS_URL): library
// throughput (bench/library), HTTP injection paths (bench/injection, in its own process tree),
// bulk flush and count on a large database (bench/bulk) and memory over a long run (bench/memory).
// Writes docs/benchmarks.md (medians, targets, analysis), docs/benchmarks.svg and the raw figures
// in docs/benchmarks.json; --quick (a smoke run for CI) writes to bench/results/ instead.
// --render-only rewrites the Markdown and SVG from the JSON already there (after editing the
// analysis block, or the renderers).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { runBulkBenchmark, renderBulk, bulkChartBars } from './bulk/run';
import type { BulkSection } from './bulk/run';
import { bulkTargets } from './bulk/report';
import { libraryChartBars, renderLibrary, runLibraryBenchmark } from './library/run';
import type { LibrarySection } from './library/run';
import { renderMemory, runMemoryBenchmark } from './memory/run';
import type { MemorySection } from './memory/run';
import { Args } from './support/args';
import { runToCompletion } from './support/child';
import { repoRoot, benchScript } from './support/paths';
import { acquireBenchRedis } from './support/redis';
import { benchCommand } from './support/run-control';
import type { BenchRedis } from './support/redis';
import { INJECTION_TARGETS, renderInjection } from './support/report';
import type { InjectionSection, ReportFile } from './support/report';
import { renderBarChart } from './support/svg-chart';
import type { ChartPanel } from './support/svg-chart';
import { formatRatio } from './support/stats';

const SECTIONS = ['library', 'http', 'bulk', 'memory'] as const;
type SectionName = (typeof SECTIONS)[number];

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

const INJECTION_TIMEOUT_MS = 60 * 60_000;

const ANALYSIS_START = '<!-- analysis:start (kept when the report is regenerated) -->';
const ANALYSIS_END = '<!-- analysis:end -->';

let redis: BenchRedis | undefined;

async function main(): Promise<void> {
  const args = new Args(process.argv.slice(2));
  const quick = args.flag('quick');
  const sections = args.list('sections', SECTIONS, SECTIONS) as SectionName[];
  const outDir = args.string('out') ?? join(repoRoot, quick ? 'bench/results' : 'docs');
  if (args.flag('render-only')) {
    const saved = JSON.parse(readFileSync(join(outDir, 'benchmarks.json'), 'utf8')) as SuiteReport;
    await writeOutputs(outDir, saved);
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
    const nodes = quick ? ['20'] : ['20', '24'];
    report.library = await runLibraryBenchmark({ quick, nodes, redis, command });
  }
  if (sections.includes('http')) {
    console.log('== 2. HTTP injection paths (bench/injection, own processes)');
    report.http = await runInjection(quick, redis.url);
  }
  if (sections.includes('bulk')) {
    console.log('== 3. bulk flush and count');
    report.bulk = await runBulkBenchmark({ quick, redis, command });
  }
  if (sections.includes('memory')) {
    console.log('== 4. memory over a long run');
    report.memory = await runMemoryBenchmark({ quick, redis, command });
  }

  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeOutputs(outDir, report);
  console.log(`\n${targetLines(report).map(describeTarget).join('\n')}`);
}

/** The Markdown (keeping its analysis block) and the SVG chart of a report. */
async function writeOutputs(outDir: string, report: SuiteReport): Promise<void> {
  const jsonPath = join(outDir, 'benchmarks.json');
  const markdownPath = join(outDir, 'benchmarks.md');
  const svgPath = join(outDir, 'benchmarks.svg');
  writeFileSync(svgPath, renderBarChart('npm run bench: medians over rounds', chartPanels(report)));
  const markdown = renderSuite(report, existingAnalysis(markdownPath));
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  console.log(
    `Wrote ${[markdownPath, svgPath, jsonPath].map((p) => relative(repoRoot, p)).join(', ')}`,
  );
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
    await runToCompletion(
      process.execPath,
      [
        benchScript('injection/run.js'),
        // The smoke run keeps to the machine's Node and production's.
        ...(quick ? ['--quick', '--nodes', '20,24'] : []),
        '--out',
        scratch,
      ],
      INJECTION_TIMEOUT_MS,
    );
    const written = JSON.parse(
      readFileSync(join(scratch, 'benchmarks-core.json'), 'utf8'),
    ) as ReportFile;
    if (!written.injection) throw new Error('bench/injection wrote no injection section');
    return written.injection;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function targetLines(report: SuiteReport): TargetLine[] {
  const lines: TargetLine[] = [];
  for (const target of report.library?.targets ?? []) {
    lines.push({
      section: '1. library',
      what: `\`${target.variant}\` vs \`${target.reference}\` (${target.nodeVersion})`,
      target: `≥ ${formatRatio(target.target)}`,
      measured: formatRatio(target.ratio.ratioMedian),
      met: target.met,
    });
  }
  const http = report.http;
  if (http) {
    for (const row of http.rows) {
      const goal = INJECTION_TARGETS[row.variant];
      if (goal === undefined) continue;
      lines.push({
        section: '2. HTTP',
        what: `\`${row.variant}\` vs \`${http.baseline}\` (${row.adapter}, Node ${row.nodeMajor})`,
        target: `≥ ${formatRatio(goal)}`,
        measured: formatRatio(row.summary.ratioMedian),
        met: row.summary.ratioMedian >= goal,
      });
    }
  }
  if (report.bulk) {
    const met = bulkTargets(report.bulk);
    const flush = report.bulk.rows.find((row) => row.variant === 'flushDevice');
    lines.push(
      {
        section: '3. bulk',
        what: '`flushDevice()` time vs the SCAN + UNLINK loop',
        target: `≤ ${formatRatio(report.bulk.targets.flushRatioMax)}`,
        measured: formatRatio(flush?.summary.ratio?.ratioMedian ?? NaN),
        met: met.flushRatio,
      },
      {
        section: '3. bulk',
        what: 'GET p99 while `flushDevice()` runs',
        target: `< ${report.bulk.targets.getP99MsMax} ms`,
        measured: `${(flush?.summary.getP99MsMedian ?? NaN).toFixed(1)} ms`,
        met: met.getP99,
      },
    );
  }
  for (const row of report.memory?.rows ?? []) {
    if (row.variant !== 'contextual-cache') continue;
    lines.push({
      section: '4. memory',
      what: `heap and RSS growth from ${row.growth.fromOps.toLocaleString('en-US')} to ${row.growth.toOps.toLocaleString('en-US')} operations`,
      target: 'flat',
      measured: `heap ${row.growth.heapUsedMiB.toFixed(2)} MiB, RSS ${row.growth.rssMiB.toFixed(2)} MiB`,
      met: row.growth.flat,
    });
  }
  return lines;
}

const verdict = (met: boolean | undefined) =>
  met === undefined ? 'n/a' : met ? 'met' : '**missed**';

function describeTarget(line: TargetLine): string {
  return `${line.section}: ${line.what}: ${line.measured} (target ${line.target}) ${verdict(line.met).replace(/\*/g, '')}`;
}

function chartPanels(report: SuiteReport): ChartPanel[] {
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
    const rows = report.http.rows.filter((row) => row.variant !== report.http?.baseline);
    panels.push({
      title: `2. HTTP cached read, req/s as a ratio of the raw-ioredis singleton controller`,
      unit: 'x',
      bars: rows.map((row) => ({
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
  return panels;
}

function renderSuite(report: SuiteReport, analysis: string): string {
  const out: string[] = ['# Benchmarks', ''];
  out.push(
    `Generated by \`${report.command}\` on ${report.date.slice(0, 16).replace('T', ' ')} UTC (see \`bench/\`): every section in one run, on one machine, against one Redis. Ratios are taken within a round; absolute figures move 10-20 % between runs on this 2-core machine. Raw figures: \`benchmarks.json\`, written next to this file by the run (not committed).`,
    '',
    '![Benchmark medians](benchmarks.svg)',
    '',
    '## Targets',
    '',
    '| section | what | target | measured (median) | verdict |',
    '| --- | --- | --- | --- | --- |',
    ...targetLines(report).map(
      (line) =>
        `| ${line.section} | ${line.what} | ${line.target} | ${line.measured} | ${verdict(line.met)} |`,
    ),
    '',
    ANALYSIS_START,
    analysis.trim() === '' ? '' : `\n${analysis.trim()}\n`,
    ANALYSIS_END,
    '',
  );
  // Each section renderer opens with its own `##` heading: numbered here as the issue numbers them.
  if (report.library)
    out.push(retitle(renderLibrary(report.library), '1. Library: throughput and latency'));
  if (report.http) out.push(retitle(renderInjection(report.http), '2. HTTP: injection paths'));
  if (report.bulk) out.push(renderBulk(report.bulk));
  if (report.memory) out.push(renderMemory(report.memory));
  return out.join('\n');
}

function retitle(markdown: string, title: string): string {
  return markdown.replace(/^## .*$/m, `## ${title}`);
}

function existingAnalysis(markdownPath: string): string {
  if (!existsSync(markdownPath)) return '';
  const text = readFileSync(markdownPath, 'utf8');
  const start = text.indexOf(ANALYSIS_START);
  const end = text.indexOf(ANALYSIS_END);
  return start >= 0 && end > start ? text.slice(start + ANALYSIS_START.length, end) : '';
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await redis?.release();
  });
