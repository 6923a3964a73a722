// Bulk benchmark: flushDevice and stats on a database of 1,000,000 keys of which 10,000 match,
// each against a hand-written SCAN loop, while another client's GETs measure what Redis latency
// they cost.
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/bulk/run.js [--quick]
//
// Starts its own redis-server (or uses REDIS_URL: then it takes the first empty database, or the
// one --db names, and refuses a database holding other data unless --allow-shared) and fills it
// with pipelined SETs. Per round, each operation runs in a fresh worker process pinned to cpu 0,
// the target keys written again before each; a GET load process (cpu 0 too: the worker mostly
// waits for Redis) runs throughout; the orchestrator and redis-server share cpu 1. Every run's
// result is checked against DBSIZE. Only the keys this run wrote are removed at the end.
// Options: --quick (50,000 keys of which 1,000 match, 1 round, results to bench/results/),
// --rounds N (7), --keys N (1,000,000), --matching N (10,000), --get-concurrency N (16),
// --get-rate N (4,000 GETs/s in all), --db N, --allow-shared, --out DIR,
// --node-args="--cpu-prof --cpu-prof-dir=DIR" (per worker), --quiet-cores 0.2, --max-wait S,
// --max-foreign-cores 0.3, --retries N, --no-pin
import { Redis } from 'ioredis';
import type { Args } from '../support/args';
import { Child, resultsOf, runChild } from '../support/child';
import { cpuWindow, measureQuietly, waitForQuiet } from '../support/cpu';
import type { CpuWindow } from '../support/cpu';
import { describeEnvironment, srcCommit } from '../support/environment';
import { benchScript } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { acquireBenchRedis } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { outDirOf } from '../support/report';
import { benchArgs, benchCommand, loadControlFrom, runBenchmark } from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { formatInt, formatMs, sleep, toMiB } from '../support/stats';
import {
  countTargetKeys,
  FILLER_APPS,
  FILLER_VALUE,
  planDataset,
  populate,
  removeOwnKeys,
  TARGET_APPS,
  targetKey,
  writeKeys,
} from './dataset';
import type { BulkDataset } from './dataset';
import { GetLatencyWindows } from './get-windows';
import type { GetLatency, GetLoadInfo } from './get-windows';
import { renderBulk, summariseBulk, writeBulkReport } from './report';
import type { BulkRound } from './report';
import {
  BULK_PAIRS,
  BULK_VARIANT_DESCRIPTIONS,
  BULK_VARIANTS,
  FLUSH_RATIO_TARGET,
  GET_P99_TARGET_MS,
  isFlush,
} from './variants';
import type { BulkVariant, BulkWorkerResult } from './variants';

const SCAN_COUNT = 1000;
const WORKER_TIMEOUT_MS = 120_000;

export const bulkArgs = (argv?: readonly string[]) =>
  benchArgs(
    ['allow-shared'],
    ['rounds', 'keys', 'matching', 'get-concurrency', 'get-rate', 'db'],
    argv,
  );

/** What to stop if the run is interrupted (Ctrl-C). */
let cleanupInProgress: (() => Promise<void>) | undefined;

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');
const epochNow = () => performance.timeOrigin + performance.now();

/**
 * The database to fill: `requested`, or the first empty one. One that holds other data is refused
 * unless `allowShared` (then the run's keys, all tagged, live beside the others).
 */
async function chooseDatabase(url: string, requested: number | undefined, allowShared: boolean) {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect();
  try {
    let shared: { db: number; foreignKeys: number } | undefined;
    for (const db of requested !== undefined
      ? [requested]
      : Array.from({ length: 16 }, (_, i) => i)) {
      try {
        await probe.select(db);
      } catch (error) {
        if (requested !== undefined) throw error;
        break; // past the server's last database
      }
      const size = await probe.dbsize();
      if (size === 0) return { db, foreignKeys: 0 };
      shared ??= { db, foreignKeys: size };
    }
    if (allowShared && shared) return shared;
    throw new Error(
      requested !== undefined
        ? `Database ${requested} of ${redact(url)} holds ${formatInt(shared?.foreignKeys ?? 0)} keys: the bulk benchmark fills it with a million keys. Choose an empty one (--db N), or pass --allow-shared to run beside that data (only this run's keys are written and removed).`
        : `${redact(url)} has no empty database: the bulk benchmark fills one with a million keys. Free one, or pass --allow-shared (only this run's keys are written and removed).`,
    );
  } finally {
    probe.disconnect();
  }
}

