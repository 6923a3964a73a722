// Memory benchmark: process memory over 1,000,000 cache operations, to show it does not keep
// growing.
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/memory/run.js [--quick]
//
// Each variant runs in a fresh worker process (node --expose-gc, pinned to cpu 0; the orchestrator
// and redis-server share cpu 1) that samples its memory after a forced GC every tenth of the run.
// Uses its own redis-server, or REDIS_URL (then it removes exactly the keys it wrote, all of which
// also expire after an hour).
// Options: --quick (100,000 operations, results to bench/results/), --ops N (1,000,000),
// --sample-every N (a tenth of --ops), --concurrency N (64), --variants a,b, --out DIR,
// --node-args="...", --quiet-cores 0.2, --max-wait S, --no-pin (and the other load-control options)
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Args } from '../support/args';
import { runToCompletion } from '../support/child';
import { cpuWindow, waitForQuiet } from '../support/cpu';
import type { CpuWindow } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { benchScript } from '../support/paths';
import {
  describePinning,
  MEASURED_CPU,
  pinnedCommand,
  pinProcess,
  SUPPORT_CPU,
} from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { defaultOutDir } from '../support/report';
import {
  LOAD_CONTROL_OPTIONS,
  benchCommand,
  loadControlFrom,
  runBenchmark,
} from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { formatInt } from '../support/stats';
import {
  growthOf,
  HEAP_FLAT_MIB,
  renderMemory,
  RSS_FLAT_MIB,
  toMiB,
  writeMemoryReport,
} from './report';
import type { MemoryRow, MemorySection } from './report';
import {
  APPS,
  DEVICES,
  GET_SHARE,
  MEMORY_VARIANT_DESCRIPTIONS,
  MEMORY_VARIANTS,
  runKeysPattern,
} from './variants';
import type { MemoryVariant, MemoryWorkerResult } from './variants';

export { renderMemory, writeMemoryReport } from './report';
export type { MemorySection } from './report';

export interface MemoryOptions {
  /** 100,000 operations: a smoke test. */
  quick?: boolean;
  /** @default 1,000,000 (quick: 100,000) */
  ops?: number;
  /** @default a tenth of `ops` */
  sampleEvery?: number;
  /** @default 64 */
  concurrency?: number;
  /** @default both: contextual-cache and raw-ioredis */
  variants?: readonly MemoryVariant[];
  /** Defaults as on the command line (`loadControlFrom`). */
  loadControl?: Partial<LoadControl>;
  /** A Redis to use (it is left running); default: one started for this run. */
  redis?: BenchRedis;
  /** The command line the report shows. */
  command?: string;
  log?: (line: string) => void;
}

/** What to stop if the run is interrupted (Ctrl-C). */
const active = new Set<() => Promise<void>>();

/** UNLINKs every key a run with `tag` wrote, and only those. */
async function removeRunKeys(client: Redis, tag: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', runKeysPattern(tag), 'COUNT', 5000);
    cursor = next;
    const own = keys.filter((key) => key.split('/').length === 4);
    if (own.length > 0) removed += await client.unlink(...own);
  } while (cursor !== '0');
  return removed;
}

