// What the bulk benchmark records (bulk.json) and renders (bulk.md, and the suite's section and
// chart bars).
import {
  describeVariants,
  runBlock,
  formatLoad,
  medianOf,
  ratioRange,
  ratioSummary,
  sumOf,
  table,
  valueRange,
  writeReport,
} from '../support/report';
import type { Column } from '../support/report';
import { formatInt, formatMs, formatRatio, max } from '../support/stats';
import type { GetLatency } from './get-load';
import type { measureOperation, runBulkBenchmark } from './run';
import { BULK_VARIANTS } from './worker';
import type { BulkVariant } from './worker';

/** Targets from the issue. */
export const FLUSH_RATIO_TARGET = 1.1;
export const GET_P99_TARGET_MS = 5;

export const BULK_VARIANT_DESCRIPTIONS: Record<BulkVariant, string> = {
  flushDevice:
    '`RedisCache.fromClient(client).withContext(app, device).flushDevice()`: SCAN `MATCH /*/{device}/* COUNT 1000`, each key checked for the exact `/{app}/{device}/{key}` shape, one UNLINK per non-empty batch sent while the next SCAN runs',
  'scan-unlink-loop':
    "hand-written: `client.scan(cursor, 'MATCH', '/*/{device}/*', 'COUNT', 1000)`, then `await client.unlink(...keys)` for each non-empty batch, one after the other",
  stats:
    '`withContext(app, device).stats()`: SCAN `MATCH /{app}/{device}/* COUNT 1000`, exact-shape check, distinct keys counted in a Set',
  'scan-count-loop':
    "hand-written: `client.scan(cursor, 'MATCH', '/{app}/{device}/*', 'COUNT', 1000)`, adding up `keys.length`",
};

/** One operation in one round: its worker's result, checked against DBSIZE. */
export type BulkRound = Awaited<ReturnType<typeof measureOperation>>;

export type BulkRow = ReturnType<typeof summariseBulk>[number];

/** What runBulkBenchmark records: settings, environment, idle GET windows and the rows. */
export type BulkSection = Awaited<ReturnType<typeof runBulkBenchmark>>;

/** GET p50 and p99 (medians over windows), the worst p99 and the slowest GET. */
const summariseGets = (gets: readonly GetLatency[]) => ({
  getP50MsMedian: medianOf(gets, (g) => g.p50Ms),
  getP99MsMedian: medianOf(gets, (g) => g.p99Ms),
  getP99MsWorst: max(gets.map((g) => g.p99Ms)),
  getMaxMs: max(gets.map((g) => g.maxMs)),
});

/** Medians over rounds (worst and max where a tail matters), and ratios to the paired loop. */
export function summariseBulk(
  // `baseline`: the hand-written loop a module operation is held against (none for the loops).
  rows: readonly { variant: BulkVariant; baseline?: BulkVariant; rounds: BulkRound[] }[],
) {
  return rows.map((row) => {
    const { rounds } = row;
    const base = rows.find((r) => r.variant === row.baseline);
    return {
      ...row,
      summary: {
        msMedian: medianOf(rounds, (r) => r.ms),
        opCpuMsMedian: medianOf(rounds, (r) => r.opCpuMs),
        ...summariseGets(rounds.map((r) => r.get)),
        getFailed: sumOf(rounds, (r) => r.get.failed),
        rssPeakDeltaMiBMedian: medianOf(rounds, (r) => r.rssPeakDeltaMiB),
        rssPeakDeltaMiBMax: max(rounds.map((r) => r.rssPeakDeltaMiB)),
        heapUsedPeakDeltaMiBMedian: medianOf(rounds, (r) => r.heapUsedPeakDeltaMiB),
        ...(base && { ratio: ratioSummary(rounds, base.rounds, (r) => r.ms) }),
      },
    };
  });
}

const LABELS: Record<BulkVariant, string> = {
  flushDevice: 'flushDevice()',
  'scan-unlink-loop': 'SCAN + UNLINK loop',
  stats: 'stats()',
  'scan-count-loop': 'SCAN count loop',
};
const label = (variant: string) =>
  variant.endsWith('-loop')
    ? LABELS[variant as BulkVariant]
    : `\`${LABELS[variant as BulkVariant] ?? variant}\``;

/** The bars of the chart: median ms of each operation, each module one beside its loop. */
export function bulkChartBars(section: BulkSection): { label: string; value: number }[] {
  return BULK_VARIANTS.flatMap((variant) => {
    const row = section.rows.find((r) => r.variant === variant);
    return row ? [{ label: LABELS[variant], value: row.summary.msMedian }] : [];
  });
}

const mib = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : 'n/a');
const verdict = (met: boolean | undefined) => (met ? 'met' : 'MISSED');

/** Whether the issue's two targets are met (on medians over rounds). */
export function bulkTargets(section: BulkSection): { flushRatio?: boolean; getP99?: boolean } {
  const flush = section.rows.find((r) => r.variant === 'flushDevice');
  const ratio = flush?.summary.ratio?.ratioMedian;
  return {
    flushRatio: ratio === undefined ? undefined : ratio <= section.targets.flushRatioMax,
    getP99: flush ? flush.summary.getP99MsMedian < section.targets.getP99MsMax : undefined,
  };
}

/** A line of the table: an operation, or the idle windows (where only the GET columns apply). */
interface Line {
  operation: string;
  gets: ReturnType<typeof summariseGets>;
  row?: BulkRow;
}