interface Run {
  db: number;
  load: LoadControl;
  redis: BenchRedis;
  admin: Redis;
  dataset: BulkDataset;
  windows: GetLatencyWindows;
  getLoadPid: number | undefined;
  /** DBSIZE with every key of the run present. */
  expectedSize: number;
  /** DBSIZE must match exactly: nobody else's keys are in the database. */
  strict: boolean;
}

function check(run: Run, ok: boolean, message: string): void {
  if (ok) return;
  if (run.strict) throw new Error(message);
  console.log(`  warning (shared database): ${message}`);
}

/** One operation in a fresh worker, checked against DBSIZE; measured again if others took CPU. */
async function measure(
  run: Run,
  variant: BulkVariant,
  round: number,
  position: number,
): Promise<BulkRound> {
  const { admin, dataset } = run;
  const [app, device] = isFlush(variant)
    ? [`a0-${dataset.tag}`, dataset.targetDevice]
    : [dataset.statsApp, dataset.statsDevice];
  const once = async () => {
    await writeKeys(admin, dataset.matching, (i) => targetKey(dataset, i));
    const dbsizeBefore = await admin.dbsize();
    check(
      run,
      dbsizeBefore === run.expectedSize,
      `DBSIZE is ${dbsizeBefore} before ${variant}, expected ${run.expectedSize}`,
    );
    let cpu: CpuWindow | undefined;
    const lines = await runChild(
      ...pinnedCommand(run.load.pin, process.execPath, [
        ...run.load.nodeArgs,
        '--expose-gc',
        benchScript('bulk/worker.js'),
        ...['--variant', variant, '--redis', run.redis.url, '--db', String(run.db)],
        ...['--app', app, '--device', device],
      ]),
      WORKER_TIMEOUT_MS,
      () => (cpu = cpuWindow([run.redis.pid, run.getLoadPid])),
    );
    const [result] = resultsOf<BulkWorkerResult>(lines);
    if (!result) throw new Error(`${variant}: the worker printed no result`);
    // The worker has exited: its CPU time comes from its own report.
    const foreignCores = cpu!.foreignCores(result.cpuMs);
    const get = await run.windows.window(result.startEpochMs, result.endEpochMs);
    const dbsizeAfter = await admin.dbsize();
    if (result.count !== dataset.matching) {
      throw new Error(`${variant} reported ${result.count} keys, expected ${dataset.matching}`);
    }
    if (isFlush(variant)) {
      const left = await countTargetKeys(admin, dataset);
      if (left !== 0) throw new Error(`${variant} left ${left} of the target device's keys`);
      const removed = dbsizeBefore - dbsizeAfter;
      check(
        run,
        removed === dataset.matching,
        `${variant} removed ${removed} keys in all, expected ${dataset.matching}: it deleted other keys`,
      );
    } else {
      check(
        run,
        dbsizeAfter === dbsizeBefore,
        `DBSIZE changed from ${dbsizeBefore} to ${dbsizeAfter} during ${variant}`,
      );
    }
    return { result, get, dbsizeBefore, dbsizeAfter, foreignCores };
  };
  // Only a Redis we started has a pid to account for; otherwise its CPU would read as foreign.
  const retries = run.redis.pid !== undefined ? run.load.retries : 0;
  const { result, get, dbsizeBefore, dbsizeAfter, foreignCores, attempts } = await measureQuietly(
    run.load,
    [],
    variant,
    once,
    { wait: false, retries },
  );
  return {
    ...result,
    round,
    position,
    expected: dataset.matching,
    dbsizeBefore,
    dbsizeAfter,
    get,
    rssPeakDeltaMiB: toMiB(result.rssPeakBytes - result.rssBeforeBytes),
    heapUsedPeakDeltaMiB: toMiB(result.heapUsedPeakBytes - result.heapUsedBeforeBytes),
    foreignCores,
    attempts,
  };
}

