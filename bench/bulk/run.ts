// Bulk benchmark: flushDevice and stats on a database of 1,000,000 keys of which 10,000 match,
// each against a hand-written SCAN loop, while another process's GETs show what they cost Redis.
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/bulk/run.js [--quick]
//
// Starts its own redis-server, or uses REDIS_URL: then the first empty database (or --db N; one
// holding other data only with --allow-shared), and removes exactly the keys it wrote. Each
// operation runs in a fresh worker (bulk/worker.ts) pinned to cpu 0 beside the GET load (the
// worker mostly waits for Redis); the orchestrator and redis-server share cpu 1.
// Options: --quick (50,000 keys of which 1,000 match, 1 round, results to bench/results/),
// --rounds N (7), --keys N (1,000,000), --matching N (10,000), --get-concurrency N (16),
// --get-rate N (4,000 GETs/s in all), --db N, --allow-shared, --out DIR,
// --node-args="--cpu-prof --cpu-prof-dir=DIR" (per worker), --quiet-cores 0.2, --max-wait S,
// --max-foreign-cores 0.3, --retries N, --no-pin
import { Redis } from 'ioredis';
import type { Args } from '../support/args';
import { resultsOf, runChild } from '../support/child';
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
import * as dataset from './dataset';
import type { BulkDataset } from './dataset';
import { epochNow, startGetLoad } from './get-load';
import type { GetLatency, GetLoad } from './get-load';
import {
  BULK_VARIANT_DESCRIPTIONS,
  FLUSH_RATIO_TARGET,
  GET_P99_TARGET_MS,
  renderBulk,
  summariseBulk,
  writeBulkReport,
} from './report';
import type { BulkRound } from './report';
import { BULK_PAIRS, BULK_VARIANTS, isFlush } from './worker';
import type { BulkVariant, BulkWorkerResult } from './worker';

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

/**
 * The database to fill: `requested`, or the first empty one. One that holds other data is refused
 * unless `allowShared` (then the run's keys, all tagged, live beside the others).
 */
