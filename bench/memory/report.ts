// What the memory benchmark records (memory.json) and renders (memory.md, and the suite's section).
import { describeVariants, environmentLines, table, writeReport } from '../support/report';
import { formatInt, toMiB } from '../support/stats';
import type { runMemoryBenchmark } from './run';
import type { MemorySample, MemoryWorkerResult } from './variants';

/**
 * "No growth that keeps going": from the halfway sample to the last, heapUsed (after GC) may move
 * by at most this much. A leak of a few bytes per operation shows as megabytes over 500k.
 */
export const HEAP_FLAT_MIB = 1;
/** The same for RSS, looser: the allocator returns memory to the OS when it likes. */
export const RSS_FLAT_MIB = 8;

/** Memory from the halfway sample to the last. */
export interface MemoryGrowth {
  fromOps: number;
  toOps: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** heapUsed growth per operation, in bytes. */
  heapBytesPerOp: number;
  flat: boolean;
}

/** A worker's result, and what the orchestrator made of it. */
export interface MemoryRow extends Omit<MemoryWorkerResult, 'cpuMs'> {
  opsPerSec: number;
  /** CPU used by other work than the benchmark's processes during the run, in cores. */
  foreignCores: number;
  growth: MemoryGrowth;
}

/** What runMemoryBenchmark records: settings, environment and one row per variant. */
export type MemorySection = Awaited<ReturnType<typeof runMemoryBenchmark>>;

/** Growth from the sample nearest half the operations to the last. */
export function growthOf(series: readonly MemorySample[]): MemoryGrowth {
  const last = series[series.length - 1];
  const half = series.reduce((best, s) =>
    Math.abs(s.ops - last.ops / 2) < Math.abs(best.ops - last.ops / 2) ? s : best,
  );
  const rssMiB = toMiB(last.rssBytes - half.rssBytes);
  const heapUsedMiB = toMiB(last.heapUsedBytes - half.heapUsedBytes);
  return {
    fromOps: half.ops,
    toOps: last.ops,
    rssMiB,
    heapUsedMiB,
    heapBytesPerOp: (last.heapUsedBytes - half.heapUsedBytes) / Math.max(1, last.ops - half.ops),
    flat: heapUsedMiB <= HEAP_FLAT_MIB && rssMiB <= RSS_FLAT_MIB,
  };
}

const mib = (bytes: number) => toMiB(bytes).toFixed(1);
const signedMiB = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;

const VARIANT_LABELS: Record<string, string> = {
  'contextual-cache': '`ContextualCache`, metrics on',
  'raw-ioredis': 'raw ioredis',
};

export function renderMemory(section: MemorySection): string {
  const { settings: s, rows } = section;
  // The variants sample at the same operation counts: their series side by side.
  const marks = rows[0]?.series.map((sample) => sample.ops) ?? [];
  const at = (row: MemoryRow, ops: number) => row.series.find((sample) => sample.ops === ops);
  return [
    '## 4. Memory: a long run of cache operations',
    '',
    `Each variant is a fresh worker process (\`node --expose-gc\`, one ioredis connection) doing ${formatInt(s.ops)} operations, ${s.concurrency} in flight: ${Math.round(s.getShare * 100)} % gets (keys of which about half exist: hits and misses) and ${Math.round((1 - s.getShare) * 100)} % sets of a ${s.valueBytes}-byte value, each on a random one of ${formatInt(s.contexts)} app-and-device contexts. ` +
      `Every ${formatInt(s.sampleEvery)} operations the in-flight ones finish, the metrics registry is scraped (contextual-cache), GC runs twice and \`process.memoryUsage()\` is recorded. ` +
      `"Growth" is from the halfway sample to the last; it counts as flat when heapUsed moved by at most ${HEAP_FLAT_MIB} MiB and RSS by at most ${RSS_FLAT_MIB} MiB.`,
    '',
    table(rows, [
      ['Variant', (row) => VARIANT_LABELS[row.variant]],
      ['ops/s', (row) => formatInt(row.opsPerSec)],
      [
        'hits / misses / sets',
        (row) => [row.hits, row.misses, row.sets].map(formatInt).join(' / '),
      ],
      ['errors', (row) => formatInt(row.errors)],
      [
        'counted by metrics',
        (row) => (row.metricsCounted === undefined ? '' : formatInt(row.metricsCounted)),
      ],
      [
        'growth over ops',
        (row) => `${formatInt(row.growth.fromOps)} → ${formatInt(row.growth.toOps)}`,
      ],
      ['RSS MiB', (row) => signedMiB(row.growth.rssMiB)],
      ['heapUsed MiB', (row) => signedMiB(row.growth.heapUsedMiB)],
      ['heap bytes/op', (row) => row.growth.heapBytesPerOp.toFixed(2)],
      ['verdict', (row) => (row.growth.flat ? 'flat' : 'GROWING')],
    ]),
    '',
    table(marks, [
      ['Operations', (ops) => formatInt(ops)],
      ...rows.flatMap((row) => [
        [`${row.variant} RSS MiB`, (ops: number) => mib(at(row, ops)?.rssBytes ?? NaN)] as const,
        [
          `${row.variant} heapUsed MiB`,
          (ops: number) => mib(at(row, ops)?.heapUsedBytes ?? NaN),
        ] as const,
      ]),
    ]),
    '',
    '**Variants.**',
    '',
    ...describeVariants(section.descriptions, (v) => VARIANT_LABELS[v] ?? v),
    '',
    '**Run.**',
    '',
    ...environmentLines(section.environment, 'the workers'),
    `- Placement: ${s.pinning}; other load during the runs: ${rows.map((r) => r.foreignCores.toFixed(2)).join(', ')} cores`,
    `- Command: \`${s.command}\``,
    '',
  ].join('\n');
}

export const writeMemoryReport = (outDir: string, section: MemorySection) =>
  writeReport(
    outDir,
    'memory',
    section,
    (s) => `# Benchmark: memory over a long run\n\n${renderMemory(s)}`,
  );
