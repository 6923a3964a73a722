// Library throughput and latency, 64 operations in flight, 200-byte values, hits, misses and sets:
// this module's ContextualCache (metrics on), raw ioredis (auto-pipelining off and on) and
// @nestjs/cache-manager on @keyv/redis.
//   npx tsc -p bench/tsconfig.json && node bench/dist/bench/library/run.js [--quick]
//
// Per round and Node version: every variant's worker (bench/library/worker.ts) is started fresh,
// pinned to cpu 0, and warmed up; then the workers take turns in slices, the order rotating every
// cycle, until each has been measured --duration. Writes library.json and library.md into --out
// (default bench/results/, git-ignored); the suite (bench/run.ts) calls runLibraryBenchmark.
// Options: --quick (1 round, 1 s per variant in 0.5 s slices), --rounds N (3), --duration S (5),
// --slice S (1), --warmup S (2), --concurrency N (64), --nodes 20,24 (20), --variants a,b,
// --out DIR, --node-args="--cpu-prof --cpu-prof-dir=DIR" (per worker), --quiet-cores 0.2,
// --max-wait S, --max-foreign-cores 0.3, --retries N (per slice), --no-pin
import { join } from 'node:path';
import type { Args } from '../support/args';
import { Child } from '../support/child';
import { cpuWindow, measureQuietly } from '../support/cpu';
import { describeEnvironment, installedVersion, srcCommit } from '../support/environment';
import { NODE_MAJORS, resolveNodes } from '../support/nodes';
import type { NodeRuntime } from '../support/nodes';
import { benchScript, repoRoot } from '../support/paths';
import { describePinning, pinnedCommand, pinSupport } from '../support/pin';
import { acquireBenchRedis, BENCH_VALUE } from '../support/redis';
import type { BenchRedis } from '../support/redis';
import { sumOf } from '../support/report';
import { benchArgs, benchCommand, loadControlFrom, runBenchmark } from '../support/run-control';
import type { LoadControl } from '../support/run-control';
import { formatInt, max, rotate } from '../support/stats';
import {
  consoleSummary,
  evaluateTargets,
  renderLibrary,
  summarise,
  writeLibraryReport,
} from './report';
import type { LibraryRound } from './report';
import {
  describeClient,
  describeVariant,
  LIBRARY_CLIENTS,
  LIBRARY_VARIANTS,
  parseVariant,
} from './variants';
import type {
  LibraryClient,
  LibraryVariant,
  WorkerReady,
  WorkerResult,
  WorkerSlice,
} from './variants';

export const libraryArgs = (argv?: readonly string[]) =>
  benchArgs(
    [],
    ['rounds', 'duration', 'slice', 'warmup', 'concurrency', 'nodes', 'variants'],
    argv,
  );

interface Settings {
  rounds: number;
  durationS: number;
  sliceS: number;
  warmupS: number;
  concurrency: number;
  load: LoadControl;
}

/** Versions of the packages measured here, beside those `describeEnvironment` lists. */
const LIBRARY_PACKAGES = [
  'prom-client',
  '@nestjs/cache-manager',
  'cache-manager',
  'keyv',
  '@keyv/redis',
  '@redis/client',
];

/** A started worker and the slices it kept. */
interface Worker {
  variant: LibraryVariant;
  child: Child;
  position: number;
  slices: (WorkerSlice & { foreignCores: number; attempts: number })[];
}

/** Workers still running, for Ctrl-C. */
const live = new Set<Child>();

