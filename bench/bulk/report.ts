// What the bulk benchmark records (bulk.json) and how it renders it (bulk.md, and the section and
// chart bars a combined report takes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { EnvironmentInfo } from '../support/environment';
import { repoRoot } from '../support/paths';
import { ratioSummary } from '../support/report';
import type { RatioSummary } from '../support/report';
import {
  formatInt,
  formatMs,
  formatRatio,
  markdownTable,
  max,
  median,
  min,
} from '../support/stats';
import type { GetLatency } from './get-windows';
import { BULK_VARIANTS, FLUSH_RATIO_TARGET, GET_P99_TARGET_MS } from './variants';
import type { BulkVariant } from './variants';

const MiB = 2 ** 20;

/** One operation in one round. */
export interface BulkRound {
  round: number;
  /** Its place in the round's order (the order of each pair alternates between rounds). */
  position: number;
  ms: number;
  /** Keys deleted or counted, as the operation reported; always `expected` (checked). */
  count: number;
  expected: number;
  /** DBSIZE right before and after: a flush removes exactly `expected`, a count nothing. */
  dbsizeBefore: number;
  dbsizeAfter: number;
  scans?: number;
  /** The worker's CPU time during the operation. */
  opCpuMs: number;
  /** The GETs the other client sent while the operation ran. */
  get: GetLatency;
  rssBeforeMiB: number;
  /** Highest RSS during the operation minus RSS right before it (after a forced GC). */
  rssPeakDeltaMiB: number;
  rssPeakSampled: boolean;
  heapUsedPeakDeltaMiB: number;
  /** CPU used by other work than the benchmark's processes during the operation, in cores. */
  foreignCores: number;
  attempts: number;
}

export interface BulkRow {
  variant: BulkVariant;
  /** The hand-written loop this module operation is held against; none for the loops. */
  baseline?: BulkVariant;
  rounds: BulkRound[];
  summary: {
    msMedian: number;
    msMin: number;
    msMax: number;
    opCpuMsMedian: number;
    getP50MsMedian: number;
    getP99MsMedian: number;
    getP99MsWorst: number;
    getMaxMs: number;
    getFailed: number;
    rssPeakDeltaMiBMedian: number;
    rssPeakDeltaMiBMax: number;
    heapUsedPeakDeltaMiBMedian: number;
    /** Time ÷ the baseline's in the same round: median, lowest and highest round. */
    ratio?: RatioSummary;
  };
}

export interface BulkSettings {
  mode: 'default' | 'quick';
  rounds: number;
  totalKeys: number;
  matching: number;
  fillerApps: number;
  targetApps: number;
  valueBytes: number;
  scanCount: number;
  getConcurrency: number;
  getRatePerS: number;
  idleWindowMs: number;
  db: number;
  /** Keys in that database that were not the benchmark's (0 unless --allow-shared). */
  foreignKeys: number;
  populateS: number;
  quietCores: number;
  maxForeignCores: number;
  retries: number;
  pinning: string;
  nodeArgs: string[];
  command: string;
}

export interface BulkSection {
  settings: BulkSettings;
  environment: EnvironmentInfo;
  descriptions: Record<string, string>;
  targets: { flushRatioMax: number; getP99MsMax: number };
  /** GET latency with no operation running, per round: the floor the others compare with. */
  idle: { round: number; get: GetLatency }[];
  rows: BulkRow[];
}

/** Fills in every row's summary from its rounds. */
export function summariseBulk(rows: BulkRow[]): void {
  for (const row of rows) {
    const { rounds } = row;
    const base = row.baseline ? rows.find((r) => r.variant === row.baseline) : undefined;
    row.summary = {
      msMedian: median(rounds.map((r) => r.ms)),
      msMin: min(rounds.map((r) => r.ms)),
      msMax: max(rounds.map((r) => r.ms)),
      opCpuMsMedian: median(rounds.map((r) => r.opCpuMs)),
      getP50MsMedian: median(rounds.map((r) => r.get.p50Ms)),
      getP99MsMedian: median(rounds.map((r) => r.get.p99Ms)),
      getP99MsWorst: max(rounds.map((r) => r.get.p99Ms)),
      getMaxMs: max(rounds.map((r) => r.get.maxMs)),
      getFailed: rounds.reduce((sum, r) => sum + r.get.failed, 0),
      rssPeakDeltaMiBMedian: median(rounds.map((r) => r.rssPeakDeltaMiB)),
      rssPeakDeltaMiBMax: max(rounds.map((r) => r.rssPeakDeltaMiB)),
      heapUsedPeakDeltaMiBMedian: median(rounds.map((r) => r.heapUsedPeakDeltaMiB)),
      ...(base && { ratio: ratioSummary(rounds, base.rounds, (r) => r.ms) }),
    };
  }
}