async function chooseDatabase(url: string, requested: number | undefined, allowShared: boolean) {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect();
  try {
    let shared: { db: number; foreignKeys: number } | undefined;
    const candidates = requested !== undefined ? [requested] : [...Array(16).keys()];
    for (const db of candidates) {
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
    const why =
      requested !== undefined
        ? `Database ${requested} of ${redact(url)} holds ${formatInt(shared?.foreignKeys ?? 0)} keys`
        : `${redact(url)} has no empty database`;
    throw new Error(
      `${why}: the bulk benchmark fills one with a million keys. Choose an empty one (--db N), or pass --allow-shared to run beside that data (only this run's keys are written and removed).`,
    );
  } finally {
    probe.disconnect();
  }
}

interface Run {
  rounds: number;
  idleWindowMs: number;
  db: number;
  load: LoadControl;
  redis: BenchRedis;
  admin: Redis;
  data: BulkDataset;
  gets: GetLoad;
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

/** A worker's run of `variant`, on the target keys written again, checked against DBSIZE. */
async function runWorker(run: Run, variant: BulkVariant) {
  const { admin, data } = run;
  const [app, device] = isFlush(variant)
    ? [`a0-${data.tag}`, data.targetDevice]
    : [data.statsApp, data.statsDevice];
  await dataset.writeKeys(admin, data.matching, (i) => dataset.targetKey(data, i));
  const dbsizeBefore = await admin.dbsize();
  const expected = run.expectedSize;
  check(
    run,
    dbsizeBefore === expected,
    `DBSIZE is ${dbsizeBefore} before ${variant}, expected ${expected}`,
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
    () => (cpu = cpuWindow([run.redis.pid, run.gets.pid])),
  );
  const [result] = resultsOf<BulkWorkerResult>(lines);
  if (!result) throw new Error(`${variant}: the worker printed no result`);
  // The worker has exited: its CPU time comes from its own report.
  const foreignCores = cpu!.foreignCores(result.cpuMs);
  const get = await run.gets.window(result.startEpochMs, result.endEpochMs);
  const dbsizeAfter = await admin.dbsize();
  if (result.count !== data.matching) {
    throw new Error(`${variant} reported ${result.count} keys, expected ${data.matching}`);
  }
  if (isFlush(variant)) {
    const left = await dataset.countTargetKeys(admin, data);
    if (left !== 0) throw new Error(`${variant} left ${left} of the target device's keys`);
    const removed = dbsizeBefore - dbsizeAfter;
    const message = `${variant} removed ${removed} keys in all, expected ${data.matching}: it deleted other keys`;
    check(run, removed === data.matching, message);
  } else {
    const message = `DBSIZE changed from ${dbsizeBefore} to ${dbsizeAfter} during ${variant}`;
    check(run, dbsizeAfter === dbsizeBefore, message);
  }
  return { result, get, dbsizeBefore, dbsizeAfter, foreignCores };
}

const describeGets = (get: GetLatency) =>
  `GET p50 ${formatMs(get.p50Ms)} p99 ${formatMs(get.p99Ms)} max ${formatMs(get.maxMs)} ms`;

/** One round's run of `variant`, measured again if other work took CPU meanwhile. */
export async function measureOperation(
  run: Run,
  variant: BulkVariant,
  round: number,
  /** Its place in the round's order (each pair's order alternates between rounds). */
  position: number,
) {
  // Without the pid of a Redis on this machine its CPU would read as foreign: no retries then.
  const retries = run.redis.pid !== undefined ? run.load.retries : 0;
  const { result, attempts, ...checked } = await measureQuietly(
    run.load,
    [],
    variant,
    () => runWorker(run, variant),
    { wait: false, retries },
  );
  const measured = {
    ...result,
    round,
    position,
    expected: run.data.matching,
    /** The GETs the other client sent, DBSIZE before and after, and other work's CPU in cores. */
    ...checked,
    /** Highest RSS (and heapUsed) during the operation minus right before it (after a GC). */
    rssPeakDeltaMiB: toMiB(result.rssPeakBytes - result.rssBeforeBytes),
    heapUsedPeakDeltaMiB: toMiB(result.heapUsedPeakBytes - result.heapUsedBeforeBytes),
    attempts,
  };
  const { get } = measured;
  console.log(
    `round ${round}/${run.rounds} ${variant.padEnd(18)} ${formatMs(result.ms).padStart(7)} ms  ${formatInt(result.count)} keys` +
      `  ${describeGets(get)} (${get.gets})` +
      `  peak RSS +${measured.rssPeakDeltaMiB.toFixed(1)} MiB, heap +${measured.heapUsedPeakDeltaMiB.toFixed(1)} MiB` +
      `  CPU ${formatMs(result.opCpuMs)} ms  other load ${measured.foreignCores.toFixed(2)}`,
  );
  return measured;
}

/** The GETs of an idle window (no operation running), once other work has quietened. */
async function idleWindow(run: Run, round: number): Promise<GetLatency> {
  await waitForQuiet(
    [run.redis.pid, run.gets.pid],
    run.load.quietCores,
    run.load.maxWaitS * 1000,
    (cores) => console.log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
  );
  const start = epochNow();
  await sleep(run.idleWindowMs);
  const get = await run.gets.window(start, epochNow());
  console.log(`round ${round}/${run.rounds} idle               ${describeGets(get)}`);
  return get;
}

/** Fills the database, checked by DBSIZE and a SCAN. */
async function fill(admin: Redis, data: BulkDataset, foreignKeys: number): Promise<number> {
  const started = performance.now();
  await dataset.populate(admin, data);
  const populateS = (performance.now() - started) / 1000;
  const size = await admin.dbsize();
  console.log(`Filled ${formatInt(size - foreignKeys)} keys in ${populateS.toFixed(1)} s`);
  if (foreignKeys === 0 && size !== data.totalKeys) {
    throw new Error(`DBSIZE is ${size} after filling, expected ${data.totalKeys}`);
  }
  // Untimed: a full SCAN brings the table into memory, and checks the count loop's pattern.
  const pattern = `/${data.statsApp}/${data.statsDevice}/*`;
  const { count: warm } = await dataset.scanCount(admin, pattern);
  if (warm !== data.matching) {
    throw new Error(`Warm-up SCAN counted ${warm}, expected ${data.matching}`);
  }
  return populateS;
}

/** The run's settings, as the report records them (the database's come once it is filled). */
function settingsFrom(args: Args, command: string) {
  const quick = args.flag('quick');
  const { quietCores, maxForeignCores, retries, nodeArgs, pin } = loadControlFrom(args);
  return {
    mode: quick ? ('quick' as const) : ('default' as const),
    rounds: args.number('rounds', quick ? 1 : 7),
    totalKeys: args.number('keys', quick ? 50_000 : 1_000_000),
    matching: args.number('matching', quick ? 1_000 : 10_000),
    fillerApps: dataset.FILLER_APPS,
    targetApps: dataset.TARGET_APPS,
    valueBytes: dataset.FILLER_VALUE.length,
    scanCount: dataset.SCAN_COUNT,
    getConcurrency: args.number('get-concurrency', 16),
    getRatePerS: args.number('get-rate', 4000),
    idleWindowMs: quick ? 500 : 1000,
    ...{ quietCores, maxForeignCores, retries, nodeArgs },
    pinning: describePinning(pin, 'worker and GET load'),
    command,
  };
}

/** Idle GETs, then each pair's module operation and loop (module first in odd rounds). */
async function runRounds(run: Run) {
  const measured = BULK_VARIANTS.map((variant) => ({
    variant,
    baseline: BULK_PAIRS.find((pair) => pair.module === variant)?.baseline,
    rounds: [] as BulkRound[],
  }));
  const idle: { round: number; get: GetLatency }[] = [];
  for (let round = 1; round <= run.rounds; round++) {
    idle.push({ round, get: await idleWindow(run, round) });
    const order = BULK_PAIRS.flatMap(({ module, baseline }) =>
      round % 2 === 1 ? [module, baseline] : [baseline, module],
    );
    for (const [index, variant] of order.entries()) {
      const row = measured.find((r) => r.variant === variant)!;
      row.rounds.push(await measureOperation(run, variant, round, index + 1));
    }
  }
  return { idle, rows: summariseBulk(measured) };
}

/** Runs the benchmark (against `redis` if given, left running) and returns its section. */
export async function runBulkBenchmark(
  args: Args,
  given?: BenchRedis,
  command = benchCommand('bench:bulk'),
) {
  const settings = settingsFrom(args, command);
  const { rounds, totalKeys, matching, getConcurrency, getRatePerS } = settings;
  const load = loadControlFrom(args);
  const dbArg = args.string('db');
  if (dbArg !== undefined && !/^\d+$/.test(dbArg))
    throw new Error('--db must be a database number (0, 1, ...)');
  const measuredSrc = srcCommit();
  const data = dataset.planDataset(totalKeys, matching);

  const redis = given ?? (await acquireBenchRedis());
  let admin: Redis | undefined;
  let gets: GetLoad | undefined;
  let wrote = false;
  const cleanup = (cleanupInProgress = async () => {
    cleanupInProgress = undefined;
    await gets?.stop();
    // A server this run started goes with its data; in anyone else's, remove exactly our keys.
    if (admin && wrote && !redis.owned) {
      const removed = await dataset.removeTagged(admin, data.tag);
      console.log(`Removed the ${formatInt(removed)} keys this run wrote`);
    }
    admin?.disconnect();
    if (!given) await redis.release();
  });
  try {
    const requested = dbArg === undefined ? undefined : Number(dbArg);
    const allowShared = args.flag('allow-shared');
    const { db, foreignKeys } = await chooseDatabase(redis.url, requested, allowShared);
    admin = new Redis(redis.url, { db, lazyConnect: true });
    await admin.connect();
    const redisVersion = await redis.version();
    pinSupport(load.pin, redis);
    console.log(
      `Redis ${redisVersion} at ${redact(redis.url)} db ${db}; ${formatInt(totalKeys)} keys, ${formatInt(matching)} matching; ` +
        `${rounds} round(s); GET load ${getConcurrency} loops, ${formatInt(getRatePerS)}/s; ${settings.pinning}`,
    );
    wrote = true;
    const populateS = await fill(admin, data, foreignKeys);
    const { tag, fillerKeys } = data;
    const [concurrency, rate] = [getConcurrency, getRatePerS];
    gets = await startGetLoad({
      url: redis.url,
      db,
      tag,
      fillerKeys,
      concurrency,
      rate,
      pin: load.pin,
    });
    // Let the load settle (connection, JIT) before the first window.
    await sleep(500);
    await gets.window(epochNow() - 500, epochNow());
    const { idle, rows } = await runRounds({
      ...{ rounds, idleWindowMs: settings.idleWindowMs, db, load, redis, admin, data, gets },
      expectedSize: foreignKeys + totalKeys,
      strict: foreignKeys === 0,
    });
    return {
      settings: { ...settings, db, foreignKeys, populateS },
      environment: describeEnvironment(
        [{ major: process.versions.node.split('.')[0], version: process.version }],
        { version: redisVersion, owned: redis.owned },
        measuredSrc,
      ),
      descriptions: { ...BULK_VARIANT_DESCRIPTIONS },
      targets: { flushRatioMax: FLUSH_RATIO_TARGET, getP99MsMax: GET_P99_TARGET_MS },
      idle,
      rows,
    };
  } finally {
    await cleanup();
  }
}

async function main(): Promise<void> {
  const args = bulkArgs();
  const section = await runBulkBenchmark(args);
  console.log(`\n${renderBulk(section)}`);
  await writeBulkReport(outDirOf(args), section);
}

if (require.main === module) runBenchmark(main, async () => cleanupInProgress?.());
