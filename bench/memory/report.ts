// What the memory benchmark records (memory.json) and renders (memory.md, and the suite's section).
import { describeVariants, runBlock, table, writeReport } from '../support/report';
import { formatInt, toMiB } from '../support/stats';
import type { runMemoryBenchmark } from './run';
import type { MemorySample } from './variants';

/**
 * "No growth that keeps going": from the halfway sample to the last, heapUsed (after GC) may move
 * by at most this much (a leak of a few bytes per operation shows as megabytes over 500k), RSS by
 * the looser second (the allocator returns memory to the OS when it likes).
 */
export const HEAP_FLAT_MIB = 1;
export const RSS_FLAT_MIB = 8;

export type MemorySection = Awaited<ReturnType<typeof runMemoryBenchmark>>;
/** A worker's result, and what the orchestrator made of it. */
export type MemoryRow = MemorySection['rows'][number];

/** Memory growth from the sample nearest half the operations to the last. */
export function growthOf(series: readonly MemorySample[]) {
  const last = series[series.length - 1];
  const distance = (s: MemorySample) => Math.abs(s.ops - last.ops / 2);
  const half = series.reduce((best, s) => (distance(s) < distance(best) ? s : best));
  const heapBytes = last.heapUsedBytes - half.heapUsedBytes;
  const rssMiB = toMiB(last.rssBytes - half.rssBytes);
  const heapUsedMiB = toMiB(heapBytes);
  return {
    fromOps: half.ops,
    toOps: last.ops,
    rssMiB,
    heapUsedMiB,
    /** heapUsed growth per operation, in bytes. */
    heapBytesPerOp: heapBytes / Math.max(1, last.ops - half.ops),
    flat: heapUsedMiB <= HEAP_FLAT_MIB && rssMiB <= RSS_FLAT_MIB,
  };
}

const mib = (bytes: number) => toMiB(bytes).toFixed(1);
const signedMiB = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
const percent = (share: number) => Math.round(share * 100);

const VARIANT_LABELS: Record<string, string> = {
  'contextual-cache': '`ContextualCache`, metrics on',
  'raw-ioredis': 'raw ioredis',
};

export function renderMemory(section: MemorySection): string {
  const { settings: s, rows } = section;
  // The variants sample at the same operation counts: their series side by side.
  const marks = rows[0]?.series.map((sample) => sample.ops) ?? [];
  const seriesColumn = (row: MemoryRow, header: string, bytes: (at: MemorySample) => number) =>
    [
      `${row.variant} ${header}`,
      (ops: number) => {
        const at = row.series.find((sample) => sample.ops === ops);
        return mib(at ? bytes(at) : NaN);
      },
    ] as const;
  return [
    '## 4. Memory: a long run of cache operations',
    '',
    `Each variant is a fresh worker process (\`node --expose-gc\`, one ioredis connection) doing ${formatInt(s.ops)} operations, ${s.concurrency} in flight: ${percent(s.getShare)} % gets (keys of which about half exist: hits and misses) and ${percent(1 - s.getShare)} % sets of a ${s.valueBytes}-byte value, each on a random one of ${formatInt(s.contexts)} app-and-device contexts. ` +
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
        ({ growth }) => `${formatInt(growth.fromOps)} → ${formatInt(growth.toOps)}`,
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
        seriesColumn(row, 'RSS MiB', (at) => at.rssBytes),
        seriesColumn(row, 'heapUsed MiB', (at) => at.heapUsedBytes),
      ]),
    ]),
    '',
    '**Variants.**',
    '',
    ...describeVariants(section.descriptions, (v) => VARIANT_LABELS[v] ?? v),
    '',
    ...runBlock(section.environment, 'the workers', s, {
      placement: `${s.pinning}; other load during the runs: ${rows.map((r) => r.foreignCores.toFixed(2)).join(', ')} cores`,
    }),
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