/** Runs the memory benchmark and returns its section (the caller writes or renders it). */
export async function runMemoryBenchmark(options: MemoryOptions = {}): Promise<MemorySection> {
  const quick = options.quick ?? false;
  const log = options.log ?? ((line: string) => console.log(line));
  const load: LoadControl = { ...loadControlFrom(new Args([]), quick), ...options.loadControl };
  const ops = options.ops ?? (quick ? 100_000 : 1_000_000);
  const sampleEvery = options.sampleEvery ?? Math.max(1, Math.round(ops / 10));
  const concurrency = options.concurrency ?? 64;
  const variants = options.variants ?? MEMORY_VARIANTS;
  const tag = randomBytes(3).toString('hex');
  const measuredSrc = srcCommit();

  const ownRedis = options.redis ? undefined : await acquireBenchRedis();
  const redis = options.redis ?? ownRedis!;
  let admin: Redis | undefined;
  const cleanup = async () => {
    active.delete(cleanup);
    // A server this run started goes with its data; in anyone else's, remove exactly our keys.
    if (!ownRedis) {
      admin ??= new Redis(redis.url, { lazyConnect: true });
      if (admin.status === 'wait') await admin.connect();
      const removed = await removeRunKeys(admin, tag);
      log(`Removed the ${formatInt(removed)} keys this run wrote`);
    }
    admin?.disconnect();
    admin = undefined;
    await ownRedis?.release();
  };
  active.add(cleanup);
  try {
    const redisVersion = await redis.version();
    if (load.pin) {
      pinProcess(process.pid, SUPPORT_CPU);
      if (redis.pid !== undefined) pinProcess(redis.pid, SUPPORT_CPU);
    }
    const pinning = describePinning(load.pin, 'worker');
    log(
      `Redis ${redisVersion}; ${formatInt(ops)} operations per variant, ${concurrency} in flight, a sample every ${formatInt(sampleEvery)}; ${pinning}`,
    );

    const rows: MemoryRow[] = [];
    for (const variant of variants) {
      await waitForQuiet([redis.pid], load.quietCores, load.maxWaitS * 1000, (cores) =>
        log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
      );
      let cpu: CpuWindow | undefined;
      const lines = await runToCompletion(
        ...pinnedCommand(
          load.pin,
          process.execPath,
          [
            ...load.nodeArgs,
            '--expose-gc',
            benchScript('memory/worker.js'),
            '--variant',
            variant,
            '--redis',
            redis.url,
            '--tag',
            tag,
            '--ops',
            String(ops),
            '--sample-every',
            String(sampleEvery),
            '--concurrency',
            String(concurrency),
          ],
          MEASURED_CPU,
        ),
        // Far more than a run takes even at a few thousand operations per second.
        60_000 + ops,
        () => (cpu = cpuWindow([redis.pid])),
      );
      const line = lines.find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`${variant}: the worker printed no result`);
      const result = JSON.parse(line.slice(7)) as MemoryWorkerResult;
      if (result.ops !== ops || result.hits + result.misses + result.sets !== ops) {
        throw new Error(`${variant}: ${result.ops} operations done, expected ${ops}`);
      }
      if (result.metricsCounted !== undefined && result.metricsCounted !== ops) {
        throw new Error(
          `${variant}: the cache's metrics counted ${result.metricsCounted} operations, expected ${ops}`,
        );
      }
      if (result.errors > 0 || result.hits === 0 || result.misses === 0) {
        throw new Error(
          `${variant}: ${result.errors} errors, ${result.hits} hits, ${result.misses} misses: the mix did not run as meant`,
        );
      }
      const row: MemoryRow = {
        variant,
        ops: result.ops,
        hits: result.hits,
        misses: result.misses,
        sets: result.sets,
        errors: result.errors,
        ...(result.metricsCounted !== undefined && { metricsCounted: result.metricsCounted }),
        seconds: result.seconds,
        opsPerSec: result.ops / result.seconds,
        foreignCores: cpu!.foreignCores(result.cpuMs),
        series: result.series,
        growth: growthOf(result.series),
      };
      rows.push(row);
      for (const sample of row.series) {
        log(
          `${variant.padEnd(17)} ${formatInt(sample.ops).padStart(9)} ops  RSS ${toMiB(sample.rssBytes).toFixed(1).padStart(6)} MiB  heapUsed ${toMiB(sample.heapUsedBytes).toFixed(2).padStart(6)} MiB` +
            (sample.opsPerSec > 0 ? `  ${formatInt(sample.opsPerSec)} ops/s` : ''),
        );
      }
      log(
        `${variant}: ${formatInt(row.opsPerSec)} ops/s; ${formatInt(row.growth.fromOps)} → ${formatInt(row.growth.toOps)}: RSS ${row.growth.rssMiB.toFixed(2)} MiB, heapUsed ${row.growth.heapUsedMiB.toFixed(2)} MiB (${row.growth.flat ? 'flat' : 'GROWING'}); other load ${row.foreignCores.toFixed(2)}`,
      );
    }

    return {
      settings: {
        mode: quick ? 'quick' : 'default',
        ops,
        sampleEvery,
        concurrency,
        getShare: GET_SHARE,
        contexts: APPS * DEVICES,
        valueBytes: Buffer.byteLength(BENCH_VALUE),
        heapFlatMiB: HEAP_FLAT_MIB,
        rssFlatMiB: RSS_FLAT_MIB,
        pinning,
        nodeArgs: load.nodeArgs,
        command: options.command ?? 'node bench/dist/bench/memory/run.js',
      },
      environment: describeEnvironment(
        [{ major: process.versions.node.split('.')[0], version: process.version }],
        { version: redisVersion, owned: redis.owned },
        measuredSrc,
      ),
      descriptions: Object.fromEntries(variants.map((v) => [v, MEMORY_VARIANT_DESCRIPTIONS[v]])),
      rows,
    };
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  const args = new Args();
  args.assertKnown([
    'quick',
    'ops',
    'sample-every',
    'concurrency',
    'variants',
    'out',
    ...LOAD_CONTROL_OPTIONS,
  ]);
  const quick = args.flag('quick');
  const ops = args.number('ops', quick ? 100_000 : 1_000_000);
  const section = await runMemoryBenchmark({
    quick,
    ops,
    sampleEvery: args.number('sample-every', Math.max(1, Math.round(ops / 10))),
    concurrency: args.number('concurrency', 64),
    variants: args.list('variants', MEMORY_VARIANTS, MEMORY_VARIANTS) as MemoryVariant[],
    loadControl: loadControlFrom(args, quick),
    command: benchCommand('bench:memory'),
  });
  console.log(`\n${renderMemory(section)}`);
  const written = await writeMemoryReport(args.string('out') ?? defaultOutDir(quick), section);
  console.log(`Wrote ${written.markdown} and ${written.json}`);
}

async function cleanupActive(): Promise<void> {
  for (const cleanup of [...active]) await cleanup();
}

if (require.main === module) runBenchmark(main, cleanupActive);