function columns(section: BulkSection): Column<Line>[] {
  const { flushRatio, getP99 } = bulkTargets(section);
  const op = (cell: (row: BulkRow) => string) => (line: Line) => (line.row ? cell(line.row) : '');
  return [
    ['Operation', (line) => line.operation],
    ['ms (median)', op((row) => formatMs(row.summary.msMedian))],
    [
      'ms per round',
      op((row) =>
        valueRange(
          row.rounds.map((r) => r.ms),
          formatMs,
        ),
      ),
    ],
    ['vs loop', op((row) => (row.summary.ratio ? formatRatio(row.summary.ratio.ratioMedian) : ''))],
    ['ratio per round', op((row) => ratioRange(row.summary.ratio))],
    [
      'target',
      op((row) =>
        row.variant === 'flushDevice'
          ? `time ≤ ${FLUSH_RATIO_TARGET}x: ${verdict(flushRatio)}; GET p99 < ${GET_P99_TARGET_MS} ms: ${verdict(getP99)}`
          : '',
      ),
    ],
    ['keys', op((row) => formatInt(row.rounds[0]?.expected ?? NaN))],
    ['worker CPU ms', op((row) => formatMs(row.summary.opCpuMsMedian))],
    ['GET p50 ms', (line) => formatMs(line.gets.getP50MsMedian)],
    ['GET p99 ms', (line) => formatMs(line.gets.getP99MsMedian)],
    ['worst GET p99 ms', (line) => formatMs(line.gets.getP99MsWorst)],
    ['GET max ms', (line) => formatMs(line.gets.getMaxMs)],
    ['peak RSS Δ MiB', op((row) => mib(row.summary.rssPeakDeltaMiBMedian))],
    ['peak heap Δ MiB', op((row) => mib(row.summary.heapUsedPeakDeltaMiBMedian))],
    ['other load', op((row) => formatLoad(row.rounds))],
  ];
}

export function renderBulk(section: BulkSection): string {
  const { settings: s } = section;
  const lines: Line[] = [
    ...section.rows.map((row) => ({ operation: label(row.variant), gets: row.summary, row })),
    {
      operation: `(no operation, ${(s.idleWindowMs / 1000).toFixed(0)} s)`,
      gets: summariseGets(section.idle.map((i) => i.get)),
    },
  ];
  return [
    '## 3. Bulk: `flushDevice` and `stats` on a large database',
    '',
    `A database of ${formatInt(s.totalKeys)} keys shaped like cache keys (\`/{app}/{device}/{key}\`, ${s.valueBytes}-byte values): ${formatInt(s.matching)} belong to the target device (spread over ${s.targetApps} apps) and ${formatInt(s.matching)} to the app-and-device that \`stats\` counts; the other ${formatInt(s.totalKeys - 2 * s.matching)} are spread over ${s.fillerApps} apps × ${formatInt((s.totalKeys - 2 * s.matching) / (s.fillerApps * 10))} devices × 10 keys. ` +
      `Each operation runs in a fresh worker process (one ioredis connection; SCAN \`COUNT ${s.scanCount}\` everywhere), timed from the call to its result; before each, the target device's keys are written again so every run scans the same database. ` +
      `Every run is checked: the count is ${formatInt(s.matching)}, a flush lowers DBSIZE by exactly that and leaves none of the target keys, a count changes nothing. ` +
      `Meanwhile another process, on its own connection, sends GETs of random other keys (hits) from ${s.getConcurrency} loops paced to ${formatInt(s.getRatePerS)} GETs/s in all; "GET" columns are the GETs sent while the operation ran (p50, p99: medians over rounds; worst p99 and max: over all rounds). ` +
      `"peak RSS Δ" is the worker's highest resident memory during the operation (kernel high-water mark, reset just before it) minus its RSS right before (after a forced GC); "peak heap Δ" the same for V8's heapUsed, sampled every 5 ms. ` +
      `${s.rounds} round(s), the order within each pair alternating between rounds; medians over rounds. "vs loop" is the median of per-round ratios of time.`,
    '',
    `Targets (from the issue): \`flushDevice\` at most ${FLUSH_RATIO_TARGET.toFixed(1)}x the hand-written loop's time; GET p99 under ${GET_P99_TARGET_MS} ms while it runs.`,
    '',
    table(lines, columns(section)),
    '',
    `GETs measured during operations: ${formatInt(sumOf(section.rows, (row) => sumOf(row.rounds, (r) => r.get.gets)))}, of which failed or missed: ${formatInt(sumOf(section.rows, (row) => row.summary.getFailed))}.`,
    '',
    '**Operations.**',
    '',
    ...describeVariants(section.descriptions, label),
    '',
    ...runBlock(section.environment, 'the workers', s, {
      redisNote: `on loopback${section.environment.redis.owned ? ', started by the benchmark' : ' (REDIS_URL)'}, database ${s.db}${s.foreignKeys > 0 ? ` (shared: ${formatInt(s.foreignKeys)} other keys)` : ''}; filled in ${s.populateS.toFixed(1)} s with pipelined SETs`,
    }),
    '',
  ].join('\n');
}

export const writeBulkReport = (outDir: string, section: BulkSection) =>
  writeReport(outDir, 'bulk', section, (s) => `# Benchmark: bulk operations\n\n${renderBulk(s)}`);