export const toMiB = (bytes: number) => bytes / MiB;

const VARIANT_LABELS: Record<BulkVariant, string> = {
  flushDevice: '`flushDevice()`',
  'scan-unlink-loop': 'SCAN + UNLINK loop',
  stats: '`stats()`',
  'scan-count-loop': 'SCAN count loop',
};

/** The bars of the chart: median ms of each operation, each module one beside its loop. */
export function bulkChartBars(section: BulkSection): { label: string; value: number }[] {
  const labels: Record<BulkVariant, string> = {
    flushDevice: 'flushDevice()',
    'scan-unlink-loop': 'SCAN + UNLINK loop',
    stats: 'stats()',
    'scan-count-loop': 'SCAN count loop',
  };
  return BULK_VARIANTS.flatMap((variant) => {
    const row = section.rows.find((r) => r.variant === variant);
    return row ? [{ label: labels[variant], value: row.summary.msMedian }] : [];
  });
}

const mib = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : 'n/a');

function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

/** Whether the issue's two targets are met (on medians over rounds). */
export function bulkTargets(section: BulkSection): { flushRatio?: boolean; getP99?: boolean } {
  const flush = section.rows.find((r) => r.variant === 'flushDevice');
  const ratio = flush?.summary.ratio?.ratioMedian;
  return {
    flushRatio: ratio === undefined ? undefined : ratio <= section.targets.flushRatioMax,
    getP99: flush ? flush.summary.getP99MsMedian < section.targets.getP99MsMax : undefined,
  };
}