/** Runs the benchmark (against `redis` if given, left running) and returns its section. */
export async function runBulkBenchmark(
  args: Args,
  given?: BenchRedis,
  command = benchCommand('bench:bulk'),
) {
  const quick = args.flag('quick');
  const load = loadControlFrom(args);
  const rounds = args.number('rounds', quick ? 1 : 7);
  const totalKeys = args.number('keys', quick ? 50_000 : 1_000_000);
  const matching = args.number('matching', quick ? 1_000 : 10_000);
  const getConcurrency = args.number('get-concurrency', 16);
  const getRatePerS = args.number('get-rate', 4000);
  const dbArg = args.string('db');
  if (dbArg !== undefined && !/^\d+$/.test(dbArg))
    throw new Error('--db must be a database number (0, 1, ...)');
  const idleWindowMs = quick ? 500 : 1000;
  const measuredSrc = srcCommit();
  const dataset = planDataset(totalKeys, matching);

  const redis = given ?? (await acquireBenchRedis());
  let admin: Redis | undefined;
  let getLoad: Child | undefined;
  let wrote = false;
  const cleanup = (cleanupInProgress = async () => {
    cleanupInProgress = undefined;
    await getLoad?.stop();
    // A server this run started goes with its data; in anyone else's, remove exactly our keys.
    if (admin && wrote && !redis.owned) {
      console.log(
        `Removed the ${formatInt(await removeOwnKeys(admin, dataset))} keys this run wrote`,
      );
    }
    admin?.disconnect();
    if (!given) await redis.release();
  });
  try {
    const { db, foreignKeys } = await chooseDatabase(
      redis.url,
      dbArg === undefined ? undefined : Number(dbArg),
      args.flag('allow-shared'),
    );
    admin = new Redis(redis.url, { db, lazyConnect: true });
    await admin.connect();
    const redisVersion = await redis.version();
    pinSupport(load.pin, redis.pid);
    console.log(
      `Redis ${redisVersion} at ${redact(redis.url)} db ${db}; ${formatInt(totalKeys)} keys, ${formatInt(matching)} matching; ` +
        `${rounds} round(s); GET load ${getConcurrency} loops, ${formatInt(getRatePerS)}/s; ${describePinning(load.pin, 'worker and GET load')}`,
    );

    const filling = performance.now();
    wrote = true;
    await populate(admin, dataset);
    const populateS = (performance.now() - filling) / 1000;
    const size = await admin.dbsize();
    console.log(`Filled ${formatInt(size - foreignKeys)} keys in ${populateS.toFixed(1)} s`);
    if (foreignKeys === 0 && size !== totalKeys) {
      throw new Error(`DBSIZE is ${size} after filling, expected ${totalKeys}`);
    }
    // Untimed: a full SCAN brings the table into memory, and checks the count loop's pattern.
    const warm = await scanCount(admin, `/${dataset.statsApp}/${dataset.statsDevice}/*`);
    if (warm !== matching) throw new Error(`Warm-up SCAN counted ${warm}, expected ${matching}`);

    const started = await Child.ready<GetLoadInfo>(
      ...pinnedCommand(load.pin, process.execPath, [
        benchScript('bulk/get-load.js'),
        ...['--redis', redis.url, '--db', String(db), '--tag', dataset.tag],
        ...['--filler-keys', String(dataset.fillerKeys), '--concurrency', String(getConcurrency)],
        ...['--rate', String(getRatePerS)],
      ]),
    );
    getLoad = started.child;

    const settings = {
      mode: quick ? ('quick' as const) : ('default' as const),
      rounds,
      totalKeys,
      matching,
      fillerApps: FILLER_APPS,
      targetApps: TARGET_APPS,
      valueBytes: FILLER_VALUE.length,
      scanCount: SCAN_COUNT,
      getConcurrency,
      getRatePerS,
      idleWindowMs,
      db,
      foreignKeys,
      populateS,
      quietCores: load.quietCores,
      maxForeignCores: load.maxForeignCores,
      retries: load.retries,
      pinning: describePinning(load.pin, 'worker and GET load'),
      nodeArgs: load.nodeArgs,
      command,
    };
    const run: Run = {
      db,
      load,
      redis,
      admin,
      dataset,
      windows: new GetLatencyWindows(started.child, started.info),
      getLoadPid: started.info.pid,
      expectedSize: foreignKeys + totalKeys,
      strict: foreignKeys === 0,
    };
    // Let the load settle (connection, JIT) before the first window.
    await sleep(500);
    await run.windows.window(epochNow() - 500, epochNow());

    const measured = BULK_VARIANTS.map((variant) => ({
      variant,
      baseline: BULK_PAIRS.find((pair) => pair.module === variant)?.baseline,
      rounds: [] as BulkRound[],
    }));
    const idle: { round: number; get: GetLatency }[] = [];
    for (let round = 1; round <= rounds; round++) {
      await waitForQuiet(
        [redis.pid, run.getLoadPid],
        load.quietCores,
        load.maxWaitS * 1000,
        (cores) => console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
      );
      const idleStart = epochNow();
      await sleep(idleWindowMs);
      const idleGet = await run.windows.window(idleStart, epochNow());
      idle.push({ round, get: idleGet });
      console.log(
        `round ${round}/${rounds} idle               GET p50 ${formatMs(idleGet.p50Ms)} p99 ${formatMs(idleGet.p99Ms)} max ${formatMs(idleGet.maxMs)} ms`,
      );
      // Each pair's module operation first in odd rounds, its loop first in even ones.
      const order = BULK_PAIRS.flatMap(({ module, baseline }) =>
        round % 2 === 1 ? [module, baseline] : [baseline, module],
      );
      for (const [index, variant] of order.entries()) {
        const result = await measure(run, variant, round, index + 1);
        measured.find((row) => row.variant === variant)!.rounds.push(result);
        console.log(
          `round ${round}/${rounds} ${variant.padEnd(18)} ${formatMs(result.ms).padStart(7)} ms  ${formatInt(result.count)} keys` +
            `  GET p50 ${formatMs(result.get.p50Ms)} p99 ${formatMs(result.get.p99Ms)} max ${formatMs(result.get.maxMs)} ms (${result.get.gets})` +
            `  peak RSS +${result.rssPeakDeltaMiB.toFixed(1)} MiB, heap +${result.heapUsedPeakDeltaMiB.toFixed(1)} MiB` +
            `  CPU ${formatMs(result.opCpuMs)} ms  other load ${result.foreignCores.toFixed(2)}`,
        );
      }
    }
    return {
      settings,
      environment: describeEnvironment(
        [{ major: process.versions.node.split('.')[0], version: process.version }],
        { version: redisVersion, owned: redis.owned },
        measuredSrc,
      ),
      descriptions: { ...BULK_VARIANT_DESCRIPTIONS },
      targets: { flushRatioMax: FLUSH_RATIO_TARGET, getP99MsMax: GET_P99_TARGET_MS },
      idle,
      rows: summariseBulk(measured),
    };
  } finally {
    await cleanup();
  }
}

/** Counts the keys matching `pattern` (the hand-written count loop, untimed). */
async function scanCount(client: Redis, pattern: string): Promise<number> {
  let counted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    counted += keys.length;
  } while (cursor !== '0');
  return counted;
}

async function main(): Promise<void> {
  const args = bulkArgs();
  const section = await runBulkBenchmark(args);
  console.log(`\n${renderBulk(section)}`);
  await writeBulkReport(outDirOf(args), section);
}

if (require.main === module) runBenchmark(main, async () => cleanupInProgress?.());
