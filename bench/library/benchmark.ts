// The library benchmark as a function, for bench/library/run.ts and a top-level report.
//
// Per round and Node version: every variant's worker (bench/library/worker.ts) is started fresh,
// pinned to cpu 0, and warmed up; then the workers take turns in slices, the order rotating every
// cycle, until each has been measured `durationS`. Before each slice the orchestrator waits for a
// quiet machine; a slice during which other work took too much CPU is measured again.
import { cpuWindow, waitForQuiet } from '../support/cpu';
import { describeEnvironment, installedVersion, srcCommit } from '../support/environment';
import { resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { benchScript } from '../support/paths';
import {
  describePinning,
  pinnedCommand,
  pinningAvailable,
  pinProcess,
  SUPPORT_CPU,
} from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import type { LoadControl } from '../support/run-control';
import { formatInt, rotate } from '../support/stats';
import { evaluateTargets, summarise } from './report';
import type { LibraryRound, LibraryRow, LibrarySection } from './report';
import {
  describeClient,
  describeVariant,
  LIBRARY_CLIENTS,
  LIBRARY_VARIANTS,
  parseVariant,
} from './variants';
import type { LibraryClient, LibraryVariant, WorkerResult, WorkerSlice } from './variants';
import { WorkerProcess } from './worker-process';

export interface LibraryOptions {
  /** 1 round, 1 s per variant: a smoke test, not a measurement. */
  quick?: boolean;
  /** @default 3 (quick: 1) */
  rounds?: number;
  /** Measured seconds per variant and round. @default 5 (quick: 1) */
  durationS?: number;
  /** @default 1 (quick: 0.5) */
  sliceS?: number;
  /** @default 2 (quick: 0.5) */
  warmupS?: number;
  /** Operations in flight per worker. @default 64 */
  concurrency?: number;
  /** Node majors the workers run on ('20', '24'). @default ['20'] */
  nodes?: readonly string[];
  /** @default every variant */
  variants?: readonly LibraryVariant[];
  /** Quiet-machine checks and pinning; defaults as `loadControlFrom` gives them. */
  load?: Partial<LoadControl>;
  /** A Redis to use (left running); else one is acquired (REDIS_URL or a fresh redis-server). */
  redis?: BenchRedis;
  /** The command line the report shows. */
  command?: string;
  log?: (line: string) => void;
}

interface Settings extends LoadControl {
  rounds: number;
  durationS: number;
  sliceS: number;
  warmupS: number;
  concurrency: number;
}

/** Versions of the packages measured here, beside those `describeEnvironment` lists. */
const LIBRARY_PACKAGES = [
  'ioredis',
  'prom-client',
  '@nestjs/cache-manager',
  'cache-manager',
  'keyv',
  '@keyv/redis',
  '@redis/client',
];

function settingsFrom(options: LibraryOptions): Settings {
  const quick = options.quick ?? false;
  return {
    rounds: options.rounds ?? (quick ? 1 : 3),
    durationS: options.durationS ?? (quick ? 1 : 5),
    sliceS: options.sliceS ?? (quick ? 0.5 : 1),
    warmupS: options.warmupS ?? (quick ? 0.5 : 2),
    concurrency: options.concurrency ?? 64,
    nodeArgs: options.load?.nodeArgs ?? [],
    quietCores: options.load?.quietCores ?? 0.2,
    maxWaitS: options.load?.maxWaitS ?? (quick ? 10 : 300),
    maxForeignCores: options.load?.maxForeignCores ?? 0.3,
    retries: options.load?.retries ?? (quick ? 0 : 2),
    pin: options.load?.pin ?? pinningAvailable(),
  };
}

/** A started worker and what the orchestrator saw of its slices. */
interface RunningWorker {
  variant: LibraryVariant;
  worker: WorkerProcess;
  position: number;
  slices: (WorkerSlice & { foreignCores: number })[];
  redone: number;
}

/** Cleanups of runs in progress, for `abortLibraryBenchmark` (Ctrl-C). */
const inProgress = new Set<() => Promise<void>>();

/** Stops the workers of any run in progress and the Redis it started (for a SIGINT handler). */
export async function abortLibraryBenchmark(): Promise<void> {
  await Promise.all([...inProgress].map((cleanup) => cleanup()));
}

export async function runLibraryBenchmark(options: LibraryOptions = {}): Promise<LibrarySection> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = settingsFrom(options);
  const variants = LIBRARY_VARIANTS.filter(
    (v) => !options.variants || options.variants.includes(v),
  );
  if (variants.length === 0) throw new Error('No library variant to run');
  const nodes = resolveNodes(options.nodes ?? ['20']);

  // The src/ this run measures: bench/dist was compiled from it just before.
  const measuredSrc = srcCommit();
  const redis = options.redis ?? (await acquireBenchRedis());
  const live = new Set<WorkerProcess>();
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await Promise.all([...live].map((worker) => worker.kill()));
      if (!options.redis) await redis.release();
    })());
  inProgress.add(cleanup);
  try {
    const redisVersion = await redis.version();
    if (settings.pin) {
      pinProcess(process.pid, SUPPORT_CPU);
      if (redis.pid !== undefined) pinProcess(redis.pid, SUPPORT_CPU);
    }
    log(
      `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ` +
        `${settings.rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
        `${settings.concurrency} in flight; ${describePinning(settings.pin, 'worker')}`,
    );

    const measured: Omit<LibraryRow, 'summary'>[] = nodes.flatMap((node) =>
      variants.map((variant) => ({
        nodeMajor: node.major,
        nodeVersion: node.version,
        variant,
        ...parseVariant(variant),
        rounds: [],
      })),
    );

    for (let round = 1; round <= settings.rounds; round++) {
      for (const node of nodes) {
        const results = await runRound(node, variants, round - 1, settings, redis, live, log);
        for (const { running, result, round: figures } of results) {
          const row = measured.find(
            (r) => r.nodeMajor === node.major && r.variant === running.variant,
          )!;
          row.rounds.push({ round, ...figures });
          const wrong = result.unexpected + result.errors;
          log(
            `round ${round}/${settings.rounds} node ${node.major} ${running.variant.padEnd(32)} ${formatInt(result.opsPerSec).padStart(8)} ops/s` +
              `  p50 ${result.p50Us.toFixed(0)} µs p99 ${result.p99Us.toFixed(0)} µs  ${result.cpuUsPerOp.toFixed(2)} µs CPU/op, ${result.cores.toFixed(2)} cores` +
              `  other load ${figures.foreignCores.toFixed(2)}` +
              (wrong > 0 ? `  (${result.unexpected} unexpected, ${result.errors} errors)` : ''),
          );
        }
      }
    }
    const rows = summarise(measured);

    const usedClients = LIBRARY_CLIENTS.filter((c) => rows.some((r) => r.client === c));
    const environment = describeEnvironment(
      nodes,
      { version: redisVersion, owned: redis.owned },
      measuredSrc,
    );
    for (const name of LIBRARY_PACKAGES) environment.packages[name] = installedVersion(name);
    return {
      settings: {
        mode: options.quick ? 'quick' : 'default',
        rounds: settings.rounds,
        durationS: settings.durationS,
        sliceS: settings.sliceS,
        warmupS: settings.warmupS,
        concurrency: settings.concurrency,
        valueBytes: Buffer.byteLength(BENCH_VALUE),
        quietCores: settings.quietCores,
        maxForeignCores: settings.maxForeignCores,
        retries: settings.retries,
        pinning: describePinning(settings.pin, 'each worker'),
        command: options.command ?? 'node bench/dist/bench/library/run.js',
      },
      environment,
      clients: Object.fromEntries(usedClients.map((c) => [c, describeClient(c)])) as Record<
        LibraryClient,
        string
      >,
      descriptions: Object.fromEntries(variants.map((v) => [v, describeVariant(v)])),
      rows,
      targets: evaluateTargets(rows),
    };
  } finally {
    await cleanup();
    inProgress.delete(cleanup);
  }
}

/** One round on one Node: all workers up and warm, then interleaved slices, then their results. */
async function runRound(
  node: NodeRuntime,
  variants: readonly LibraryVariant[],
  offset: number,
  settings: Settings,
  redis: BenchRedis,
  live: Set<WorkerProcess>,
  log: (line: string) => void,
): Promise<{ running: RunningWorker; result: WorkerResult; round: Omit<LibraryRound, 'round'> }[]> {
  await redis.seed();
  const workers: RunningWorker[] = [];
  try {
    for (const [index, variant] of rotate(variants, offset).entries()) {
      const { worker } = await WorkerProcess.start(
        ...pinnedCommand(settings.pin, node.binary, [
          ...settings.nodeArgs,
          benchScript('library/worker.js'),
          '--variant',
          variant,
          '--redis',
          redis.url,
          '--warmup',
          String(settings.warmupS),
          '--concurrency',
          String(settings.concurrency),
        ]),
        variant,
      );
      live.add(worker);
      workers.push({ variant, worker, position: index + 1, slices: [], redone: 0 });
    }
    const pids = workers.map((w) => w.worker.pid);
    const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (const target of rotate(workers, cycle)) {
        await quietSlice(target, settings, [redis.pid, ...pids], log);
      }
    }
    const results: {
      running: RunningWorker;
      result: WorkerResult;
      round: Omit<LibraryRound, 'round'>;
    }[] = [];
    for (const running of workers) {
      const result = await running.worker.finish();
      live.delete(running.worker);
      check(running, result);
      results.push({ running, result, round: roundFigures(running, result) });
    }
    // Report order: the variants' own order, not the round's starting order.
    return variants.map((variant) => results.find((r) => r.running.variant === variant)!);
  } finally {
    for (const { worker } of workers) {
      if (live.delete(worker)) await worker.kill();
    }
  }
}

/** One measured slice, measured again when other work took too much CPU meanwhile. */
async function quietSlice(
  target: RunningWorker,
  settings: Settings,
  ownPids: readonly (number | undefined)[],
  log: (line: string) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await waitForQuiet(ownPids, settings.quietCores, settings.maxWaitS * 1000, (cores) =>
      log(`  waiting: other work is using ${cores.toFixed(2)} cores`),
    );
    const cpu = cpuWindow(ownPids);
    const slice = await target.worker.slice(settings.sliceS * 1000);
    const foreignCores = cpu.foreignCores();
    const keep = foreignCores <= settings.maxForeignCores || attempt > settings.retries;
    target.worker.settle(keep);
    if (keep) {
      target.slices.push({ ...slice, foreignCores });
      return;
    }
    target.redone++;
    log(
      `  ${target.variant}: other work took ${foreignCores.toFixed(2)} cores meanwhile; measuring the slice again`,
    );
  }
}

/** A worker's result must be what it was asked to do, and agree with the slices kept. */
function check(running: RunningWorker, result: WorkerResult): void {
  const keptOps = running.slices.reduce((sum, s) => sum + s.ops, 0);
  if (result.ops === 0) throw new Error(`${running.variant}: no operation completed`);
  if (result.ops !== keptOps) {
    throw new Error(
      `${running.variant}: worker kept ${result.ops} operations, slices say ${keptOps}`,
    );
  }
  if (result.metricsCount !== undefined && !(result.metricsCount >= result.ops)) {
    throw new Error(
      `${running.variant}: the module's metrics counted ${result.metricsCount} operations, fewer than the ${result.ops} measured`,
    );
  }
}

function roundFigures(running: RunningWorker, result: WorkerResult): Omit<LibraryRound, 'round'> {
  return {
    position: running.position,
    opsPerSec: result.opsPerSec,
    ops: result.ops,
    seconds: result.seconds,
    p50Us: result.p50Us,
    p99Us: result.p99Us,
    meanUs: result.meanUs,
    cpuUsPerOp: result.cpuUsPerOp,
    workerCores: result.cores,
    unexpected: result.unexpected,
    errors: result.errors,
    ...(result.metricsCount !== undefined && { metricsCount: result.metricsCount }),
    slicesOpsPerSec: running.slices.map((s) => Math.round(s.opsPerSec)),
    foreignCores: Math.max(...running.slices.map((s) => s.foreignCores)),
    attempts: 1 + running.redone,
  };
}