export function renderBulk(section: BulkSection): string {
  const { settings, rows } = section;
  const out: string[] = [];
  out.push('## 3. Bulk: `flushDevice` and `stats` on a large database', '');
  out.push(
    `A database of ${formatInt(settings.totalKeys)} keys shaped like cache keys (\`/{app}/{device}/{key}\`, ${settings.valueBytes}-byte values): ${formatInt(settings.matching)} belong to the target device (spread over ${settings.targetApps} apps) and ${formatInt(settings.matching)} to the app-and-device that \`stats\` counts; the other ${formatInt(settings.totalKeys - 2 * settings.matching)} are spread over ${settings.fillerApps} apps × ${formatInt((settings.totalKeys - 2 * settings.matching) / (settings.fillerApps * 10))} devices × 10 keys. ` +
      `Each operation runs in a fresh worker process (one ioredis connection; SCAN \`COUNT ${settings.scanCount}\` everywhere), timed from the call to its result; before each, the target device's keys are written again so every run scans the same database. ` +
      `Every run is checked: the count is ${formatInt(settings.matching)}, a flush lowers DBSIZE by exactly that and leaves none of the target keys, a count changes nothing. ` +
      `Meanwhile another process, on its own connection, sends GETs of random other keys (hits) from ${settings.getConcurrency} loops paced to ${formatInt(settings.getRatePerS)} GETs/s in all; "GET" columns are the GETs sent while the operation ran (p50, p99: medians over rounds; worst p99 and max: over all rounds). ` +
      `"peak RSS Δ" is the worker's highest resident memory during the operation (kernel high-water mark, reset just before it) minus its RSS right before (after a forced GC); "peak heap Δ" the same for V8's heapUsed, sampled every 5 ms. ` +
      `${settings.rounds} round(s), the order within each pair alternating between rounds; medians over rounds. "vs loop" is the median of per-round ratios of time.`,
    '',
  );
  out.push(
    `Targets (from the issue): \`flushDevice\` at most ${FLUSH_RATIO_TARGET.toFixed(1)}x the hand-written loop's time; GET p99 under ${GET_P99_TARGET_MS} ms while it runs.`,
    '',
  );

  const table = rows.map((row) => {
    const { summary } = row;
    const ratio = summary.ratio;
    let target = '';
    if (row.variant === 'flushDevice') {
      const { flushRatio, getP99 } = bulkTargets(section);
      target = `time ≤ ${FLUSH_RATIO_TARGET}x: ${verdict(flushRatio === true)}; GET p99 < ${GET_P99_TARGET_MS} ms: ${verdict(getP99 === true)}`;
    }
    return [
      VARIANT_LABELS[row.variant],
      formatMs(summary.msMedian),
      `${formatMs(summary.msMin)}–${formatMs(summary.msMax)}`,
      ratio ? formatRatio(ratio.ratioMedian) : '',
      ratio ? `${formatRatio(ratio.ratioMin)}–${formatRatio(ratio.ratioMax)}` : '',
      target,
      formatInt(row.rounds[0]?.expected ?? Number.NaN),
      formatMs(summary.opCpuMsMedian),
      formatMs(summary.getP50MsMedian),
      formatMs(summary.getP99MsMedian),
      formatMs(summary.getP99MsWorst),
      formatMs(summary.getMaxMs),
      mib(summary.rssPeakDeltaMiBMedian),
      mib(summary.heapUsedPeakDeltaMiBMedian),
      formatLoad(row.rounds),
    ];
  });
  const idle = section.idle.map((i) => i.get);
  table.push([
    `(no operation, ${(settings.idleWindowMs / 1000).toFixed(0)} s)`,
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    formatMs(median(idle.map((g) => g.p50Ms))),
    formatMs(median(idle.map((g) => g.p99Ms))),
    formatMs(max(idle.map((g) => g.p99Ms))),
    formatMs(max(idle.map((g) => g.maxMs))),
    '',
    '',
    '',
  ]);
  out.push(
    markdownTable(
      [
        'Operation',
        'ms (median)',
        'ms per round',
        'vs loop',
        'ratio per round',
        'target',
        'keys',
        'worker CPU ms',
        'GET p50 ms',
        'GET p99 ms',
        'worst GET p99 ms',
        'GET max ms',
        'peak RSS Δ MiB',
        'peak heap Δ MiB',
        'other load',
      ],
      table,
    ),
    '',
  );

  const failed = rows.reduce((sum, row) => sum + row.summary.getFailed, 0);
  const gets = rows.reduce((sum, row) => sum + row.rounds.reduce((s, r) => s + r.get.gets, 0), 0);
  out.push(
    `GETs measured during operations: ${formatInt(gets)}, of which failed or missed: ${formatInt(failed)}.`,
    '',
  );

  out.push('**Operations.**', '');
  for (const [variant, description] of Object.entries(section.descriptions)) {
    out.push(`- ${VARIANT_LABELS[variant as BulkVariant] ?? variant}: ${description}`);
  }
  out.push('', '**Run.**', '');
  const env = section.environment;
  out.push(
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(', ')}`,
    `- Redis: ${env.redis.version} on loopback${env.redis.owned ? ', started by the benchmark' : ' (REDIS_URL)'}, database ${settings.db}${settings.foreignKeys > 0 ? ` (shared: ${formatInt(settings.foreignKeys)} other keys)` : ''}; filled in ${settings.populateS.toFixed(1)} s with pipelined SETs`,
    `- Packages: ${Object.entries(env.packages)
      .filter(([, version]) => version !== 'not installed')
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
    `- Placement: ${settings.pinning}`,
    `- Command: \`${settings.command}\``,
    '',
  );
  return out.join('\n');
}

function formatLoad(rounds: readonly { foreignCores: number; attempts: number }[]): string {
  const worst = max(rounds.map((r) => r.foreignCores));
  const redone = rounds.filter((r) => r.attempts > 1).length;
  return `${Number.isFinite(worst) ? worst.toFixed(2) : 'n/a'}${redone > 0 ? ` (${redone} redone)` : ''}`;
}

/** Writes bulk.json and bulk.md (formatted with the repo's Prettier) into `outDir`. */
export async function writeBulkReport(
  outDir: string,
  section: BulkSection,
): Promise<{ json: string; markdown: string }> {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'bulk.json');
  const markdownPath = join(outDir, 'bulk.md');
  writeFileSync(jsonPath, `${JSON.stringify(section, null, 2)}\n`);
  const markdown = `# Benchmark: bulk operations\n\n${renderBulk(section)}`;
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  return { json: relative(repoRoot, jsonPath), markdown: relative(repoRoot, markdownPath) };
}
