// Memory benchmark: process memory over 1,000,000 cache operations, to show it does not keep
// growing. npm run bench:memory [-- --quick] (100,000 operations, results to bench/results/)
//   [--ops N] [--sample-every N (a tenth of --ops)] [--concurrency N (64)] [--variants a,b]
//   [--out DIR] and the load-control options (--node-args, --quiet-cores, --max-wait, --no-pin, …)
// Each variant runs in a fresh worker process (memory/worker.ts, pinned to cpu 0; this process and
// redis-server share cpu 1). Uses its own redis-server, or REDIS_URL: then it removes exactly the
// keys it wrote, all of which also expire after an hour.
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
import type { LoadControl } from '../support/run-control';
import { formatInt } from '../support/stats';
import { growthOf, HEAP_FLAT_MIB, renderMemory, RSS_FLAT_MIB, writeMemoryReport } from './report';
import * as mix from './variants';
import type { MemoryVariant, MemoryWorkerResult } from './variants';

export const memoryArgs = (argv?: readonly string[]) =>
  benchArgs([], ['ops', 'sample-every', 'concurrency', 'variants'], argv);

/** What to stop if the run is interrupted (Ctrl-C); cleared once it has run. */
let cleanupInProgress: (() => Promise<void>) | undefined;

/** Runs the memory benchmark (against `given` if any, left running) and returns its section. */
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
  cleanupInProgress = async () => {
    cleanupInProgress = undefined;
    await removeRunKeys(redis, tag);
    if (!given) await redis.release();
  };
  try {
    const redisVersion = await redis.version();
    pinSupport(load.pin, redis);
    const settings = {
      mode: quick ? ('quick' as const) : ('default' as const),
      ops,
      sampleEvery,
      concurrency,
      getShare: mix.GET_SHARE,
      contexts: mix.APPS * mix.DEVICES,
      valueBytes: Buffer.byteLength(BENCH_VALUE),
      heapFlatMiB: HEAP_FLAT_MIB,
      rssFlatMiB: RSS_FLAT_MIB,
      pinning: describePinning(load.pin, 'worker'),
      nodeArgs: load.nodeArgs,
      command,
    };
    console.log(
      `Redis ${redisVersion}; ${formatInt(ops)} operations per variant, ${concurrency} in flight, a sample every ${formatInt(sampleEvery)}; ${settings.pinning}`,
    );
    const rows = [];
    for (const variant of args.list('variants', mix.MEMORY_VARIANTS, mix.MEMORY_VARIANTS)) {
      rows.push(await measureVariant(variant, redis, tag, load, settings));
    }
    return {
      settings,
      environment: describeEnvironment(
        [{ major: process.versions.node.split('.')[0], version: process.version }],
        { version: redisVersion, owned: redis.owned },
        measuredSrc,
      ),
      descriptions: Object.fromEntries(
        rows.map((r) => [r.variant, mix.MEMORY_VARIANT_DESCRIPTIONS[r.variant]]),
      ),
      rows,
    };
  } finally {
    await cleanupInProgress?.();
  }
}

/** A server this run started goes with its data; in anyone else's, remove exactly our keys. */
async function removeRunKeys(redis: BenchRedis, tag: string): Promise<void> {
  if (redis.owned) return;
  const admin = new Redis(redis.url);
  const ours = (key: string) => key.split('/').length === 4;
  const removed = await unlinkMatching(admin, mix.runKeysPattern(tag), ours);
  admin.disconnect();
  console.log(`Removed the ${formatInt(removed)} keys this run wrote`);
}

/** One variant in a fresh worker (which logs its samples), once other work has quietened. */
async function measureVariant(
  variant: MemoryVariant,
  redis: BenchRedis,
  tag: string,
  load: LoadControl,
  { ops, sampleEvery, concurrency }: { ops: number; sampleEvery: number; concurrency: number },
) {
  await waitForQuiet([redis.pid], load.quietCores, load.maxWaitS * 1000, (cores) =>
    console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
  );
  const workerArgs = {
    variant,
    redis: redis.url,
    tag,
    ops,
    'sample-every': sampleEvery,
    concurrency,
  };
  let cpu: CpuWindow | undefined;
  const lines = await runChild(
    ...pinnedCommand(load.pin, process.execPath, [
      ...load.nodeArgs,
      '--expose-gc',
      benchScript('memory/worker.js'),
      ...Object.entries(workerArgs).flatMap(([name, value]) => [`--${name}`, String(value)]),
    ]),
    // Far more than a run takes even at a few thousand operations per second.
    60_000 + ops,
    () => (cpu = cpuWindow([redis.pid])),
  );
  // The worker checks its own run (all operations done and counted, hits and misses, no errors).
  const [result] = resultsOf<MemoryWorkerResult>(lines);
  if (!result) throw new Error(`${variant}: the worker printed no result`);
  const { cpuMs, ...figures } = result;
  const row = {
    ...figures,
    opsPerSec: result.ops / result.seconds,
    /** CPU used by other work than the benchmark's processes during the run, in cores. */
    foreignCores: cpu!.foreignCores(cpuMs),
    growth: growthOf(result.series),
  };
  const { growth } = row;
  console.log(
    `${variant}: ${formatInt(row.opsPerSec)} ops/s; ${formatInt(growth.fromOps)} → ${formatInt(growth.toOps)}: RSS ${growth.rssMiB.toFixed(2)} MiB, heapUsed ${growth.heapUsedMiB.toFixed(2)} MiB (${growth.flat ? 'flat' : 'GROWING'}); other load ${row.foreignCores.toFixed(2)}`,
  );
  return row;
}

async function main(): Promise<void> {
  const args = memoryArgs();
  const section = await runMemoryBenchmark(args);
  console.log(`\n${renderMemory(section)}`);
  await writeMemoryReport(outDirOf(args), section);
}

if (require.main === module) runBenchmark(main, async () => cleanupInProgress?.());
