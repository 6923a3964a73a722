// What the memory benchmark records (memory.json) and how it renders it (memory.md, and the
// section a combined report takes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { EnvironmentInfo } from '../support/environment';
import { repoRoot } from '../support/paths';
import { formatInt, markdownTable } from '../support/stats';
import type { MemorySample, MemoryVariant } from './variants';

const MiB = 2 ** 20;

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

export interface MemoryRow {
  variant: MemoryVariant;
  ops: number;
  hits: number;
  misses: number;
  sets: number;
  errors: number;
  /** Operations the cache's metrics counted (contextual-cache): checked to equal `ops`. */
  metricsCounted?: number;
  seconds: number;
  opsPerSec: number;
  /** CPU used by other work than the benchmark's processes during the run, in cores. */
  foreignCores: number;
  series: MemorySample[];
  growth: MemoryGrowth;
}

export interface MemorySettings {
  mode: 'default' | 'quick';
  ops: number;
  sampleEvery: number;
  concurrency: number;
  getShare: number;
  contexts: number;
  valueBytes: number;
  heapFlatMiB: number;
  rssFlatMiB: number;
  pinning: string;
  nodeArgs: string[];
  command: string;
}

export interface MemorySection {
  settings: MemorySettings;
  environment: EnvironmentInfo;
  descriptions: Record<string, string>;
  rows: MemoryRow[];
}

export const toMiB = (bytes: number) => bytes / MiB;

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

const VARIANT_LABELS: Record<MemoryVariant, string> = {
  'contextual-cache': '`ContextualCache`, metrics on',
  'raw-ioredis': 'raw ioredis',
};

export function renderMemory(section: MemorySection): string {
  const { settings, rows } = section;
  const out: string[] = [];
  out.push('## 4. Memory: a long run of cache operations', '');
  out.push(
    `Each variant is a fresh worker process (\`node --expose-gc\`, one ioredis connection) doing ${formatInt(settings.ops)} operations, ${settings.concurrency} in flight: ${Math.round(settings.getShare * 100)} % gets (keys of which about half exist: hits and misses) and ${Math.round((1 - settings.getShare) * 100)} % sets of a ${settings.valueBytes}-byte value, each on a random one of ${formatInt(settings.contexts)} app-and-device contexts. ` +
      `Every ${formatInt(settings.sampleEvery)} operations the in-flight ones finish, the metrics registry is scraped (contextual-cache), GC runs twice and \`process.memoryUsage()\` is recorded. ` +
      `"Growth" is from the halfway sample to the last; it counts as flat when heapUsed moved by at most ${HEAP_FLAT_MIB} MiB and RSS by at most ${RSS_FLAT_MIB} MiB.`,
    '',
  );

  const summary = rows.map((row) => [
    VARIANT_LABELS[row.variant],
    formatInt(row.opsPerSec),
    `${formatInt(row.hits)} / ${formatInt(row.misses)} / ${formatInt(row.sets)}`,
    formatInt(row.errors),
    row.metricsCounted === undefined ? '' : formatInt(row.metricsCounted),
    `${formatInt(row.growth.fromOps)} → ${formatInt(row.growth.toOps)}`,
    signedMiB(row.growth.rssMiB),
    signedMiB(row.growth.heapUsedMiB),
    row.growth.heapBytesPerOp.toFixed(2),
    row.growth.flat ? 'flat' : 'GROWING',
  ]);
  out.push(
    markdownTable(
      [
        'Variant',
        'ops/s',
        'hits / misses / sets',
        'errors',
        'counted by metrics',
        'growth over ops',
        'RSS MiB',
        'heapUsed MiB',
        'heap bytes/op',
        'verdict',
      ],
      summary,
    ),
    '',
  );

  // The series, variants side by side (they sample at the same operation counts).
  const marks = rows[0]?.series.map((s) => s.ops) ?? [];
  const series = marks.map((ops) => [
    formatInt(ops),
    ...rows.flatMap((row) => {
      const sample = row.series.find((s) => s.ops === ops);
      return sample ? [mib(sample.rssBytes), mib(sample.heapUsedBytes)] : ['', ''];
    }),
  ]);
  out.push(
    markdownTable(
      [
        'Operations',
        ...rows.flatMap((row) => [`${row.variant} RSS MiB`, `${row.variant} heapUsed MiB`]),
      ],
      series,
    ),
    '',
  );

  out.push('**Variants.**', '');
  for (const [variant, description] of Object.entries(section.descriptions)) {
    out.push(`- ${VARIANT_LABELS[variant as MemoryVariant] ?? variant}: ${description}`);
  }
  const env = section.environment;
  out.push(
    '',
    '**Run.**',
    '',
    `- Date: ${env.date.slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${env.cpuCount} cores (${env.cpuModel}), ${env.memoryGiB} GiB, ${env.kernel}`,
    `- Node: ${env.nodes.map((n) => n.version).join(', ')}`,
    `- Redis: ${env.redis.version} on loopback${env.redis.owned ? ', started by the benchmark' : ' (REDIS_URL)'}`,
    ...(env.srcCommit ? [`- Measured \`src/\` at commit ${env.srcCommit}`] : []),
    `- Placement: ${settings.pinning}; other load during the runs: ${rows.map((r) => r.foreignCores.toFixed(2)).join(', ')} cores`,
    `- Command: \`${settings.command}\``,
    '',
  );
  return out.join('\n');
}

/** Writes memory.json and memory.md (formatted with the repo's Prettier) into `outDir`. */
export async function writeMemoryReport(
  outDir: string,
  section: MemorySection,
): Promise<{ json: string; markdown: string }> {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'memory.json');
  const markdownPath = join(outDir, 'memory.md');
  writeFileSync(jsonPath, `${JSON.stringify(section, null, 2)}\n`);
  const markdown = `# Benchmark: memory over a long run\n\n${renderMemory(section)}`;
  const options = (await resolveConfig(markdownPath)) ?? {};
  writeFileSync(markdownPath, await format(markdown, { ...options, filepath: markdownPath }));
  return { json: relative(repoRoot, jsonPath), markdown: relative(repoRoot, markdownPath) };
}