/** Runs the benchmark (against `redis` if given, left running) and returns its section. */
export async function runLibraryBenchmark(
  args: Args,
  given?: BenchRedis,
  command = benchCommand('bench:library'),
) {
  const quick = args.flag('quick');
  const settings: Settings = {
    rounds: args.number('rounds', quick ? 1 : 3),
    durationS: args.number('duration', quick ? 1 : 5),
    sliceS: args.number('slice', quick ? 0.5 : 1),
    warmupS: args.number('warmup', quick ? 0.5 : 2),
    concurrency: args.number('concurrency', 64),
    load: loadControlFrom(args),
  };
  const variants = args.list('variants', LIBRARY_VARIANTS, LIBRARY_VARIANTS);
  const nodes = resolveNodes(args.list('nodes', ['20'], NODE_MAJORS));
  // The src/ this run measures: bench/dist was compiled from it just before.
  const measuredSrc = srcCommit();
  const redis = given ?? (await acquireBenchRedis());
  try {
    const redisVersion = await redis.version();
    const { load } = settings;
    pinSupport(load.pin, redis.pid);
    console.log(
      `Redis ${redisVersion} at ${redis.url}; ${nodes.map((n) => n.version).join(', ')}; ` +
        `${settings.rounds} round(s) × ${variants.length} variants, ${settings.warmupS} s warm-up + ${settings.durationS} s each in ${settings.sliceS} s slices, ` +
        `${settings.concurrency} in flight; ${describePinning(load.pin, 'worker')}`,
    );
    const measured = nodes.flatMap((node) =>
      variants.map((variant) => ({
        nodeMajor: node.major,
        nodeVersion: node.version,
        variant,
        ...parseVariant(variant),
        rounds: [] as LibraryRound[],
      })),
    );
    for (let round = 1; round <= settings.rounds; round++) {
      for (const node of nodes) {
        for (const [variant, figures] of await runRound(node, variants, round, settings, redis)) {
          measured
            .find((r) => r.nodeMajor === node.major && r.variant === variant)!
            .rounds.push(figures);
          const wrong = figures.unexpected + figures.errors;
          console.log(
            `round ${round}/${settings.rounds} node ${node.major} ${variant.padEnd(32)} ${formatInt(figures.opsPerSec).padStart(8)} ops/s` +
              `  p50 ${figures.p50Us.toFixed(0)} µs p99 ${figures.p99Us.toFixed(0)} µs  ${figures.cpuUsPerOp.toFixed(2)} µs CPU/op, ${figures.cores.toFixed(2)} cores` +
              `  other load ${figures.foreignCores.toFixed(2)}` +
              (wrong > 0 ? `  (${figures.unexpected} unexpected, ${figures.errors} errors)` : ''),
          );
        }
      }
    }
    const rows = summarise(measured);
    const environment = describeEnvironment(
      nodes,
      { version: redisVersion, owned: redis.owned },
      measuredSrc,
    );
    for (const name of LIBRARY_PACKAGES) environment.packages[name] = installedVersion(name);
    const usedClients = LIBRARY_CLIENTS.filter((c) => rows.some((r) => r.client === c));
    return {
      settings: {
        ...settings,
        ...load,
        mode: quick ? ('quick' as const) : ('default' as const),
        valueBytes: Buffer.byteLength(BENCH_VALUE),
        pinning: describePinning(load.pin, 'each worker'),
        command,
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
    await abortLibraryBenchmark();
    if (!given) await redis.release();
  }
}

/** Kills the workers of a run in progress (on failure or Ctrl-C). */
export async function abortLibraryBenchmark(): Promise<void> {
  await Promise.all([...live].map((child) => child.kill()));
  live.clear();
}

/** One round on one Node: all workers up and warm, then interleaved slices, then their results. */
async function runRound(
  node: NodeRuntime,
  variants: readonly LibraryVariant[],
  round: number,
  settings: Settings,
  redis: BenchRedis,
): Promise<[LibraryVariant, LibraryRound][]> {
  await redis.seed();
  const { load } = settings;
  const workers: Worker[] = [];
  for (const [index, variant] of rotate(variants, round - 1).entries()) {
    const { child } = await Child.ready<WorkerReady>(
      ...pinnedCommand(load.pin, node.binary, [
        ...load.nodeArgs,
        benchScript('library/worker.js'),
        ...['--variant', variant, '--redis', redis.url],
        ...['--warmup', String(settings.warmupS), '--concurrency', String(settings.concurrency)],
      ]),
      { label: variant, stdin: true, echo: true },
    );
    live.add(child);
    workers.push({ variant, child, position: index + 1, slices: [] });
  }
  const ownPids = [redis.pid, ...workers.map((w) => w.child.pid)];
  const cycles = Math.max(1, Math.round(settings.durationS / settings.sliceS));
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const worker of rotate(workers, cycle)) {
      const slice = await measureQuietly(
        load,
        ownPids,
        worker.variant,
        async () => {
          const cpu = cpuWindow(ownPids);
          worker.child.send(`RUN ${Math.round(settings.sliceS * 1000)}`);
          const figures = JSON.parse(
            await worker.child.next('SLICE', settings.sliceS * 1000 + 30_000),
          ) as WorkerSlice;
          return { ...figures, foreignCores: cpu.foreignCores() };
        },
        // The worker adds a slice to its result only when told KEEP.
        { discard: () => worker.child.send('DROP') },
      );
      worker.child.send('KEEP');
      worker.slices.push(slice);
    }
  }
  const results = new Map<LibraryVariant, LibraryRound>();
  for (const worker of workers) {
    worker.child.send('END');
    const result = JSON.parse(await worker.child.next('RESULT', 30_000)) as WorkerResult;
    await worker.child.finished();
    live.delete(worker.child);
    results.set(worker.variant, roundFigures(worker, result, round));
  }
  // Report order: the variants' own order, not the round's starting order.
  return variants.map((variant) => [variant, results.get(variant)!]);
}

/** A worker's result must agree with the slices kept (and the module's metrics with both). */
function roundFigures(worker: Worker, result: WorkerResult, round: number): LibraryRound {
  const keptOps = sumOf(worker.slices, (s) => s.ops);
  if (result.ops === 0) throw new Error(`${worker.variant}: no operation completed`);
  if (result.ops !== keptOps) {
    throw new Error(
      `${worker.variant}: worker kept ${result.ops} operations, slices say ${keptOps}`,
    );
  }
  if (result.metricsCount !== undefined && !(result.metricsCount >= result.ops)) {
    throw new Error(
      `${worker.variant}: the module's metrics counted ${result.metricsCount} operations, fewer than the ${result.ops} measured`,
    );
  }
  return {
    round,
    position: worker.position,
    ...result,
    slicesOpsPerSec: worker.slices.map((s) => Math.round(s.opsPerSec)),
    foreignCores: max(worker.slices.map((s) => s.foreignCores)),
    attempts: 1 + sumOf(worker.slices, (s) => s.attempts - 1),
  };
}

async function main(): Promise<void> {
  const args = libraryArgs();
  const section = await runLibraryBenchmark(args);
  console.log(`\n${renderLibrary(section)}\n${consoleSummary(section)}`);
  await writeLibraryReport(args.string('out') ?? join(repoRoot, 'bench/results'), section);
}

// Run only as the entry point: the suite imports this module for runLibraryBenchmark.
if (require.main === module) runBenchmark(main, abortLibraryBenchmark);
