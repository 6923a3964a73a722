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
import type { Args } from '../support/args';
import { resultsOf, runChild } from '../support/child';
import { cpuWindow, waitForQuiet } from '../support/cpu';
import type { CpuWindow } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE, unlinkMatching } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { outDirOf } from '../support/report';
import { benchArgs, benchCommand, loadControlFrom, runBenchmark } from '../support/run-control';
import { formatInt, toMiB } from '../support/stats';
import { growthOf, HEAP_FLAT_MIB, renderMemory, RSS_FLAT_MIB, writeMemoryReport } from './report';
import type { MemoryRow } from './report';
import {
  APPS,
  DEVICES,
  GET_SHARE,
  MEMORY_VARIANT_DESCRIPTIONS,
  MEMORY_VARIANTS,
  runKeysPattern,
} from './variants';
import type { MemoryWorkerResult } from './variants';

export const memoryArgs = (argv?: readonly string[]) =>
  benchArgs([], ['ops', 'sample-every', 'concurrency', 'variants'], argv);

/** What to stop if the run is interrupted (Ctrl-C). */
let cleanupInProgress: (() => Promise<void>) | undefined;

/** Runs the memory benchmark (against `redis` if given, left running) and returns its section. */
export async function runMemoryBenchmark(
  args: Args,
  given?: BenchRedis,
  command = benchCommand('bench:memory'),
) {
  const quick = args.flag('quick');
  const load = loadControlFrom(args);
  const ops = args.number('ops', quick ? 100_000 : 1_000_000);
  const sampleEvery = args.number('sample-every', Math.max(1, Math.round(ops / 10)));
  const concurrency = args.number('concurrency', 64);
  const tag = randomBytes(3).toString('hex');
  const measuredSrc = srcCommit();
  const redis = given ?? (await acquireBenchRedis());
  const cleanup = (cleanupInProgress = async () => {
    cleanupInProgress = undefined;
    // A server this run started goes with its data; in anyone else's, remove exactly our keys.
    if (!redis.owned) {
      const admin = new Redis(redis.url);
      const removed = await unlinkMatching(
        admin,
        runKeysPattern(tag),
        (key) => key.split('/').length === 4,
      );
      admin.disconnect();
      console.log(`Removed the ${formatInt(removed)} keys this run wrote`);
    }
    if (!given) await redis.release();
  });
  try {
    const redisVersion = await redis.version();
    pinSupport(load.pin, redis.pid);
    const pinning = describePinning(load.pin, 'worker');
    console.log(
      `Redis ${redisVersion}; ${formatInt(ops)} operations per variant, ${concurrency} in flight, a sample every ${formatInt(sampleEvery)}; ${pinning}`,
    );
    const rows: MemoryRow[] = [];
    for (const variant of args.list('variants', MEMORY_VARIANTS, MEMORY_VARIANTS)) {
      await waitForQuiet([redis.pid], load.quietCores, load.maxWaitS * 1000, (cores) =>
        console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
      );
      let cpu: CpuWindow | undefined;
      const lines = await runChild(
        ...pinnedCommand(load.pin, process.execPath, [
          ...load.nodeArgs,
          '--expose-gc',
          benchScript('memory/worker.js'),
          ...['--variant', variant, '--redis', redis.url, '--tag', tag, '--ops', String(ops)],
          ...['--sample-every', String(sampleEvery), '--concurrency', String(concurrency)],
        ]),
        // Far more than a run takes even at a few thousand operations per second.
        60_000 + ops,
        () => (cpu = cpuWindow([redis.pid])),
      );
      const [result] = resultsOf<MemoryWorkerResult>(lines);
      checkResult(variant, result, ops);
      const { cpuMs, ...figures } = result;
      const row: MemoryRow = {
        ...figures,
        opsPerSec: result.ops / result.seconds,
        foreignCores: cpu!.foreignCores(cpuMs),
        growth: growthOf(result.series),
      };
      rows.push(row);
      for (const sample of row.series) {
        console.log(
          `${variant.padEnd(17)} ${formatInt(sample.ops).padStart(9)} ops  RSS ${toMiB(sample.rssBytes).toFixed(1).padStart(6)} MiB  heapUsed ${toMiB(sample.heapUsedBytes).toFixed(2).padStart(6)} MiB` +
            (sample.opsPerSec > 0 ? `  ${formatInt(sample.opsPerSec)} ops/s` : ''),
        );
      }
      const { growth } = row;
      console.log(
        `${variant}: ${formatInt(row.opsPerSec)} ops/s; ${formatInt(growth.fromOps)} → ${formatInt(growth.toOps)}: RSS ${growth.rssMiB.toFixed(2)} MiB, heapUsed ${growth.heapUsedMiB.toFixed(2)} MiB (${growth.flat ? 'flat' : 'GROWING'}); other load ${row.foreignCores.toFixed(2)}`,
      );
    }
    return {
      settings: {
        mode: quick ? ('quick' as const) : ('default' as const),
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
        command,
      },
      environment: describeEnvironment(
        [{ major: process.versions.node.split('.')[0], version: process.version }],
        { version: redisVersion, owned: redis.owned },
        measuredSrc,
      ),
      descriptions: Object.fromEntries(
        rows.map((r) => [r.variant, MEMORY_VARIANT_DESCRIPTIONS[r.variant]]),
      ),
      rows,
    };
  } finally {
    await cleanup();
  }
}

/** The worker must have run the whole mix, every operation counted by the cache's metrics. */
function checkResult(
  variant: string,
  result: MemoryWorkerResult | undefined,
  ops: number,
): asserts result is MemoryWorkerResult {
  if (!result) throw new Error(`${variant}: the worker printed no result`);
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
}

async function main(): Promise<void> {
  const args = memoryArgs();
  const section = await runMemoryBenchmark(args);
  console.log(`\n${renderMemory(section)}`);
  await writeMemoryReport(outDirOf(args), section);
}

if (require.main === module) runBenchmark(main, async () => cleanupInProgress?.());
